"""Energy–volume curves and the Birch–Murnaghan equation of state (GAP-RSS Fig. 3d–f).

:func:`energy_volume_scan` scales a structure isotropically over a range of volumes and relaxes it at each fixed
volume; :func:`fit_birch_murnaghan` fits the third-order Birch–Murnaghan equation

    E(V) = E0 + 9 V0 B0 / 16 · { [(V0/V)^(2/3) − 1]³ B0' + [(V0/V)^(2/3) − 1]² [6 − 4 (V0/V)^(2/3)] }

by non-linear least squares (scipy), started from a parabola through the lowest points.

Fixed-volume relaxation
-----------------------
``relax='positions'`` moves the atoms in the fixed, isotropically scaled cell. ``relax='shape'`` also lets the cell
shape change at constant volume (ASE's :class:`~ase.filters.FrechetCellFilter` with ``constant_volume=True``), which
non-cubic phases need (c/a of hcp, graphite's interlayer spacing, β-Sn, ...). The default ``relax='auto'`` relaxes the
shape for non-cubic cells (spglib space group < 195) and only the positions for cubic ones, whose shape is fixed by
symmetry; ``relax='none'`` evaluates the scaled structure as is.

Units: volumes Å³/atom, energies eV/atom, bulk modulus GPa.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms, units

from ..common import checks

logger = logging.getLogger(__name__)

__all__ = (
    'EosFit',
    'birch_murnaghan',
    'energy_volume_curves',
    'energy_volume_scan',
    'fit_birch_murnaghan',
    'fit_scan',
    'is_cubic',
    'scan_curve',
)

RELAX_MODES = ('auto', 'positions', 'shape', 'none')
_EV_PER_A3_TO_GPA = 1.0 / units.GPa  # 160.2177 GPa per eV/Å³


@dataclass(frozen=True)
class EosFit:
    """Result of a Birch–Murnaghan fit (per atom).

    Attributes
    ----------
    v0 : float
        Equilibrium volume, Å³/atom.
    e0 : float
        Minimum energy, eV/atom.
    b0 : float
        Bulk modulus, GPa.
    b0_prime : float
        Pressure derivative of the bulk modulus (dimensionless).
    rms_residual : float
        Root-mean-square residual of the fit, eV/atom.
    """

    v0: float
    e0: float
    b0: float
    b0_prime: float
    rms_residual: float

    def as_dict(self) -> dict:
        """Plain dict (JSON-serialisable floats)."""
        return {key: float(value) for key, value in asdict(self).items()}


def birch_murnaghan(volume, e0: float, v0: float, b0: float, b0_prime: float):
    """Third-order Birch–Murnaghan energy at ``volume`` (same units as ``v0``; ``b0`` in energy/volume units)."""
    eta = (v0 / np.asarray(volume, dtype=float)) ** (2.0 / 3.0)
    return e0 + 9.0 * v0 * b0 / 16.0 * ((eta - 1.0) ** 3 * b0_prime + (eta - 1.0) ** 2 * (6.0 - 4.0 * eta))


def fit_birch_murnaghan(volumes: Sequence[float], energies: Sequence[float]) -> EosFit:
    """Fit E(V) (Å³/atom, eV/atom) with the third-order Birch–Murnaghan equation.

    Raises
    ------
    ValueError
        If fewer than 5 finite points are given, volumes are not positive or distinct, or the minimum is not
        bracketed by the data (the fit would extrapolate V0).
    """
    from scipy.optimize import curve_fit

    v = np.asarray(volumes, dtype=float)
    e = np.asarray(energies, dtype=float)
    if v.ndim != 1 or v.shape != e.shape:
        raise ValueError(f'volumes: expected 1-D arrays of equal length, got shapes {v.shape} and {e.shape}')
    if v.size < 5:
        raise ValueError(f'volumes: need at least 5 points for a 4-parameter fit, got {v.size}')
    if not (np.isfinite(v).all() and np.isfinite(e).all()):
        raise ValueError('energies: volumes and energies must be finite')
    if np.any(v <= 0):
        raise ValueError('volumes: must be positive')
    if np.unique(v).size != v.size:
        raise ValueError('volumes: must be distinct')
    order = np.argsort(v)
    v, e = v[order], e[order]
    i_min = int(np.argmin(e))
    if i_min == 0 or i_min == v.size - 1:
        raise ValueError(
            f'volumes: the lowest energy is at the edge of the scan (V = {v[i_min]:.3f} Å³/atom); '
            'extend the volume range so that it brackets the minimum'
        )
    lo, hi = max(0, i_min - 2), min(v.size, i_min + 3)
    a, b, c = np.polyfit(v[lo:hi], e[lo:hi], 2) if hi - lo >= 3 else np.polyfit(v, e, 2)
    v0_guess = -b / (2 * a) if a > 0 else v[i_min]
    if not (v[0] <= v0_guess <= v[-1]):
        v0_guess = v[i_min]
    b0_guess = max(2.0 * a * v0_guess, 1e-4)  # B = V d²E/dV²
    e0_guess = float(np.polyval([a, b, c], v0_guess))
    p0 = (e0_guess, v0_guess, b0_guess, 4.0)
    try:
        params, _ = curve_fit(birch_murnaghan, v, e, p0=p0, maxfev=20000)
    except RuntimeError as exc:
        raise ValueError(f'energies: the Birch-Murnaghan fit did not converge: {exc}') from exc
    e0, v0, b0, bp = (float(x) for x in params)
    if not (v0 > 0 and b0 > 0 and all(math.isfinite(x) for x in params)):
        raise ValueError(f'energies: unphysical Birch-Murnaghan fit (V0 = {v0}, B0 = {b0})')
    rms = float(np.sqrt(np.mean((birch_murnaghan(v, *params) - e) ** 2)))
    return EosFit(v0=v0, e0=e0, b0=b0 * _EV_PER_A3_TO_GPA, b0_prime=bp, rms_residual=rms)


def is_cubic(atoms: Atoms, symprec: float = 1e-3) -> bool:
    """True if spglib finds a cubic space group (195–230) for ``atoms``."""
    import spglib

    dataset = spglib.get_symmetry_dataset(
        (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers), symprec=symprec
    )
    return dataset is not None and dataset.number >= 195


def _relax_fixed_volume(atoms: Atoms, mode: str, fmax: float, steps: int) -> tuple[bool, int]:
    """Relax ``atoms`` (calculator attached) in place at fixed volume; return (converged, steps taken)."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    target = FrechetCellFilter(atoms, constant_volume=True) if mode == 'shape' else atoms
    optimizer = BFGS(target, logfile=None)
    converged = bool(optimizer.run(fmax=fmax, steps=steps))
    return converged, int(optimizer.nsteps)


