"""Energy errors of known phases, the paper's way (GAP-RSS Figs. 2–3).

Every phase is relaxed **separately with each method** (the potential and the reference), variable cell at 0 GPa,
and the energies per atom at the two minima are compared:

    error = E_pot(min_pot)/N − E_ref(min_ref)/N

so a potential that reproduces the reference's energy landscape up to a small change of lattice parameter still has
a small error (the paper's errors "of known crystal phases, each relaxed with its own method"). Relative energies
with respect to a ground-state phase (e.g. diamond), ``ΔE_pot − ΔE_ref``, are reported as well; they cancel a
constant shift of the potential's energy. Errors below 1 meV/atom in absolute value are flagged ``converged`` (the
paper shows them as converged).

:func:`relax_phase` wraps :func:`aiida_gaprss.rss.relax.relax_one` (PreconLBFGS on FrechetCellFilter, 0 GPa), and
:func:`phase_energy_errors` does the arithmetic on already relaxed results (from this module, from a reference
workflow or from a database), so the reference side can be computed once and reused for every potential.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np
from ase import Atoms

logger = logging.getLogger(__name__)

__all__ = (
    'MAX_REFERENCE_ATTEMPTS',
    'CONVERGED_TOLERANCE',
    'ON_HULL_TOLERANCE',
    'complete_reference_side',
    'energy_per_atom',
    'formation_energy_errors',
    'formation_energy_table',
    'phase_energy_errors',
    'relax_phase',
    'retry_phases',
    'relax_phases',
)

#: |error| below which a phase is shown as converged (eV/atom): 1 meV/atom.
CONVERGED_TOLERANCE = 1e-3
#: Energy above the formation-energy hull (eV/atom) below which a phase counts as on the hull: 0.1 meV/atom.
ON_HULL_TOLERANCE = 1e-4


def relax_phase(
    atoms: Atoms,
    calculator,
    fmax: float = 0.01,
    steps: int = 500,
    *,
    pressure: float = 0.0,
    smax: float = 0.01,
    **relax_options,
) -> Atoms:
    """Variable-cell relaxation of one phase at ``pressure`` (GPa; default 0) with ``calculator``.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure (e.g. from :func:`aiida_gaprss.rss.phases.build_phase`).
    calculator : ASE calculator or dict
        A calculator or a spec for :func:`~aiida_gaprss.rss.potentials.calculator_from_spec`.
    fmax : float
        Force threshold (eV/Å).
    steps : int
        Maximum optimiser steps.
    pressure : float
        External pressure (GPa).
    smax : float
        Residual stress threshold (GPa); tighter than the RSS default because phase energies are compared to 1 meV.
    **relax_options
        Passed to :func:`~aiida_gaprss.rss.relax.relax_one` (``optimizer``, ``precon``, ``fallback``, ...).

    Returns
    -------
    ase.Atoms
        The final frame (no calculator): ``info['energy']`` (eV), ``info['enthalpy']``, ``info['volume']``,
        ``info['converged']``, ``info['status']``, ``info['n_steps']``, ``info['energy_per_atom']``,
        ``info['volume_per_atom']``, ``arrays['forces']``, ``info['virial']`` and the input's ``info`` (e.g.
        ``phase``).

    Raises
    ------
    ValueError
        If no frame could be computed (the calculator failed on the input).
    """
    from .relax import relax_one

    if not isinstance(atoms, Atoms):
        raise ValueError(f'atoms: expected an ase.Atoms, got {type(atoms).__name__}')
    frames = relax_one(atoms, calculator, pressure, fmax=fmax, steps=steps, smax=smax, **relax_options)
    if not frames:
        raise ValueError(f'atoms: relaxation of phase {atoms.info.get("phase", "?")!r} produced no frame')
    final = frames[-1]
    final.info['energy_per_atom'] = float(final.info['energy']) / len(final)
    final.info['volume_per_atom'] = float(final.get_volume()) / len(final)
    if not final.info.get('converged', False):
        logger.warning(
            'phase %s: relaxation %s after %s steps', atoms.info.get('phase', '?'), final.info.get('status'), steps
        )
    return final


def relax_phases(phases: Mapping[str, Atoms], calculator, **kwargs) -> dict[str, Atoms]:
    """:func:`relax_phase` for every phase of a ``name -> Atoms`` mapping (one calculator, reused)."""
    from .potentials import calculator_from_spec

    if isinstance(calculator, dict):
        calculator = calculator_from_spec(calculator)
    return {name: relax_phase(atoms, calculator, **kwargs) for name, atoms in phases.items()}


def energy_per_atom(value, field: str = 'value') -> float:
    """Energy per atom (eV) of a result: a number (already per atom), an Atoms with ``info['energy']`` (total) or a
    dict with ``energy`` (total) and ``natoms`` or with ``energy_per_atom``."""
    if isinstance(value, Atoms):
        if 'energy' not in value.info:
            raise ValueError(f"{field}: Atoms without info['energy']")
        result = float(value.info['energy']) / len(value)
    elif isinstance(value, Mapping):
        if 'energy_per_atom' in value:
            result = float(value['energy_per_atom'])
        elif 'energy' in value and 'natoms' in value:
            if int(value['natoms']) < 1:
                raise ValueError(f"{field}: 'natoms' must be positive")
            result = float(value['energy']) / int(value['natoms'])
        else:
            raise ValueError(f"{field}: dict needs 'energy_per_atom' or 'energy' and 'natoms'")
    elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ValueError(f'{field}: expected a number (eV/atom), an Atoms or a dict, got {type(value).__name__}')
    if not math.isfinite(result):
        raise ValueError(f'{field}: energy is not finite')
    return result


def phase_energy_errors(
    potential_results: Mapping,
    reference_results: Mapping,
    *,
    ground_state: str | None = None,
    tolerance: float = CONVERGED_TOLERANCE,
) -> dict:
    """Energy error of every phase, each at its own method's minimum.

    Parameters
    ----------
    potential_results, reference_results : mapping name -> result
        Relaxed results per phase, as accepted by :func:`energy_per_atom` (relaxed Atoms with total
        ``info['energy']``, ``{'energy': E, 'natoms': N}``, ``{'energy_per_atom': e}`` or a number in eV/atom).
        Only phases present in both are compared.
    ground_state : str, optional
        Phase that relative energies refer to (e.g. ``'diamond'``); default: the reference's lowest-energy phase.
    tolerance : float
        |error| (eV/atom) below which a phase is ``converged`` (default 1 meV/atom).

    Returns
    -------
    dict
        ``{'phases': {name: {'potential', 'reference', 'error', 'abs_error', 'relative_potential',
        'relative_reference', 'relative_error', 'converged'}}, 'ground_state': name, 'tolerance': tolerance,
        'max_abs_error': float, 'mean_abs_error': float, 'max_abs_relative_error': float, 'all_converged': bool,
        'missing': [names only in one of the inputs]}``; energies in eV/atom.
    """
    if not isinstance(potential_results, Mapping) or not potential_results:
        raise ValueError('potential_results: expected a non-empty mapping phase -> result')
    if not isinstance(reference_results, Mapping) or not reference_results:
        raise ValueError('reference_results: expected a non-empty mapping phase -> result')
    if not (isinstance(tolerance, int | float) and not isinstance(tolerance, bool) and tolerance > 0):
        raise ValueError(f'tolerance: expected a positive energy per atom (eV), got {tolerance!r}')
    names = [name for name in reference_results if name in potential_results]
    missing = sorted(set(potential_results) ^ set(reference_results))
    if not names:
        raise ValueError('potential_results: no phase in common with reference_results')
    pot = {name: energy_per_atom(potential_results[name], f'potential_results[{name!r}]') for name in names}
    ref = {name: energy_per_atom(reference_results[name], f'reference_results[{name!r}]') for name in names}
    if ground_state is None:
        ground_state = min(names, key=lambda name: ref[name])
    elif ground_state not in names:
        raise ValueError(f'ground_state: {ground_state!r} is not among the compared phases {names}')
    phases = {}
    for name in names:
        error = pot[name] - ref[name]
        rel_pot = pot[name] - pot[ground_state]
        rel_ref = ref[name] - ref[ground_state]
        phases[name] = {
            'potential': pot[name],
            'reference': ref[name],
            'error': error,
            'abs_error': abs(error),
            'relative_potential': rel_pot,
            'relative_reference': rel_ref,
            'relative_error': rel_pot - rel_ref,
            'converged': bool(abs(error) < tolerance),
        }
    abs_errors = [row['abs_error'] for row in phases.values()]
    return {
        'phases': phases,
        'ground_state': ground_state,
        'tolerance': float(tolerance),
        'max_abs_error': float(max(abs_errors)),
        'mean_abs_error': float(np.mean(abs_errors)),
        'max_abs_relative_error': float(max(abs(row['relative_error']) for row in phases.values())),
        'all_converged': all(row['converged'] for row in phases.values()),
        'missing': missing,
        'units': 'eV/atom',
    }


def formation_energy_table(phases: Mapping, compositions: Mapping, elements) -> dict:
    """Formation energies per atom of the phases of a chemical system and their distances above its hull.

    Parameters
    ----------
    phases : mapping name -> dict
        ``energy_per_atom`` (eV/atom) of each relaxed phase (the ``phases`` of a validation result).
    compositions : mapping name -> mapping element -> float
        Atomic fractions of each phase (phases without one are left out).
    elements : sequence of str
        The system's elements; each needs at least one pure phase among ``phases`` (its ground state, the lowest).

    Returns
    -------
    dict
        ``ground_states`` (element -> ``{'phase', 'energy_per_atom'}``), ``phases`` (name -> ``{'composition',
        'energy_per_atom', 'formation_energy', 'above_hull', 'on_hull'}``, eV/atom, :func:`aiida_gaprss.rss.
        formation_hull.formation_energies` and :func:`~aiida_gaprss.rss.formation_hull.energy_above_formation_hull`),
        ``on_hull`` (the names within :data:`ON_HULL_TOLERANCE` of the hull).
    """
    from .formation_hull import energy_above_formation_hull, formation_energies

    elements = list(elements)
    names = [name for name in phases if name in compositions]
    fractions = np.array([[float(compositions[name].get(symbol, 0.0)) for symbol in elements] for name in names])
    energies = [energy_per_atom(phases[name]['energy_per_atom'], f'phases[{name!r}].energy_per_atom') for name in names]
    ground_states = {}
    for index, symbol in enumerate(elements):
        pure = [row for row, name in enumerate(names) if fractions[row, index] > 1.0 - 1e-12]
        if not pure:
            raise ValueError(f'phases: no pure {symbol} phase, so no ground state of {symbol}')
        lowest = min(pure, key=lambda row: energies[row])
        ground_states[symbol] = {'phase': names[lowest], 'energy_per_atom': energies[lowest]}
    formation = formation_energies(fractions, energies, elements)
    above = energy_above_formation_hull(fractions, formation)
    rows = {}
    for row, name in enumerate(names):
        rows[name] = {
            'composition': {symbol: float(fractions[row, index]) for index, symbol in enumerate(elements)},
            'energy_per_atom': energies[row],
            'formation_energy': float(formation[row]),
            'above_hull': float(above[row]),
            'on_hull': bool(above[row] < ON_HULL_TOLERANCE),
        }
    return {
        'elements': elements,
        'ground_states': ground_states,
        'phases': rows,
        'on_hull': [name for name in names if rows[name]['on_hull']],
    }


def formation_energy_errors(potential: Mapping, reference: Mapping) -> dict:
    """Formation-energy and hull-distance errors (potential − reference, eV/atom) of the phases of two
    :func:`formation_energy_table` results; ``hull_agrees`` says whether both put the same phases on the hull."""
    rows = {}
    for name, pot in potential['phases'].items():
        ref = reference['phases'].get(name)
        if ref is None:
            continue
        rows[name] = {
            'formation_energy_error': pot['formation_energy'] - ref['formation_energy'],
            'above_hull_error': pot['above_hull'] - ref['above_hull'],
            'on_hull_agrees': pot['on_hull'] == ref['on_hull'],
        }
    shared = set(rows)
    errors = [abs(row['formation_energy_error']) for row in rows.values()]
    return {
        'phases': rows,
        'hull_agrees': {n for n in potential['on_hull'] if n in shared}
        == {n for n in reference['on_hull'] if n in shared},
        'max_abs_formation_energy_error': max(errors) if errors else None,
    }


#: Attempts at a phase's reference relaxation across the validations of a run (the first and one retry).
MAX_REFERENCE_ATTEMPTS = 2


def retry_phases(reference: Mapping) -> list[str]:
    """The phases of a reference side whose relaxation failed fewer than :data:`MAX_REFERENCE_ATTEMPTS` times."""
    return [row['phase'] for row in reference.get('failures') or [] if row.get('attempts', 1) < MAX_REFERENCE_ATTEMPTS]


def complete_reference_side(previous: Mapping, computed: Mapping) -> dict:
    """A reference side completed: ``previous`` with the phases it lacks taken from ``computed``.

    Both are reference sides in the validation job's ``results`` format (``phases``: name -> relaxed result,
    ``energy_volume``: name -> curve, ``failures``: [{'phase', 'error'}]). A phase of ``previous`` is never replaced;
    ``computed`` adds the phases (and E(V) curves) ``previous`` lacks, e.g. those whose reference relaxation failed.
    ``failures`` keeps only the phases still lacking, each with its number of ``attempts`` (a failure without the key
    counts as one; failing again in ``computed`` adds one); ``completed_phases`` lists the phases taken from
    ``computed`` (appended to any earlier completion).
    """
    import copy

    merged = copy.deepcopy(dict(previous))
    merged['phases'] = dict(merged.get('phases') or {})
    merged['energy_volume'] = dict(merged.get('energy_volume') or {})
    taken = []
    for name, row in (computed.get('phases') or {}).items():
        if name not in merged['phases']:
            merged['phases'][name] = copy.deepcopy(row)
            taken.append(name)
    for name, curve in (computed.get('energy_volume') or {}).items():
        merged['energy_volume'].setdefault(name, copy.deepcopy(curve))
    earlier = {row['phase']: row for row in merged.get('failures') or []}
    failures = {}
    for row in computed.get('failures') or []:  # failed again: one attempt more
        name = row['phase']
        if name not in merged['phases'] and name not in failures:
            before = earlier.pop(name, None)
            failures[name] = {**row, 'attempts': before.get('attempts', 1) + 1 if before else 1}
    failures.update((name, dict(row)) for name, row in earlier.items() if name not in merged['phases'])
    merged['failures'] = list(failures.values())
    merged['completed_phases'] = list(merged.get('completed_phases') or []) + taken
    return merged
