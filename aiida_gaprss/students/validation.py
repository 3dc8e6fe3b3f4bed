"""Physically guided validation of students against their teacher (Morrow & Deringer 2022, Fig. 4 and Table I).

Pure science (no AiiDA): every function takes ASE calculators and structures. :func:`similarity_curve` (SOAP
similarity of compression snapshots to simple-hexagonal Si at each snapshot's pressure, the reference grid relaxed
with the teacher: :func:`pressure_reference_grid`), :func:`transition_level` / :func:`transition_pressure` (where a
curve rises through the teacher's half-way level), :func:`quench_metrics` (Table I: N3, N5, H⁻¹, bond angles and ΔE
in eV/atom against diamond relaxed with the same calculator) and :func:`md_cost` (seconds per MD step per atom).
The choices behind each (why pressure-adjusted, why the teacher relaxes the reference, ΔE's definition) are in
docs/indirect.md, "Validation". Units: eV, Å, GPa, K, ps; similarities 0–1.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms, units

from aiida_gaprss.common import checks

logger = logging.getLogger(__name__)

__all__ = [
    'SIMILARITY_SOAP',
    'TRANSITION_MIN_RISE',
    'diamond_energy',
    'md_cost',
    'pressure_reference_grid',
    'quench_metrics',
    'reference_at_pressure',
    'relax_symmetric',
    'similarity_curve',
    'snapshot_pressures',
    'speed_cell',
    'trajectory_failure',
    'transition_level',
    'transition_pressure',
]

#: Least rise of a similarity curve from its low- to its high-pressure end for a transition to be located.
TRANSITION_MIN_RISE = 0.05
#: SOAP of the similarity analysis (paper Table S1; see the module docstring).
SIMILARITY_SOAP = {'n_max': 8, 'l_max': 6, 'sigma': 0.5, 'r_cut': 5.0, 'zeta': 4.0, 'backend': 'quippy'}


# ------------------------------------------------------------------------------------------------ relaxations


def relax_symmetric(
    atoms: Atoms, calculator, *, pressure: float = 0.0, fmax: float = 0.005, steps: int = 300, symmetry: bool = True
) -> Atoms:
    """Relax cell and positions at ``pressure`` (GPa), keeping the space group (``FixSymmetry``) if ``symmetry``.

    Returns
    -------
    ase.Atoms
        A copy without calculator: ``info['energy']`` (eV), ``info['pressure']`` (GPa, the target),
        ``info['converged']``, ``info['volume_per_atom']`` (Å³).
    """
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    work = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    work.calc = calculator
    if symmetry:
        work.set_constraint(FixSymmetry(work, symprec=1e-3))
    cell_filter = FrechetCellFilter(work, scalar_pressure=float(pressure) * units.GPa)
    optimizer = BFGS(cell_filter, logfile=None)
    converged = bool(optimizer.run(fmax=fmax, steps=int(steps)))
    out = Atoms(work.numbers, positions=work.positions, cell=work.cell, pbc=work.pbc)
    out.info.update(atoms.info)
    out.info['energy'] = float(work.get_potential_energy())
    out.info['pressure'] = float(pressure)
    out.info['converged'] = converged
    out.info['volume_per_atom'] = float(work.get_volume() / len(work))
    return out


def diamond_energy(calculator, element: str = 'Si', *, fmax: float = 0.005, steps: int = 300) -> float:
    """Energy per atom (eV) of the diamond phase of ``element`` relaxed (symmetric, 0 GPa) with ``calculator``."""
    from aiida_gaprss.rss.phases import build_phase

    relaxed = relax_symmetric(build_phase(element, 'diamond'), calculator, fmax=fmax, steps=steps)
    return float(relaxed.info['energy']) / len(relaxed)


# ------------------------------------------------------------------------------------------------ references


def pressure_reference_grid(
    calculator, pressures: Sequence[float], *, element: str = 'Si', phase: str = 'sh', fmax: float = 0.005,
    steps: int = 300,
) -> list[Atoms]:  # fmt: skip
    """``phase`` of ``element`` relaxed with ``calculator`` (symmetry kept) at each pressure (GPa), sorted by pressure.

    The phase is relaxed at the lowest pressure first and each result starts the next relaxation.
    """
    from aiida_gaprss.rss.phases import build_phase

    pressures = sorted(float(p) for p in pressures)
    if not pressures or not all(math.isfinite(p) for p in pressures):
        raise ValueError('pressures: expected a non-empty list of finite pressures (GPa)')
    start = build_phase(element, phase)
    grid = []
    for pressure in pressures:
        relaxed = relax_symmetric(start, calculator, pressure=pressure, fmax=fmax, steps=steps)
        relaxed.info['phase'] = phase
        if not relaxed.info['converged']:
            logger.warning('%s %s at %.1f GPa: relaxation not converged in %d steps', element, phase, pressure, steps)
        grid.append(relaxed)
        start = relaxed
    return grid


def reference_at_pressure(grid: Sequence[Atoms], pressure: float) -> Atoms:
    """The reference cell at ``pressure`` (GPa): cell matrices interpolated linearly between the grid's pressures.

    Outside the grid the nearest end is used. Scaled positions are those of the grid point below.
    """
    if not grid:
        raise ValueError('grid: empty')
    pressures = np.array([atoms.info['pressure'] for atoms in grid])
    index = int(np.searchsorted(pressures, pressure, side='right')) - 1
    if index < 0:
        low, high, weight = grid[0], grid[0], 0.0
    elif index >= len(grid) - 1:
        low, high, weight = grid[-1], grid[-1], 0.0
    else:
        low, high = grid[index], grid[index + 1]
        weight = (pressure - pressures[index]) / (pressures[index + 1] - pressures[index])
    cell = (1.0 - weight) * low.cell.array + weight * high.cell.array
    out = Atoms(low.numbers, scaled_positions=low.get_scaled_positions(), cell=cell, pbc=True)
    out.info['pressure'] = float(pressure)
    return out


# ------------------------------------------------------------------------------------------------ similarity


def snapshot_pressures(snapshots: Sequence[Atoms], window: int = 1) -> np.ndarray:
    """Instantaneous pressure (GPa) of each snapshot averaged over a centred window of ``window`` snapshots.

    Snapshots without ``info['pressure_instantaneous']`` use ``info['pressure_target']``.
    """
    checks.positive_integer(window, 'pressure_window')
    values = []
    for index, atoms in enumerate(snapshots):
        value = atoms.info.get('pressure_instantaneous', atoms.info.get('pressure_target'))
        if value is None:
            raise ValueError(f'snapshots[{index}]: no pressure_instantaneous or pressure_target in info')
        values.append(float(value))
    values = np.array(values)
    if window == 1 or len(values) < 2:
        return values
    half = window // 2
    return np.array([values[max(0, i - half) : i + half + 1].mean() for i in range(len(values))])


def trajectory_failure(snapshots: Sequence[Atoms], *, min_distance: float = 1.0, max_temperature: float = 1e5):
    """Index of the first snapshot where the MD failed (non-finite labels, atoms closer than ``min_distance`` Å,
    temperature above ``max_temperature`` K), or None if none did."""
    from aiida_gaprss.rss.neighbours import neighbour_list

    for index, atoms in enumerate(snapshots):
        energy = atoms.info.get('energy')
        forces = atoms.arrays.get('forces')
        if energy is None or not math.isfinite(float(energy)) or not np.isfinite(atoms.positions).all():
            return index
        if forces is not None and not np.isfinite(forces).all():
            return index
        if float(atoms.info.get('temperature', 0.0)) > max_temperature:
            return index
        if neighbour_list('d', atoms, min_distance).size:
            return index
    return None


def similarity_curve(
    snapshots: Sequence[Atoms],
    grid: Sequence[Atoms],
    *,
    pressure_window: int = 1,
    soap: Mapping | None = None,
    ramp_only: bool = True,
) -> dict:
    """SOAP similarity of each compression snapshot to the reference at the snapshot's pressure (paper Fig. 4).

    Parameters
    ----------
    snapshots : sequence of ase.Atoms
        Compression MD snapshots (:func:`aiida_gaprss.rss.md.compression_md`).
    grid : sequence of ase.Atoms
        :func:`pressure_reference_grid` (``info['pressure']`` on each).
    pressure_window : int
        Snapshots averaged into each pressure (:func:`snapshot_pressures`).
    soap : mapping, optional
        Overrides of :data:`SIMILARITY_SOAP`.
    ramp_only : bool
        Keep only snapshots with ``info['pressure_target']`` (the NPT ramp).

    Returns
    -------
    dict
        Lists ``pressure`` (GPa, windowed), ``similarity`` (to the pressure-adjusted reference), ``similarity_fixed``
        (to the lowest-pressure reference), ``pressure_target``, ``time_ps``, ``volume_per_atom``; ``soap``.
    """
    from aiida_gaprss.rss.soap import averaged_soap, soap_species

    params = dict(SIMILARITY_SOAP)
    if soap:
        unknown = sorted(set(soap) - set(SIMILARITY_SOAP))
        if unknown:
            raise ValueError(f'soap: unknown parameter {unknown[0]!r}; allowed: {sorted(SIMILARITY_SOAP)}')
        params.update(soap)
    frames = [atoms for atoms in snapshots if not ramp_only or 'pressure_target' in atoms.info]
    empty = {key: [] for key in ('pressure', 'similarity', 'similarity_fixed', 'pressure_target', 'time_ps')}
    if not frames:
        return {**empty, 'volume_per_atom': [], 'soap': params}
    pressures = snapshot_pressures(frames, pressure_window)
    references = [reference_at_pressure(grid, p) for p in pressures]
    zeta = checks.positive_number(params.pop('zeta'), 'soap.zeta')
    cells = list(frames) + references + [grid[0]]
    p = averaged_soap(cells, species=soap_species(cells), **params)
    n = len(frames)
    scaled = np.clip(np.einsum('ij,ij->i', p[:n], p[n : 2 * n]), 0.0, 1.0) ** zeta
    fixed = np.clip(p[:n] @ p[-1], 0.0, 1.0) ** zeta
    return {
        'pressure': pressures.tolist(),
        'similarity': scaled.tolist(),
        'similarity_fixed': fixed.tolist(),
        'pressure_target': [float(a.info.get('pressure_target', float('nan'))) for a in frames],
        'time_ps': [float(a.info.get('time_ps', float('nan'))) for a in frames],
        'volume_per_atom': [float(a.get_volume() / len(a)) for a in frames],
        'soap': {**params, 'zeta': zeta},
    }


def _sorted_curve(pressure, similarity) -> tuple[np.ndarray, np.ndarray]:
    pressure = np.asarray(pressure, dtype=float)
    similarity = np.asarray(similarity, dtype=float)
    if pressure.shape != similarity.shape or pressure.ndim != 1:
        raise ValueError(f'pressure, similarity: expected two 1-d sequences of one length, got {pressure.shape} '
                         f'and {similarity.shape}')  # fmt: skip
    keep = np.isfinite(pressure) & np.isfinite(similarity)
    order = np.argsort(pressure[keep], kind='stable')
    return pressure[keep][order], similarity[keep][order]


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    checks.positive_integer(window, 'window')
    half = int(window) // 2
    return np.array([values[max(0, i - half) : i + half + 1].mean() for i in range(len(values))])


def transition_level(pressure, similarity, *, fraction: float = 0.5, tail: float = 0.1) -> dict | None:
    """The similarity half-way (``fraction``) between the low-pressure and the high-pressure end of a curve.

    Parameters
    ----------
    pressure, similarity : sequence of float
        A similarity curve (:func:`similarity_curve`: ``pressure`` in GPa and ``similarity``), in any order;
        non-finite points are left out.
    fraction : float
        Where between the two ends the level lies (0.5: half-way).
    tail : float
        Fraction of the points, sorted by pressure, averaged into each end (at least one point).

    Returns
    -------
    dict or None
        ``low`` and ``high`` (mean similarity of the lowest- and highest-pressure ``tail`` of the points) and
        ``level`` (``low + fraction * (high - low)``); None for fewer than two points.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f'fraction: expected a number in (0, 1), got {fraction!r}')
    if not 0.0 < tail <= 0.5:
        raise ValueError(f'tail: expected a number in (0, 0.5], got {tail!r}')
    _, values = _sorted_curve(pressure, similarity)
    if len(values) < 2:
        return None
    count = max(1, int(round(tail * len(values))))
    low, high = float(values[:count].mean()), float(values[-count:].mean())
    return {'low': low, 'high': high, 'level': low + fraction * (high - low)}


