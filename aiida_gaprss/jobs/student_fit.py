"""Job ``student_fit``: fit one MTP student (motep) per level to teacher-labelled structures, and test it.

Parameters (``job.json``, key ``parameters``):

``structures`` (required)
    extxyz file of the training structures (teacher labels ``energy``, ``forces``, optional ``virial``).
``levels`` (required)
    List of MTP levels (even, 2--24); one student per level, in folder ``student_<level>/`` (``student.mtp``,
    ``student.json``).
``seed`` (required)
    Seed of the fits.
``cutoff`` (5.0), ``min_dist`` (1.5), ``weights`` ([10, 1, 0.01]), ``max_iter`` (500), ``tolerance`` (None),
``window`` (50)
    Fit settings (Angstrom; energy : force : stress weights; most L-BFGS-B iterations; stop when the loss fell by
    less than ``tolerance`` over ``window`` iterations, see :func:`aiida_gaprss.students.mtp.fit_student`).
``test_sets`` (optional)
    ``{name: extxyz file}`` of labelled test structures; each student is evaluated on each of them.
``speed_structure`` (optional)
    extxyz file whose first frame is used to time force calls (``seconds_per_atom_step``) of each student.
``report`` (default ``'report.json'``)
    JSON report: ``{'students': {str(level): {..settings.., 'test_errors': {name: metrics},
    'seconds_per_atom_step': s}}}``.
"""

from __future__ import annotations

import logging
import pathlib
import time

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.students.mtp import DEFAULT_WEIGHTS, error_metrics, evaluate, fit_student, student_calculator

__all__ = ('run', 'time_force_calls')

LOGGER = logging.getLogger(__name__)


def _read(path: pathlib.Path) -> list:
    with open(path, encoding='utf-8') as handle:
        return list(read_frames(handle))


def time_force_calls(atoms, calculator, *, repeats: int = 3) -> float:
    """Seconds per atom per force evaluation (best of ``repeats``, positions nudged between calls)."""
    atoms = atoms.copy()
    atoms.calc = calculator
    atoms.get_forces()
    best = float('inf')
    for repeat in range(repeats):
        atoms.positions[0, 0] += 1e-4 * (1 if repeat % 2 else -1)
        start = time.perf_counter()
        atoms.get_forces()
        best = min(best, time.perf_counter() - start)
    return best / len(atoms)


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Fit and test the students; write their folders and a report."""
    parameters = content['parameters']
    for key in ('structures', 'levels', 'seed'):
        if key not in parameters:
            raise ValueError(f'parameters[{key!r}]: missing')
    levels = parameters['levels']
    if not isinstance(levels, list) or not levels:
        raise ValueError("parameters['levels']: expected a non-empty list of levels")
    training = _read(workdir / parameters['structures'])
    test_sets = {name: _read(workdir / path) for name, path in (parameters.get('test_sets') or {}).items()}
    speed_atoms = None
    if parameters.get('speed_structure'):
        speed_atoms = _read(workdir / parameters['speed_structure'])[0]
    students = {}
    for level in levels:
        folder = workdir / f'student_{int(level)}'
        settings = fit_student(
            training,
            level=int(level),
            cutoff=float(parameters.get('cutoff', 5.0)),
            min_dist=float(parameters.get('min_dist', 1.5)),
            weights=parameters.get('weights', list(DEFAULT_WEIGHTS)),
            seed=int(parameters['seed']),
            max_iter=int(parameters.get('max_iter', 500)),
            tolerance=parameters.get('tolerance'),
            window=int(parameters.get('window', 50)),
            workdir=folder,
        )
        calculator = student_calculator(folder)
        settings['folder'] = folder.name
        settings['test_errors'] = {
            name: error_metrics(frames, evaluate(frames, calculator)) for name, frames in test_sets.items()
        }
        if speed_atoms is not None:
            settings['seconds_per_atom_step'] = time_force_calls(speed_atoms, calculator)
        students[str(int(level))] = settings
    write_json(workdir / parameters.get('report', 'report.json'), {'students': students})
    return {
        'levels': [int(level) for level in levels],
        'training_energy_rmse': {k: v['training_errors']['energy_rmse'] for k, v in students.items()},
    }


if __name__ == '__main__':
    raise SystemExit(main(run))
