"""Job ``student_validation``: numerical and physically guided validation of MTP students against their teacher.

Run as ``python -m aiida_gaprss.jobs.student_validation job.json`` by
:class:`aiida_gaprss.calculations.student_validation.StudentValidation`. No AiiDA import.

Parameters (``job.json``, key ``parameters``; defaults in :data:`DEFAULTS`):

``teacher`` (required)
    Calculator spec of the teacher (:func:`aiida_gaprss.rss.potentials.calculator_from_spec`).
``students`` (required)
    ``{key: {'folder': path, 'level': int or None, 'seed': int or None, 'family': 'indirect' | 'direct'}}``:
    folders with ``student.mtp`` and ``student.json``; ``family`` says whether the student learned from the teacher
    (indirect, the default) or from the reference data (direct), and is kept apart in the summaries and plots.
``test_sets``
    ``{name: extxyz path}`` of teacher-labelled structures.
``seed`` (required), ``element``, ``checks``
    Seed of every random start and MD; element; any of ``errors``, ``cost``, ``melt_quench``, ``compression``.
``protocol``, ``overrides``
    MD protocol preset of :data:`aiida_gaprss.rss.md.PROTOCOLS` and overrides, for both physical checks.
``speed``
    ``{'kind': 'amorphous' | 'diamond', 'natoms', 'steps', 'repeats'}``: the timing cell and MD steps.
``similarity``
    ``{'phase': 'sh', 'pressures': [GPa] or None (0 to p_max every 2.5 GPa), 'pressure_window', 'soap'}``.
``quench``
    ``{'relax': bool, 'fmax', 'steps'}``: relaxation of the quenched cells before the Table I analysis.

What it does, for the teacher and every student with the same settings:

1. ``errors``: energy (per atom) and force MAE/RMSE of each student against the teacher labels of each test set.
2. ``cost``: seconds per MD step per atom on one timing cell, rounds alternating the calculators (best round kept),
   and the ratio to the teacher.
3. ``melt_quench``: melt–quench from the same random start and seed, relaxation of the quenched cell and the
   Table I metrics with ΔE relative to diamond relaxed with the same calculator
   (:func:`aiida_gaprss.students.validation.quench_metrics`).
4. ``compression``: compression MD from the same start (the teacher's quenched cell if ``melt_quench`` ran, else
   the protocol's random start) and the similarity to pressure-adjusted sh Si, the reference relaxed with the teacher
   (:func:`aiida_gaprss.students.validation.similarity_curve`). A student MD that blows up is a result (the paper
   marks such runs with asterisks): the curve stops at the last good snapshot and ``failed_at`` gives where.
   Each curve's ``transition_pressure`` (GPa) is where it rises through the teacher's half-way similarity
   (``compression.transition``: the teacher's low- and high-pressure ends and the level;
   :func:`aiida_gaprss.students.validation.transition_pressure`); None when the curve never crosses it, and for
   every model when the teacher's curve does not rise.

Writes ``report.json`` (every number), ``quenched.xyz`` (relaxed quenched cells, ``info['calculator']``) and the PNGs
``error_vs_cost.png`` (paper Fig. 3) and ``similarity.png`` (Fig. 4) when there is data for them. A teacher failure
or a student that cannot be evaluated is recorded under ``failures`` (``{'who', 'check', 'error'}``) and the other
checks go on; the CalcJob turns such entries into exit codes.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import pathlib
import time

import numpy as np

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.protocols import student_validation_defaults

__all__ = ('CHECKS', 'DEFAULTS', 'TEACHER', 'group_label', 'run', 'stability_summary', 'student_label')

LOGGER = logging.getLogger(__name__)

#: Label of the teacher in the report.
TEACHER = 'teacher'
#: The checks, in the order they run.
CHECKS = ('errors', 'cost', 'melt_quench', 'compression')
#: Defaults of the optional parameters (``aiida_gaprss/protocols/student_validation.yaml``, ``defaults``).
DEFAULTS = student_validation_defaults()
REPORT = 'report.json'
QUENCHED = 'quenched.xyz'
PLOTS = {'error_vs_cost': 'error_vs_cost.png', 'similarity': 'similarity.png'}


def _settings(parameters: dict) -> dict:
    settings = copy.deepcopy(DEFAULTS)
    for key, value in parameters.items():
        if isinstance(settings.get(key), dict) and key != 'overrides':
            settings[key].update(value or {})
        else:
            settings[key] = value
    return settings


def _read(path: pathlib.Path) -> list:
    with open(path, encoding='utf-8') as handle:
        return list(read_frames(handle))


def _error(exception: Exception) -> str:
    return f'{type(exception).__name__}: {exception}'


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def _evaluate(frames, factory) -> dict:
    """:func:`~aiida_gaprss.students.mtp.evaluate` with a fresh calculator of the model (one per test set)."""
    from aiida_gaprss.students.mtp import evaluate

    return evaluate(frames, factory())


def _numerical(factories, test_sets, failures) -> dict:
    from aiida_gaprss.students.mtp import error_metrics

    errors = {}
    for key, factory in factories.items():
        errors[key] = {}
        for name, frames in test_sets.items():
            try:
                errors[key][name] = error_metrics(frames, _evaluate(frames, factory))
            except Exception as exception:  # noqa: BLE001 - recorded, the other checks go on
                failures.append({'who': key, 'check': 'errors', 'test_set': name, 'error': _error(exception)})
    return errors


def _cost(factories: dict, settings: dict, seed: int, failures) -> dict:
    from aiida_gaprss.students.validation import md_cost, speed_cell

    speed = settings['speed']
    cell = speed_cell(speed['kind'], int(speed['natoms']), element=settings['element'], seed=seed)
    best = {key: float('inf') for key in factories}
    calculators = {}
    for key, factory in factories.items():
        try:
            calculators[key] = factory()
        except Exception as exception:  # noqa: BLE001
            failures.append({'who': key, 'check': 'cost', 'error': _error(exception)})
    broken = set()
    for _ in range(int(speed['repeats'])):  # rounds alternate the calculators: same machine load for all
        for key, calculator in calculators.items():
            if key in broken:
                continue
            try:
                value = md_cost(cell, calculator, steps=int(speed['steps']), repeats=1, seed=seed)
            except Exception as exception:  # noqa: BLE001
                failures.append({'who': key, 'check': 'cost', 'error': _error(exception)})
                broken.add(key)
                continue
            best[key] = min(best[key], value)
    teacher = best.get(TEACHER)
    rows = {}
    for key, value in best.items():
        if key in broken or key not in calculators:
            continue
        relative = value / teacher if teacher and key not in broken and TEACHER not in broken else None
        rows[key] = {'seconds_per_atom_step': value, 'relative': relative}
    return {
        'cell': {'kind': speed['kind'], 'natoms': len(cell), 'steps': int(speed['steps']),
                 'repeats': int(speed['repeats'])},
        'calculators': rows,
    }  # fmt: skip


def _melt_quench(factories, protocol, settings, seed, failures):
    from aiida_gaprss.rss.md import melt_quench
    from aiida_gaprss.students.validation import diamond_energy, quench_metrics, trajectory_failure

    quench = settings['quench']
    metrics, structures, start = {}, [], None
    for key, factory in factories.items():
        begin = time.perf_counter()
        try:
            reference = diamond_energy(factory(), settings['element'])
            final, snapshots = melt_quench(factory(), protocol, element=settings['element'], seed=seed)
            bad = trajectory_failure([*snapshots, final])
            if bad is not None:
                raise RuntimeError(f'MD failed at snapshot {bad} (step {([*snapshots, final][bad]).info.get("step")})')
            row, relaxed = quench_metrics(
                final, factory(), reference_energy_per_atom=reference, relax=bool(quench['relax']),
                fmax=float(quench['fmax']), steps=int(quench['steps']),
            )  # fmt: skip
        except Exception as exception:  # noqa: BLE001 - a student's MD blowing up is a result, the teacher's a failure
            if key == TEACHER:
                failures.append({'who': key, 'check': 'melt_quench', 'error': _error(exception)})
            metrics[key] = {'error': _error(exception)}
            continue
        row['diamond_energy_per_atom'] = reference
        row['final_temperature'] = float(snapshots[-1].info['temperature']) if snapshots else None
        row['wall_time'] = time.perf_counter() - begin
        metrics[key] = {name: (_finite(v) if isinstance(v, float) else v) for name, v in row.items()}
        relaxed.info['calculator'] = key
        relaxed.info['config_type'] = 'melt_quench'
        structures.append(relaxed)
        if key == TEACHER:
            start = relaxed
    return metrics, structures, start


def _compression(factories, protocol, settings, seed, start, failures) -> dict:
    from aiida_gaprss.rss.md import compression_md
    from aiida_gaprss.students.validation import pressure_reference_grid, similarity_curve, trajectory_failure

    similarity = settings['similarity']
    p_max = float(protocol['compression']['p_max'])
    pressures = similarity.get('pressures')
    if pressures is None:
        pressures = np.arange(0.0, p_max + 1e-9, 2.5).tolist()
    try:
        grid = pressure_reference_grid(
            factories[TEACHER](), pressures, element=settings['element'], phase=similarity['phase']
        )
    except Exception as exception:  # noqa: BLE001
        failures.append({'who': TEACHER, 'check': 'compression', 'error': f'reference grid: {_error(exception)}'})
        return {}
    result = {
        'reference': {
            'phase': similarity['phase'],
            'relaxed_with': TEACHER,
            'pressures': [float(a.info['pressure']) for a in grid],
            'volume_per_atom': [float(a.info['volume_per_atom']) for a in grid],
            'cellpar': [a.cell.cellpar().tolist() for a in grid],
            'converged': [bool(a.info['converged']) for a in grid],
        },
        'start': 'teacher_quenched' if start is not None else 'random',
        'curves': {},
    }
    for key, factory in factories.items():
        begin = time.perf_counter()
        curve = {'failed_at': None, 'error': None}
        try:
            _, snapshots = compression_md(factory(), protocol, element=settings['element'], seed=seed, atoms=start)
        except Exception as exception:  # noqa: BLE001 - an MD blow-up is a result
            curve.update(error=_error(exception), failed_at='start')
            snapshots = []
            if key == TEACHER:
                failures.append({'who': TEACHER, 'check': 'compression', 'error': _error(exception)})
        bad = trajectory_failure(snapshots)
        if bad is not None:
            info = snapshots[bad].info
            curve['failed_at'] = {'step': info.get('step'), 'pressure_target': info.get('pressure_target')}
            snapshots = snapshots[:bad]
            if key == TEACHER:
                failures.append({'who': TEACHER, 'check': 'compression', 'error': f'MD failed at snapshot {bad}'})
        try:
            curve.update(similarity_curve(snapshots, grid, pressure_window=int(similarity['pressure_window']),
                                          soap=similarity.get('soap') or None))  # fmt: skip
        except Exception as exception:  # noqa: BLE001
            failures.append({'who': key, 'check': 'compression', 'error': f'similarity: {_error(exception)}'})
        curve['wall_time'] = time.perf_counter() - begin
        result['curves'][key] = curve
    teacher = result['curves'].get(TEACHER, {})
    for key, curve in result['curves'].items():  # difference to the teacher at the same snapshot index
        if key != TEACHER and teacher.get('similarity') and curve.get('similarity'):
            n = min(len(teacher['similarity']), len(curve['similarity']))
            diff = np.array(curve['similarity'][:n]) - np.array(teacher['similarity'][:n])
            curve['difference_to_teacher'] = diff.tolist()
            curve['mean_abs_difference'] = float(np.mean(np.abs(diff))) if n else None
    _transitions(result)
    return result


def _transitions(result: dict) -> None:
    """``result['transition']`` (the teacher's half-way level) and each curve's ``transition_pressure`` (GPa)."""
    from aiida_gaprss.students.validation import TRANSITION_MIN_RISE, transition_level, transition_pressure

    teacher = result['curves'].get(TEACHER) or {}
    ends = transition_level(teacher.get('pressure') or [], teacher.get('similarity') or [])
    level = ends['level'] if ends and ends['high'] - ends['low'] >= TRANSITION_MIN_RISE else None
    result['transition'] = {**(ends or {}), 'level': level, 'of': TEACHER, 'min_rise': TRANSITION_MIN_RISE}
    for curve in result['curves'].values():
        crossed = level is not None and len(curve.get('similarity') or []) >= 2
        curve['transition_pressure'] = (
            transition_pressure(curve['pressure'], curve['similarity'], level=level) if crossed else None
        )


def _plots(report: dict, workdir: pathlib.Path, failures) -> list[str]:
    from aiida_gaprss.plots import plot_error_vs_cost_panels, plot_similarity_comparison

    written = []
    try:
        rows = error_cost_rows(report)
        if rows:
            plot_error_vs_cost_panels(rows, workdir / PLOTS['error_vs_cost'])
            written.append('error_vs_cost')
    except Exception as exception:  # noqa: BLE001
        failures.append({'who': 'plots', 'check': 'error_vs_cost', 'error': _error(exception)})
    try:
        curves = (report.get('compression') or {}).get('curves') or {}
        data = {key: curve for key, curve in curves.items() if curve.get('similarity')}
        if TEACHER in data:
            plot_similarity_comparison(data, workdir / PLOTS['similarity'], labels=report.get('labels'))
            written.append('similarity')
    except Exception as exception:  # noqa: BLE001
        failures.append({'who': 'plots', 'check': 'similarity', 'error': _error(exception)})
    return written


def student_label(key: str, student: dict) -> str:
    """Label of a student in tables and plots: ``L16``, ``L16 s2`` (another fit seed), ``L16 direct``."""
    level = student.get('level')
    if level is None:
        return key
    label = group_label(student.get('family', 'indirect'), int(level))
    if '_seed_' in key and student.get('seed') is not None:
        label += f' s{student["seed"]}'
    return label


def group_label(family: str, level: int) -> str:
    """Label of one family and level over its fit seeds (``L16``, ``L16 direct``): the keys of ``stability``."""
    return f'L{level}' if family == 'indirect' else f'L{level} direct'


def _groups(report: dict) -> dict[tuple[str, int], list[str]]:
    """Student keys by (family, level), in key order."""
    groups: dict[tuple[str, int], list[str]] = {}
    for key, student in sorted((report.get('students') or {}).items()):
        if student.get('level') is not None:
            groups.setdefault((student.get('family', 'indirect'), int(student['level'])), []).append(key)
    return groups


def error_cost_rows(report: dict) -> list[dict]:
    """Rows for :func:`aiida_gaprss.plots.plot_error_vs_cost_panels`: one per family and level.

    The fits of one level and family with different seeds are one row: the mean cost, and the mean error on each
    test set with its smallest and largest value over the seeds (``energy_mae_range``, ``force_mae_range``).
    """
    costs = (report.get('cost') or {}).get('calculators') or {}
    errors = report.get('errors') or {}
    rows = []
    for (family, level), keys in _groups(report).items():
        keys = [key for key in keys if errors.get(key) and (costs.get(key) or {}).get('relative') is not None]
        if not keys:
            continue
        row = {
            'label': group_label(family, level),
            'family': family,
            'seeds': len(keys),
            'cost': float(np.mean([costs[key]['relative'] for key in keys])),
        }
        for metric in ('energy_mae', 'force_mae'):
            values: dict[str, list[float]] = {}
            for key in keys:
                for name, entry in errors[key].items():
                    values.setdefault(name, []).append(float(entry[metric]))
            row[metric] = {name: float(np.mean(v)) for name, v in values.items()}
            row[f'{metric}_range'] = {name: [float(min(v)), float(max(v))] for name, v in values.items()}
        rows.append(row)
    return rows


def stability_summary(report: dict) -> dict:
    """Per family and level: how many of its students (fit seeds) completed the melt–quench and the compression.

    Returns
    -------
    dict
        ``{'L16': {'family', 'level', 'students', 'melt_quench_completed', 'compression_completed',
        'melt_quench_fraction', 'compression_fraction'}}`` (fractions None when the check did not run).
    """
    melt = report.get('melt_quench')
    curves = (report.get('compression') or {}).get('curves')
    summary = {}
    for (family, level), keys in _groups(report).items():
        entry = {'family': family, 'level': level, 'students': len(keys)}
        for name, done in (
            ('melt_quench', None if melt is None else [key in melt and 'error' not in melt[key] for key in keys]),
            ('compression', None if curves is None else [
                key in curves and curves[key].get('failed_at') is None and not curves[key].get('error')
                for key in keys
            ]),
        ):  # fmt: skip
            entry[f'{name}_completed'] = None if done is None else int(sum(done))
            entry[f'{name}_fraction'] = None if done is None else float(sum(done)) / len(keys)
        summary[group_label(family, level)] = entry
    return summary


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Run the checks; write the report, the quenched cells and the plots."""
    from aiida_gaprss.rss.md import get_protocol
    from aiida_gaprss.rss.phases import build_phase
    from aiida_gaprss.rss.potentials import calculator_from_spec
    from aiida_gaprss.students.mtp import student_calculator

    parameters = content['parameters']
    for key in ('teacher', 'students', 'seed'):
        if key not in parameters:
            raise ValueError(f"parameters['{key}']: missing")
    settings = _settings(parameters)
    checks = [check for check in CHECKS if check in settings['checks']]
    seed = int(settings['seed'])
    protocol = get_protocol(settings['protocol'], settings['overrides'] or {})
    failures: list[dict] = []
    teacher = calculator_from_spec(settings['teacher'])  # quippy: one calculator serves every cell size
    factories = {TEACHER: lambda: teacher}
    students, levels, labels = {}, {}, {TEACHER: TEACHER}
    for key, student in settings['students'].items():
        levels[key] = student.get('level')
        labels[key] = student_label(key, student)
        folder = workdir / student['folder']
        try:  # load it and evaluate the element's diamond cell once: a broken file fails here, named 'load'
            probe = build_phase(settings['element'], 'diamond')
            probe.calc = student_calculator(folder)
            if not np.isfinite(probe.get_potential_energy()):
                raise ValueError('non-finite energy of diamond')
        except Exception as exception:  # noqa: BLE001
            failures.append({'who': key, 'check': 'load', 'error': _error(exception)})
            continue
        students[key] = functools.partial(student_calculator, folder)  # a fresh motep calculator per use
    factories.update(students)
    test_sets = {name: _read(workdir / path) for name, path in (settings.get('test_sets') or {}).items()}

    report = {
        'checks': checks, 'seed': seed, 'element': settings['element'], 'protocol': protocol,
        'settings': {key: settings[key] for key in ('speed', 'similarity', 'quench')},
        'students': {
            key: {'level': levels[key], 'label': labels[key], 'seed': student.get('seed'),
                  'family': student.get('family', 'indirect')}
            for key, student in settings['students'].items()
        },
        'labels': labels, 'test_sets': {name: len(frames) for name, frames in test_sets.items()},
        'timings': {},
    }  # fmt: skip
    begin = time.perf_counter()
    if 'errors' in checks:
        report['errors'] = _numerical(students, test_sets, failures)
        report['timings']['errors'] = time.perf_counter() - begin
    if 'cost' in checks:
        begin = time.perf_counter()
        report['cost'] = _cost(factories, settings, seed, failures)
        report['timings']['cost'] = time.perf_counter() - begin
    start, quenched = None, []
    if 'melt_quench' in checks:
        begin = time.perf_counter()
        report['melt_quench'], quenched, start = _melt_quench(factories, protocol, settings, seed, failures)
        report['timings']['melt_quench'] = time.perf_counter() - begin
    if 'compression' in checks:
        begin = time.perf_counter()
        report['compression'] = _compression(factories, protocol, settings, seed, start, failures)
        report['timings']['compression'] = time.perf_counter() - begin
    report['stability'] = stability_summary(report)
    report['plots'] = _plots(report, workdir, failures)
    report['failures'] = failures
    if quenched:
        with open(workdir / QUENCHED, 'w', encoding='utf-8') as handle:
            write_frames(handle, quenched)
    write_json(workdir / REPORT, report)
    return {'checks': checks, 'num_students': len(settings['students']), 'num_failures': len(failures)}


if __name__ == '__main__':
    raise SystemExit(main(run))
