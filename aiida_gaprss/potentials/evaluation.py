"""The evaluation of a potential over fit seeds (the JSON `gaprss potentials export` reads): checks, statistics."""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Mapping, Sequence

import numpy as np

from aiida_gaprss.common import checks
from aiida_gaprss.plots.canvas import PNG_MAGIC

__all__ = ('EVALUATION_KEYS', 'GOAL_KEYS', 'check_png', 'normalise_evaluation', 'phase_energy')

#: Keys of an evaluation JSON (see :func:`normalise_evaluation`).
EVALUATION_KEYS = (
    'seeds',
    'phases',
    'eos',
    'plots',
    'reference',
    'reference_source',
    'reference_evaluations',
    'learning_curve',
    'goal',
    'intended_use',
    'not_for',
    'notes',
)
GOAL_KEYS = ('phase_error', 'max_seed_error', 'relative_error', 'v0_relative', 'b0_relative')
_PLOT_KEY = re.compile(r'^[a-z0-9_]{1,40}$')


def _numbers(values, field: str, length: int | None = None) -> list[float]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f'field `{field}`: expected a non-empty list of numbers, got {values!r}')
    if length is not None and len(values) != length:
        raise ValueError(f'field `{field}`: {len(values)} values, expected one per seed ({length})')
    return [checks.number(value, checks.field(f'{field}[{index}]')) for index, value in enumerate(values)]


def _statistics(values: list[float]) -> dict:
    return {'mean': float(np.mean(values)), 'max_abs': float(np.max(np.abs(values)))}


def _strings(value, field: str) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'field `{field}`: expected a list of strings')
    return list(value)


def _eos_point(value, field: str) -> dict:
    if not isinstance(value, Mapping) or set(value) - {'v0', 'b0', 'b0_prime', 'e0'} or not {'v0', 'b0'} <= set(value):
        raise ValueError(f'field `{field}`: expected {{"v0": Å^3/atom, "b0": GPa}} (optional b0_prime, e0)')
    return {key: checks.number(value[key], checks.field(f'{field}.{key}')) for key in value}


def phase_energy(value, field: str) -> float:
    """A phase energy (eV/atom): a number or ``{"energy_per_atom": number}``; the ValueError names ``field``."""
    if isinstance(value, Mapping):
        if 'energy_per_atom' not in value:
            raise ValueError(f'field `{field}`: expected a number or {{"energy_per_atom": eV/atom}}')
        value = value['energy_per_atom']
    return checks.number(value, checks.field(field))