def energy_volume_scan(
    atoms: Atoms,
    calculator,
    volume_factors: Sequence[float] | None = None,
    *,
    volumes: Sequence[float] | None = None,
    relax: str = 'auto',
    fmax: float = 0.01,
    steps: int = 200,
    blas_threads: int | None = 1,
) -> list[Atoms]:
    """Energy–volume scan of one structure: isotropic scaling, then relaxation at fixed volume.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic structure, ideally already relaxed with ``calculator`` (the scan is around its volume).
    calculator : ASE calculator or dict
        A calculator, or a spec for :func:`~aiida_gaprss.rss.potentials.calculator_from_spec`.
    volume_factors : sequence of float, optional
        Volumes relative to the input volume (e.g. ``np.linspace(0.85, 1.15, 9)``); the default.
    volumes : sequence of float, optional
        Absolute volumes per atom (Å³/atom) instead of ``volume_factors`` (give exactly one of the two).
    relax : {'auto', 'positions', 'shape', 'none'}
        See the module docstring (``'auto'``: shape + positions for non-cubic cells, positions for cubic ones).
    fmax : float
        Force (and, with ``'shape'``, scaled stress) threshold, eV/Å.
    steps : int
        Maximum BFGS steps per volume.
    blas_threads : int or None
        BLAS threads during the scan (None: leave as is). 1 by default: the 3×3 matrix functions of the cell filter
        are much slower with several OpenBLAS threads on a loaded machine (see :mod:`aiida_gaprss.rss.relax`).

    Returns
    -------
    list of ase.Atoms
        One relaxed structure per volume (ascending volume), without calculator, with ``info['energy']`` (eV, total),
        ``info['volume_per_atom']`` (Å³), ``info['energy_per_atom']`` (eV), ``info['volume_factor']``,
        ``info['converged']``, ``info['n_steps']``, ``info['relax']``, ``arrays['forces']`` and other ``info`` of
        the input (e.g. ``phase``).
    """
    from .potentials import calculator_from_spec

    if not isinstance(atoms, Atoms) or len(atoms) == 0:
        raise ValueError('atoms: expected a non-empty ase.Atoms')
    if not np.all(atoms.pbc) or abs(atoms.cell.volume) < 1e-8:
        raise ValueError('atoms: expected a fully periodic structure with a non-degenerate cell')
    if relax not in RELAX_MODES:
        raise ValueError(f'relax: expected one of {RELAX_MODES}, got {relax!r}')
    if (volume_factors is None) == (volumes is None):
        if volume_factors is None:
            volume_factors = np.linspace(0.88, 1.12, 9)
        else:
            raise ValueError('volumes: give either volume_factors or volumes, not both')
    v_input = atoms.get_volume() / len(atoms)
    if volumes is not None:
        values = np.asarray(volumes, dtype=float)
        field = 'volumes'
        factors = values / v_input
    else:
        values = np.asarray(volume_factors, dtype=float)
        field = 'volume_factors'
        factors = values
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all() or np.any(values <= 0):
        raise ValueError(f'{field}: expected a non-empty list of positive numbers')
    if not (isinstance(fmax, int | float) and fmax > 0):
        raise ValueError(f'fmax: expected a positive number (eV/Å), got {fmax!r}')
    checks.non_negative_integer(steps, 'steps')
    if isinstance(calculator, dict):
        calculator = calculator_from_spec(calculator)

    if blas_threads is not None:
        checks.positive_integer(blas_threads, 'blas_threads', expected='None or a positive integer')
    if blas_threads is None:
        return _scan(atoms, calculator, factors, relax, fmax, steps)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=blas_threads):
        return _scan(atoms, calculator, factors, relax, fmax, steps)