def transition_pressure(
    pressure, similarity, *, level: float | None = None, window: int = 5, min_rise: float = TRANSITION_MIN_RISE
) -> float | None:
    """Pressure (GPa) at which a similarity curve rises through ``level`` for good: the transition pressure.

    The points are sorted by pressure and the similarity smoothed by a running mean over ``window`` points; the
    result is the linearly interpolated pressure of the last upward crossing of ``level`` by the smoothed curve,
    the one after which it stays at or above the level up to the highest pressure (noise that dips through the
    level before the rise does not count; a dip after it moves the crossing up).

    Parameters
    ----------
    pressure, similarity : sequence of float
        The curve (GPa, similarity); non-finite points are left out.
    level : float, optional
        The similarity to cross. None: half-way between this curve's own ends (:func:`transition_level`), if they
        differ by at least ``min_rise`` (else the result is None: a flat curve has no transition).
    window : int
        Points in the running mean (1: no smoothing).
    min_rise : float
        Least rise from the low- to the high-pressure end for a curve's own level (not used when ``level`` is given).

    Returns
    -------
    float or None
        The transition pressure in GPa; None if the smoothed curve ends below the level (never crossed), starts at
        or above it (no crossing inside the pressure range) or, without ``level``, does not rise by ``min_rise``.
    """
    p, values = _sorted_curve(pressure, similarity)
    if len(values) < 2:
        return None
    if level is None:
        ends = transition_level(p, values)
        if ends['high'] - ends['low'] < min_rise:
            return None
        level = ends['level']
    smooth = _running_mean(values, window)
    above = smooth >= level
    if not above[-1] or above.all():
        return None
    below = int(np.flatnonzero(~above)[-1])  # the last point below the level; every later point is above it
    s0, s1 = smooth[below], smooth[below + 1]
    return float(p[below] + (level - s0) / (s1 - s0) * (p[below + 1] - p[below]))


