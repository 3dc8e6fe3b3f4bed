"""Failures at run time (issue 9, item 5), where a test is all that is needed or all that can be given today.

A relaxation job killed part-way (walltime, OOM killer, ``scancel``) leaves the frames it finished, so the iteration
can still select from them: ``aiida_gaprss.jobs.relax_batch`` appends every finished trajectory to ``output.xyz`` and
flushes it at once. The test below kills the real job (no AiiDA, the job module itself, a real GAP) after a few
seconds and reads back the finished trajectories with the parser's reader; the AiiDA side (parser, restart work chain)
is tested in ``tests/workflows/test_relax_restart.py``.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from aiida_gaprss.data.extxyz import write_frames
from aiida_gaprss.parsers.structure_job import complete_trajectories
from aiida_gaprss.rss.generation import generate_random_cells

TINY_GAP = pathlib.Path(__file__).parent / 'fixtures' / 'tiny_gap'


@pytest.mark.slow  # 10-60 s of a real job
@pytest.mark.ci_slow
@pytest.mark.parametrize('processes', [1, 2])
def test_relaxation_job_killed_part_way_keeps_finished_frames(tmp_path, processes):
    cells = generate_random_cells(200, 'Si', seed=3, natoms=(4, 8))
    with open(tmp_path / 'structures.xyz', 'w', encoding='utf-8') as handle:
        write_frames(handle, cells)
    potential = tmp_path / 'potential'
    potential.mkdir()
    for path in TINY_GAP.iterdir():
        (potential / path.name).write_bytes(path.read_bytes())
    parameters = {
        'structures': 'structures.xyz',
        'output': 'output.xyz',
        'report': 'report.json',
        'calculator': {'type': 'gap', 'xml': 'potential/gap.xml'},
        'seed': 1,
        'fmax': 1e-6,  # never converges: every cell runs all its steps
        'steps': 60,
        'processes': processes,  # 2: the job's pool workers must go with it
    }
    (tmp_path / 'job.json').write_text(json.dumps({'task': 'relax_batch', 'parameters': parameters}), encoding='utf-8')
    environment = {**os.environ, 'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}
    process = subprocess.Popen(  # noqa: S603 - a fixed argument list
        [sys.executable, '-m', 'aiida_gaprss.jobs.relax_batch', 'job.json'],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        output = tmp_path / 'output.xyz'
        while time.monotonic() < deadline:  # kill it as soon as a trajectory is finished (the machine may be loaded)
            time.sleep(0.5)
            if output.is_file() and complete_trajectories(output.read_text(encoding='utf-8')):
                break
        assert process.poll() is None, 'the job finished before it could be killed: make it longer'
        process.send_signal(signal.SIGTERM)  # what SLURM sends at the walltime, before SIGKILL
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGTERM  # the runner recorded the signal, it did not die of it
    time.sleep(1)
    assert not _processes_in(tmp_path), 'a process of the job outlived it'
    status = json.loads((tmp_path / '_status.json').read_text(encoding='utf-8'))
    assert status['state'] == 'killed' and 'SIGTERM' in status['error']
    assert not (tmp_path / 'report.json').exists()  # the job did not finish
    assert output.is_file(), 'no output.xyz: the frames of the finished trajectories are lost'
    frames = complete_trajectories(output.read_text(encoding='utf-8'))
    assert frames and all('energy' in frame.info and 'forces' in frame.arrays for frame in frames)
    finished = sorted({frame.info['trajectory_id'] for frame in frames if frame.info.get('final')})
    assert finished, 'no finished trajectory was kept'
    assert len(finished) < len(cells)  # it was killed part-way
    for trajectory in finished:  # every kept trajectory is whole: steps 0..n_steps, ending on its final frame
        kept = [frame for frame in frames if frame.info['trajectory_id'] == trajectory]
        assert [frame.info['step'] for frame in kept] == list(range(kept[-1].info['n_steps'] + 1))
        assert kept[-1].info['final'] and not any(frame.info['final'] for frame in kept[:-1])


def _processes_in(folder) -> list[int]:
    """Pids of the processes whose working directory is ``folder`` (the job and its workers)."""
    found = []
    for entry in os.scandir('/proc'):
        if entry.name.isdigit():
            try:
                if os.readlink(os.path.join(entry.path, 'cwd')) == str(folder):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_complete_trajectories_drops_a_trajectory_cut_by_the_kill():
    """A file cut anywhere (mid-line, mid-frame) gives back exactly the trajectories whose final frame is whole."""
    from aiida_gaprss.rss.relax import relax_structures

    cells = generate_random_cells(3, 'Si', seed=5, natoms=(2, 4))
    frames = relax_structures(cells, {'type': 'sw_si'}, 1.0, fmax=0.5, steps=4, processes=1, seed=0)
    text = io.StringIO()
    write_frames(text, frames)
    text = text.getvalue()
    last = [frame for frame in frames if frame.info['trajectory_id'] == 2]
    whole = complete_trajectories(text)
    assert len(whole) == len(frames)
    cut = complete_trajectories(text[: len(text) - 7])  # the last line cut mid-number
    assert len(cut) == len(frames) - len(last)
    assert {frame.info['trajectory_id'] for frame in cut} == {0, 1}
    assert complete_trajectories(text[:50]) == []
