"""Job ``teacher_md``: compression and/or melt--quench MD driven (and labelled) by the teacher potential.

Parameters (``job.json``, key ``parameters``):

``calculator`` (required)
    Calculator spec of :func:`aiida_gaprss.rss.potentials.calculator_from_spec` (``{'type': 'gap', 'xml': ...}``).
``seed`` (required)
    Seed of the random starts and of the MD; run ``i`` of a kind uses ``seed + 1000 * i``.
``protocol`` (default ``'fast'``) and ``overrides`` (default ``{}``)
    A preset of :data:`aiida_gaprss.rss.md.PROTOCOLS` and changes to it (see :func:`~aiida_gaprss.rss.md.get_protocol`).
``runs`` (default ``['compression']``)
    Any of ``'compression'``, ``'melt_quench'``, each optionally repeated via ``repeats`` (default 1).
``element`` (default ``'Si'``), ``structures`` (optional)
    Element of the random starts, or an extxyz file of start structures used in turn instead.
``output`` (default ``'snapshots.xyz'``), ``final`` (default ``'final.xyz'``), ``report`` (default ``'report.json'``)
    Output file names: all snapshots (teacher labels ``energy``/``forces``/``virial`` and MD ``info``), the final
    state of every run (also teacher-labelled: e.g. the melt-quenched cell), and the JSON report.

Every frame gets ``info['trajectory_id']`` (run index) and ``info['origin']`` = ``'<kind>:<run>:step<step>'``.
"""

from __future__ import annotations

import logging
import pathlib
import time

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.rss.md import compression_md, get_protocol, melt_quench
from aiida_gaprss.rss.potentials import calculator_from_spec

__all__ = ('run',)

LOGGER = logging.getLogger(__name__)

_KINDS = {'compression': compression_md, 'melt_quench': melt_quench}


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Run the requested MD runs; write snapshots, final states and a report."""
    parameters = content['parameters']
    if 'seed' not in parameters:
        raise ValueError("parameters['seed']: missing")
    seed = int(parameters['seed'])
    protocol = get_protocol(parameters.get('protocol', 'fast'), parameters.get('overrides') or {})
    kinds = parameters.get('runs', ['compression'])
    for kind in kinds:
        if kind not in _KINDS:
            raise ValueError(f"parameters['runs']: unknown run {kind!r}, expected some of {sorted(_KINDS)}")
    repeats = int(parameters.get('repeats', 1))
    if repeats < 1:
        raise ValueError("parameters['repeats']: expected a positive integer")
    starts = None
    if parameters.get('structures'):
        with open(workdir / parameters['structures'], encoding='utf-8') as handle:
            starts = list(read_frames(handle))
        if not starts:
            raise ValueError("parameters['structures']: no structures in the file")
    calculator = calculator_from_spec(parameters['calculator'])
    element = parameters.get('element', 'Si')

    snapshots, finals, runs = [], [], []
    index = 0
    for kind in kinds:
        for repeat in range(repeats):
            start_atoms = None if starts is None else starts[index % len(starts)]
            run_seed = seed + 1000 * index
            begin = time.perf_counter()
            final, frames = _KINDS[kind](calculator, protocol, element=element, seed=run_seed, atoms=start_atoms)
            wall = time.perf_counter() - begin
            steps = frames[-1].info['step'] if frames else 0
            for frame in frames + [final]:
                frame.info['trajectory_id'] = index
                frame.info['origin'] = f'{kind}:{index}:step{frame.info.get("step", steps)}'
            final.info['config_type'] = kind
            final.info['step'] = steps
            snapshots.extend(frames)
            finals.append(final)
            runs.append({
                'kind': kind, 'repeat': repeat, 'trajectory_id': index, 'seed': run_seed, 'num_atoms': len(final),
                'num_snapshots': len(frames), 'steps': steps, 'wall_time': wall,
                'atom_steps_per_second': len(final) * steps / wall if wall > 0 else None,
                'final_volume_per_atom': final.get_volume() / len(final), 'final_temperature': final.get_temperature(),
            })  # fmt: skip
            index += 1
    with open(workdir / parameters.get('output', 'snapshots.xyz'), 'w', encoding='utf-8') as handle:
        write_frames(handle, snapshots)
    with open(workdir / parameters.get('final', 'final.xyz'), 'w', encoding='utf-8') as handle:
        write_frames(handle, finals)
    report = {'protocol': protocol, 'num_snapshots': len(snapshots), 'runs': runs}
    write_json(workdir / parameters.get('report', 'report.json'), report)
    return {'num_snapshots': len(snapshots), 'num_runs': len(runs)}


if __name__ == '__main__':
    raise SystemExit(main(run))