# ------------------------------------------------------------------------------------------------ melt-quench


def quench_metrics(
    quenched: Atoms,
    calculator,
    *,
    reference_energy_per_atom: float | None = None,
    relax: bool = True,
    fmax: float = 0.02,
    steps: int = 200,
    cutoff: float | None = None,
) -> tuple[dict, Atoms]:
    """Table I metrics of a melt-quenched cell, after a variable-cell relaxation at 0 GPa with ``calculator``.

    Returns
    -------
    (dict, ase.Atoms)
        :func:`~aiida_gaprss.rss.analysis.amorphous_metrics` (``N3``, ``N4``, ``N5`` fractions, ``H_inv``,
        ``bond_angle_mean``, ``bond_angle_width`` ...) plus ``energy_per_atom`` (eV), ``delta_e`` (eV/atom, if
        ``reference_energy_per_atom`` is given), ``relaxed``, ``relax_converged``, ``volume_per_atom``, ``natoms``;
        and the analysed structure (``info['energy']``).
    """
    from aiida_gaprss.rss.analysis import amorphous_metrics

    if relax:
        structure = relax_symmetric(quenched, calculator, fmax=fmax, steps=steps, symmetry=False)
    else:
        structure = Atoms(quenched.numbers, positions=quenched.positions, cell=quenched.cell, pbc=quenched.pbc)
        structure.calc = calculator
        structure.info['energy'] = float(structure.get_potential_energy())
        structure.calc = None
        structure.info['converged'] = None
    metrics = amorphous_metrics(structure, cutoff=cutoff, reference_energy_per_atom=reference_energy_per_atom)
    metrics.update(
        energy_per_atom=float(structure.info['energy']) / len(structure),
        relaxed=bool(relax),
        relax_converged=structure.info.get('converged'),
        volume_per_atom=float(structure.get_volume() / len(structure)),
        natoms=len(structure),
    )
    return metrics, structure