def _scan(atoms: Atoms, calculator, factors: np.ndarray, relax: str, fmax: float, steps: int) -> list[Atoms]:
    """Body of :func:`energy_volume_scan` (arguments checked)."""
    mode = relax
    if relax == 'auto':
        mode = 'positions' if is_cubic(atoms) else 'shape'
    base_info = {k: v for k, v in atoms.info.items() if k not in ('energy', 'virial', 'stress', 'free_energy')}
    frames = []
    for factor in np.sort(factors):
        work = atoms.copy()
        work.calc = None
        work.set_cell(atoms.cell.array * factor ** (1.0 / 3.0), scale_atoms=True)
        work.calc = calculator
        converged, n_steps = True, 0
        if mode != 'none':
            converged, n_steps = _relax_fixed_volume(work, mode, fmax, steps)
        energy = float(work.get_potential_energy())
        forces = np.array(work.get_forces(), dtype=float)
        frame = Atoms(work.get_chemical_symbols(), positions=work.positions, cell=work.cell.array, pbc=work.pbc)
        frame.info.update(base_info)
        n = len(frame)
        frame.info.update(
            energy=energy,
            energy_per_atom=energy / n,
            volume_per_atom=float(frame.get_volume() / n),
            volume_factor=float(factor),
            converged=converged,
            n_steps=n_steps,
            relax=mode,
        )
        frame.arrays['forces'] = forces
        frames.append(frame)
        if not converged:
            logger.warning('E(V) point at volume factor %.3f not converged in %d steps', factor, steps)
    return frames


def fit_scan(frames: Sequence[Atoms]) -> EosFit:
    """Birch–Murnaghan fit of the frames returned by :func:`energy_volume_scan`."""
    frames = list(frames)
    for index, frame in enumerate(frames):
        if 'volume_per_atom' not in frame.info or 'energy_per_atom' not in frame.info:
            raise ValueError(f'frames[{index}]: missing volume_per_atom/energy_per_atom (not from energy_volume_scan)')
    return fit_birch_murnaghan([f.info['volume_per_atom'] for f in frames], [f.info['energy_per_atom'] for f in frames])


def scan_curve(frames: Sequence[Atoms], name: str = '') -> dict:
    """The E(V) curve of the frames of :func:`energy_volume_scan` as plain numbers, with its Birch–Murnaghan fit.

    Returns
    -------
    dict
        ``{'volumes': [...], 'energies': [...] (Å³/atom, eV/atom), 'converged': bool (all points), 'fit':
        EosFit.as_dict() or None if the fit failed, 'fit_error': message or None}``; a failed fit is logged with
        ``name``.
    """
    frames = list(frames)
    curve = {
        'volumes': [float(f.info['volume_per_atom']) for f in frames],
        'energies': [float(f.info['energy_per_atom']) for f in frames],
        'converged': all(bool(f.info['converged']) for f in frames),
        'fit': None,
        'fit_error': None,
    }
    try:
        curve['fit'] = fit_scan(frames).as_dict()
    except ValueError as exception:
        curve['fit_error'] = str(exception)
        logger.warning('E(V) fit of %s failed: %s', name, exception)
    return curve


def energy_volume_curves(
    structures: dict[str, Atoms], calculator, volume_factors: Sequence[float] | None = None, **scan_options
) -> dict[str, dict]:
    """E(V) scans and Birch–Murnaghan fits of several (relaxed) phases with one calculator.

    Returns
    -------
    dict
        ``name -> {'volumes': [...], 'energies': [...] (Å³/atom, eV/atom, ascending volume), 'fit': EosFit.as_dict()
        or None if the fit failed, 'fit_error': message or None, 'converged': bool (all points)}`` — the
        ``(volumes, energies)`` pairs are what :func:`aiida_gaprss.plots.plot_energy_volume` takes.
    """
    from .potentials import calculator_from_spec

    if not isinstance(structures, dict) or not structures:
        raise ValueError('structures: expected a non-empty dict name -> Atoms')
    if isinstance(calculator, dict):
        calculator = calculator_from_spec(calculator)
    return {
        name: scan_curve(energy_volume_scan(atoms, calculator, volume_factors, **scan_options), name)
        for name, atoms in structures.items()
    }
