"""The ``teacher_md`` and ``student_fit`` job modules, run as the CalcJobs run them (``python -m ... job.json``)."""

import json
import subprocess
import sys

import pytest

from aiida_gaprss.data.extxyz import read_frames


def _run_job(task, folder, parameters):
    (folder / 'job.json').write_text(json.dumps({'parameters': parameters}))
    result = subprocess.run([sys.executable, '-m', f'aiida_gaprss.jobs.{task}', 'job.json'], cwd=folder,
                            capture_output=True, text=True, check=False)  # fmt: skip
    status = json.loads((folder / '_status.json').read_text())
    return result.returncode, status


def _frames(path):
    with open(path, encoding='utf-8') as handle:
        return list(read_frames(handle))


def test_teacher_md_then_student_fit(tmp_path):
    md_dir = tmp_path / 'md'
    md_dir.mkdir()
    overrides = {
        'natoms': 16, 'timestep_fs': 2.0, 'update_every': 5, 'snapshot_every': 10, 'barostat': 'mtk',
        'compression': {'thermalise_ps': 0.02, 'ramp_ps': 0.06},
    }  # fmt: skip
    code, status = _run_job('teacher_md', md_dir, {
        'calculator': {'type': 'sw_si'}, 'seed': 3, 'protocol': 'fast', 'overrides': overrides,
        'runs': ['compression'], 'repeats': 2,
    })  # fmt: skip
    assert code == 0, status
    snapshots = _frames(md_dir / 'snapshots.xyz')
    assert len(snapshots) == 2 * (1 + 40 // 10)
    assert {atoms.info['trajectory_id'] for atoms in snapshots} == {0, 1}
    assert snapshots[-1].info['pressure_target'] == pytest.approx(20.0)
    assert snapshots[-1].info['origin'] == 'compression:1:step40'
    assert 'forces' in snapshots[-1].arrays and 'virial' in snapshots[-1].info
    report = json.loads((md_dir / 'report.json').read_text())
    assert [run['num_snapshots'] for run in report['runs']] == [5, 5]
    assert len(_frames(md_dir / 'final.xyz')) == 2

    fit_dir = tmp_path / 'fit'
    fit_dir.mkdir()
    (fit_dir / 'train.xyz').write_text((md_dir / 'snapshots.xyz').read_text())
    (fit_dir / 'test.xyz').write_text((md_dir / 'final.xyz').read_text())
    code, status = _run_job('student_fit', fit_dir, {
        'structures': 'train.xyz', 'levels': [2, 6], 'seed': 1, 'max_iter': 5,
        'test_sets': {'final': 'test.xyz'}, 'speed_structure': 'test.xyz',
    })  # fmt: skip
    assert code == 0, status
    report = json.loads((fit_dir / 'report.json').read_text())
    assert set(report['students']) == {'2', '6'}
    six = report['students']['6']
    assert (fit_dir / six['folder'] / 'student.mtp').is_file()
    assert six['test_errors']['final']['num_structures'] == 2
    assert six['seconds_per_atom_step'] > 0
    assert six['weights'] == [10.0, 1.0, 0.01]


def test_jobs_report_bad_parameters(tmp_path):
    code, status = _run_job('teacher_md', tmp_path, {'calculator': {'type': 'sw_si'}, 'seed': 1, 'runs': ['melt']})
    assert code == 1 and "parameters['runs']" in status['error']
    code, status = _run_job('student_fit', tmp_path, {'structures': 'x.xyz', 'seed': 1})
    assert code == 1 and "parameters['levels']" in status['error']