# ------------------------------------------------------------------------------------------------ cost


def speed_cell(kind: str = 'amorphous', natoms: int = 64, *, element: str = 'Si', seed: int = 0) -> Atoms:
    """The timing cell: ``'diamond'`` (the cubic supercell with the number of atoms nearest ``natoms``, 8 n³) or
    ``'amorphous'`` (``natoms`` random atoms at 20 Å³/atom, at least 2.1 Å apart: the neighbour count of a-Si)."""
    from aiida_gaprss.rss.md import random_start
    from aiida_gaprss.rss.phases import build_phase

    checks.positive_integer(natoms, 'speed_cell.natoms')
    if kind == 'diamond':
        n = max(1, round((natoms / 8) ** (1 / 3)))
        return build_phase(element, 'diamond', primitive=False) * (n, n, n)
    if kind == 'amorphous':
        return random_start(int(natoms), element, volume_per_atom=20.0, min_distance=2.1, seed=seed)
    raise ValueError(f"speed_cell.kind: expected 'amorphous' or 'diamond', got {kind!r}")


def md_cost(
    atoms: Atoms, calculator, *, steps: int = 10, repeats: int = 3, timestep_fs: float = 1.0, seed: int = 0
) -> float:
    """Seconds per MD step per atom: velocity-Verlet ``steps`` from the same positions and 300 K velocities, best of
    ``repeats`` (after one warm-up force call)."""
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    checks.positive_integer(steps, 'speed_steps')
    checks.positive_integer(repeats, 'speed_repeats')
    start = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    MaxwellBoltzmannDistribution(start, temperature_K=300.0, rng=np.random.default_rng(seed))
    best = float('inf')
    for _ in range(repeats):
        work = start.copy()
        work.calc = calculator
        work.get_forces()
        dynamics = VelocityVerlet(work, timestep_fs * units.fs)
        begin = time.perf_counter()
        dynamics.run(steps)
        best = min(best, time.perf_counter() - begin)
    return best / (steps * len(start))