def normalise_evaluation(evaluation: Mapping, base: str | os.PathLike | None = None) -> dict:
    """Check an evaluation (validation over fit seeds) and return it with derived statistics.

    Schema (energies in eV/atom, volumes in Å^3/atom, bulk moduli in GPa; every key but ``seeds`` optional)::

        {"seeds": [1, 2, 3, 4, 5],
         "phases": {"diamond": [error per seed, ...],              # potential minus reference, each at its own
                    "beta_sn": {"errors": [...], "relative_errors": [...]}},   # minimum; relative: to diamond
         "eos": {"diamond": {"reference": {"v0": 20.4, "b0": 89.0},
                             "potential": [{"v0": ..., "b0": ...}, ...]}},     # one per seed
         "plots": {"learning_curve": "lc.png", "energy_volume": "ev.png"},     # PNG files, relative to `base`
         "reference": {"diamond": {"energy_per_atom": -139.035}, ...},         # the reference side, as computed
         "reference_source": "benchmarks/si_learning_curve.py, QE vc-relax",
         "reference_evaluations": 600,
         "learning_curve": [{"reference_evaluations": 342, "phases": {"diamond": -0.0019, ...}}, ...],
         "goal": {"phase_error": 0.01, "max_seed_error": 0.02, "relative_error": 0.01,
                  "v0_relative": 0.01, "b0_relative": 0.10},
         "intended_use": ["..."], "not_for": ["..."], "notes": "..."}

    Returns
    -------
    dict
        The same content with ``phases[name]`` as ``{'errors', 'mean', 'max_abs'}`` (and ``relative_errors``,
        ``relative_mean``, ``relative_max_abs``), ``eos[name]`` with ``v0_mean``, ``b0_mean``, ``v0_deviation`` and
        ``b0_deviation`` (relative to the reference), ``reference`` as numbers per phase and ``plots`` as resolved
        absolute paths.

    Raises
    ------
    ValueError
        Naming the field (``evaluation.<key>...``) of the first problem.
    """
    if not isinstance(evaluation, Mapping):
        raise ValueError(f'field `evaluation`: expected a JSON object, got {type(evaluation).__name__}')
    unknown = sorted(set(evaluation) - set(EVALUATION_KEYS))
    if unknown:
        raise ValueError(f'field `evaluation.{unknown[0]}`: unknown key; known: {list(EVALUATION_KEYS)}')
    seeds = evaluation.get('seeds')
    integers = isinstance(seeds, Sequence) and not isinstance(seeds, str) and bool(seeds)
    integers = integers and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    if not integers or len(set(seeds)) != len(seeds):
        raise ValueError(f'field `evaluation.seeds`: expected a non-empty list of distinct integers, got {seeds!r}')
    result: dict = {'seeds': list(seeds)}
    phases = evaluation.get('phases', {})
    if not isinstance(phases, Mapping):
        raise ValueError('field `evaluation.phases`: expected {phase: [error per seed]}')
    result['phases'] = {}
    for name, entry in phases.items():
        field = f'evaluation.phases.{name}'
        if not isinstance(entry, Mapping):
            entry = {'errors': entry}
        extra = sorted(set(entry) - {'errors', 'relative_errors'})
        if extra:
            raise ValueError(f'field `{field}.{extra[0]}`: unknown key; known: errors, relative_errors')
        errors = _numbers(entry.get('errors'), f'{field}.errors', len(seeds))
        row = {'errors': errors, **_statistics(errors)}
        if 'relative_errors' in entry:
            relative = _numbers(entry['relative_errors'], f'{field}.relative_errors', len(seeds))
            stats = _statistics(relative)
            row.update(relative_errors=relative, relative_mean=stats['mean'], relative_max_abs=stats['max_abs'])
        result['phases'][name] = row
    if 'eos' in evaluation:
        if not isinstance(evaluation['eos'], Mapping):
            raise ValueError('field `evaluation.eos`: expected {phase: {"reference": ..., "potential": [...]}}')
        result['eos'] = {}
        for name, entry in evaluation['eos'].items():
            field = f'evaluation.eos.{name}'
            if not isinstance(entry, Mapping) or set(entry) != {'reference', 'potential'}:
                raise ValueError(f'field `{field}`: expected {{"reference": {{v0, b0}}, "potential": [one per seed]}}')
            reference = _eos_point(entry['reference'], f'{field}.reference')
            points = entry['potential']
            if not isinstance(points, Sequence) or len(points) != len(seeds):
                raise ValueError(f'field `{field}.potential`: expected a list with one {{v0, b0}} per seed')
            points = [_eos_point(point, f'{field}.potential[{i}]') for i, point in enumerate(points)]
            row = {'reference': reference, 'potential': points}
            for key in ('v0', 'b0'):
                mean = float(np.mean([point[key] for point in points]))
                row[f'{key}_mean'] = mean
                row[f'{key}_deviation'] = mean / reference[key] - 1.0
                row[f'{key}_max_deviation'] = max(abs(point[key] / reference[key] - 1.0) for point in points)
            result['eos'][name] = row
    if 'plots' in evaluation:
        result['plots'] = _plot_paths(evaluation['plots'], base)
    if 'reference' in evaluation:
        if not isinstance(evaluation['reference'], Mapping):
            raise ValueError('field `evaluation.reference`: expected {phase: {"energy_per_atom": eV/atom}}')
        result['reference'] = {
            name: phase_energy(value, f'evaluation.reference.{name}') for name, value in evaluation['reference'].items()
        }
    for key in ('reference_source', 'notes'):
        if key in evaluation:
            if not isinstance(evaluation[key], str):
                raise ValueError(f'field `evaluation.{key}`: expected a string')
            result[key] = evaluation[key]
    if 'reference_evaluations' in evaluation:
        value = evaluation['reference_evaluations']
        checks.positive_integer(value, checks.field('evaluation.reference_evaluations'))
        result['reference_evaluations'] = value
    if 'learning_curve' in evaluation:
        result['learning_curve'] = _learning_curve(evaluation['learning_curve'])
    if 'goal' in evaluation:
        goal = evaluation['goal']
        if not isinstance(goal, Mapping):
            raise ValueError(f'field `evaluation.goal`: expected {{key: number}} with keys {list(GOAL_KEYS)}')
        extra = sorted(set(goal) - set(GOAL_KEYS))
        if extra:
            raise ValueError(f'field `evaluation.goal.{extra[0]}`: unknown key; known: {list(GOAL_KEYS)}')
        result['goal'] = {
            key: checks.number(value, checks.field(f'evaluation.goal.{key}')) for key, value in goal.items()
        }
    for key in ('intended_use', 'not_for'):
        if key in evaluation:
            result[key] = _strings(evaluation[key], f'evaluation.{key}')
    return result


def _learning_curve(rows) -> list[dict]:
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ValueError('field `evaluation.learning_curve`: expected a list of {"reference_evaluations", "phases"}')
    result = []
    for index, row in enumerate(rows):
        field = f'evaluation.learning_curve[{index}]'
        if not isinstance(row, Mapping) or set(row) != {'reference_evaluations', 'phases'}:
            raise ValueError(
                f'field `{field}`: expected {{"reference_evaluations": int, "phases": {{phase: eV/atom}}}}'
            )
        evaluations = row['reference_evaluations']
        if not checks.is_integer(evaluations):
            raise ValueError(f'field `{field}.reference_evaluations`: expected an integer')
        if not isinstance(row['phases'], Mapping):
            raise ValueError(f'field `{field}.phases`: expected {{phase: eV/atom}}')
        phases = {
            name: checks.number(value, checks.field(f'{field}.phases.{name}')) for name, value in row['phases'].items()
        }
        result.append({'reference_evaluations': evaluations, 'phases': phases})
    return result


def _plot_paths(plots, base) -> dict:
    if not isinstance(plots, Mapping):
        raise ValueError('field `evaluation.plots`: expected {"learning_curve": "file.png", ...}')
    result = {}
    for key, value in plots.items():
        if not isinstance(key, str) or not _PLOT_KEY.match(key):
            raise ValueError(f'field `evaluation.plots.{key}`: plot names are lower-case words (e.g. learning_curve)')
        if not isinstance(value, str | os.PathLike):
            raise ValueError(f'field `evaluation.plots.{key}`: expected the path of a PNG file')
        file = pathlib.Path(value)
        if not file.is_absolute() and base is not None:
            file = pathlib.Path(base) / file
        result[key] = str(check_png(file, f'evaluation.plots.{key}'))
    return result


def check_png(file: pathlib.Path, field: str) -> pathlib.Path:
    """The resolved path of the PNG file ``file``; the ValueError names ``field``."""
    if not file.is_file():
        raise ValueError(f'field `{field}`: file `{file}` does not exist')
    with open(file, 'rb') as handle:
        if handle.read(8) != PNG_MAGIC:
            raise ValueError(f'field `{field}`: `{file}` is not a PNG file')
    return file.resolve()
