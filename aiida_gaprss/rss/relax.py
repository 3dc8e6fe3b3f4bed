"""Variable-cell enthalpy minimisation of (random) cells, the relaxation engine of GAP-RSS.

Each structure is relaxed at a given external pressure p (GPa) by minimising the enthalpy H = E + pV over atomic
positions and cell with ASE's preconditioned LBFGS (:class:`ase.optimize.precon.PreconLBFGS`) acting on an
:class:`ase.filters.FrechetCellFilter` with ``scalar_pressure = p * ase.units.GPa``. Every optimiser step is kept as
a frame (GAP-RSS selects later training data from *all* frames of all trajectories).

Frames
------
Each frame is a plain :class:`ase.Atoms` (no calculator) with

* ``info['energy']`` (eV, total), ``arrays['forces']`` (eV/Angstrom), ``info['virial']`` (3x3, eV;
  virial = -stress * volume) -- the calculator's labels of that geometry;
* ``info['enthalpy']`` (eV, E + pV), ``info['pressure']`` (GPa, the applied one), ``info['volume']`` (Angstrom^3);
* ``info['trajectory_id']`` (int, index of the structure in the input list), ``info['step']`` (0 = input
  geometry, then consecutive), ``info['config_type'] = 'rss_relax'``;
* ``info['optimizer']`` (the optimiser that produced this frame, e.g. ``'PreconLBFGS'`` or ``'FIRE'``);
* per-trajectory outcome, written on **every** frame of the trajectory (the final flags of the whole trajectory):
  ``info['converged']`` (bool), ``info['status']`` (``'converged'``, ``'max_steps'``, ``'exploded'``,
  ``'collapsed'`` or ``'failed'``), ``info['n_steps']`` (last step), ``info['fallback']`` (bool, the fallback
  optimiser took over), ``info['n_linesearch_resets']`` (PreconLBFGS line-search failures that reset the Hessian),
  ``info['n_linesearch_errors']`` (errors logged by ASE's Armijo line search, mostly 'direction not downhill';
  they are counted here instead of being printed);
  ``info['final']`` is True on the last frame only. ``info['error']`` holds the reason when status is
  ``'failed'``, ``'exploded'`` or ``'collapsed'``.

Other ``info`` entries of the input structure (e.g. ``origin``, ``iteration``) are carried over, except labels
(energy, virial, stress, forces, ...), which would be stale.

Convergence
-----------
Converged when the largest atomic force is below ``fmax`` (eV/Angstrom) **and** the largest component of the
residual stress sigma + p*1 is below ``smax`` (GPa). The same criterion is applied to whichever optimiser runs.

Guards
------
A trajectory is stopped (never raising) and flagged when the volume per atom exceeds ``explode_factor`` times the
starting one (``'exploded'``), falls below ``collapse_factor`` times it or two atoms come closer than
``min_distance`` (``'collapsed'``), or the calculator/optimiser raises or returns non-finite values (``'failed'``).
The volume guard is also applied before every calculator call (line-search trial points included), so a runaway
cell never reaches the calculator. If PreconLBFGS raises (e.g. its line search fails twice in a row, or the
preconditioner cannot be built for an odd cell), the relaxation restarts from the last kept frame with the
``fallback`` optimiser (FIRE by default), recorded in ``info['optimizer']`` and ``info['fallback']``. Note that
PreconLBFGS itself treats a ``RuntimeError``/``ValueError`` raised inside its line search (by the calculator too)
as a line-search failure: it resets its Hessian and retries once before raising.

BLAS is limited to one thread during a relaxation (``blas_threads``); quippy calculators are asked for energy,
forces and stress in one call; the preconditioner is ASE's ``'auto'`` (none below 100 atoms; docs/science.md).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import multiprocessing
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from ase import Atoms, units
from ase.filters import FrechetCellFilter
from threadpoolctl import threadpool_limits

from ..common import checks
from .neighbours import neighbour_list
from .potentials import calculator_from_spec, validate_calculator_spec

logger = logging.getLogger(__name__)

__all__ = [
    'STATUSES',
    'relax_one',
    'relax_structures',
    'split_trajectories',
    'final_frames',
    'status_counts',
]

STATUSES = ('converged', 'max_steps', 'exploded', 'collapsed', 'failed')
CONFIG_TYPE = 'rss_relax'
_OPTIMIZERS = ('PreconLBFGS', 'LBFGS', 'FIRE', 'BFGS')
_LABEL_KEYS = {
    'energy',
    'free_energy',
    'virial',
    'stress',
    'forces',
    'enthalpy',
    'energy_sigma',
    'force_sigma',
    'virial_sigma',
}
_OUR_KEYS = {
    'pressure',
    'volume',
    'trajectory_id',
    'step',
    'converged',
    'status',
    'config_type',
    'optimizer',
    'fallback',
    'n_steps',
    'n_linesearch_resets',
    'n_linesearch_errors',
    'final',
    'error',
}


class _StopTrajectoryError(Exception):
    """Raised inside the optimiser loop to end a trajectory with a status."""

    def __init__(self, status: str, message: str = ''):
        super().__init__(message or status)
        self.status = status
        self.message = message


class _LineSearchLogCounter(logging.Handler):
    """Counts (and keeps quiet) the errors ASE's Armijo line search logs ('Passed direction which is not downhill')."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


class _QuietLineSearch:
    """Context: route ``ase.utils.linesearcharmijo`` warnings/errors to a counter instead of stderr."""

    name = 'ase.utils.linesearcharmijo'

    def __enter__(self):
        self.logger = logging.getLogger(self.name)
        self.counter = _LineSearchLogCounter()
        self.propagate = self.logger.propagate
        self.logger.addHandler(self.counter)
        self.logger.propagate = False
        return self.counter

    def __exit__(self, *exc):
        self.logger.removeHandler(self.counter)
        self.logger.propagate = self.propagate
        return False


class _GuardedCalculator:
    """Proxy refusing to evaluate exploded or collapsed cells (raises :class:`_StopTrajectoryError` instead)."""

    def __init__(self, calc, v_min: float, v_max: float):
        self._calc = calc
        self._v_min = v_min
        self._v_max = v_max

    def _check(self, atoms: Atoms) -> None:
        v = atoms.get_volume() / len(atoms)
        if not np.isfinite(v) or v > self._v_max:
            raise _StopTrajectoryError('exploded', f'volume per atom {v:.4g} A^3 above the limit {self._v_max:.4g}')
        if v < self._v_min:
            raise _StopTrajectoryError('collapsed', f'volume per atom {v:.4g} A^3 below the limit {self._v_min:.4g}')

    def get_potential_energy(self, atoms=None, force_consistent=False):
        self._check(atoms)
        return self._calc.get_potential_energy(atoms, force_consistent=force_consistent)

    def get_forces(self, atoms=None):
        self._check(atoms)
        return self._calc.get_forces(atoms)

    def get_stress(self, atoms=None):
        self._check(atoms)
        return self._calc.get_stress(atoms)

    def get_property(self, name, atoms=None, allow_calculation=True):
        self._check(atoms)
        return self._calc.get_property(name, atoms, allow_calculation)

    def __getattr__(self, name):
        return getattr(self._calc, name)


def _prepare_calculator(calc):
    """Ask quippy potentials for energy, forces and stress in one call (otherwise stress costs a second call)."""
    if hasattr(calc, 'set_default_properties') and hasattr(calc, 'get_default_properties'):
        props = list(calc.get_default_properties())
        for name in ('energy', 'forces', 'stress'):
            if name not in props:
                props.append(name)
        calc.set_default_properties(props)
    return calc


def _check_structure(atoms, index: int) -> None:
    where = f'atoms_list[{index}]'
    if not isinstance(atoms, Atoms):
        raise ValueError(f'{where}: expected an ase.Atoms, got {type(atoms).__name__}')
    if len(atoms) == 0:
        raise ValueError(f'{where}: no atoms')
    if not np.all(atoms.pbc):
        raise ValueError(f'{where}: variable-cell relaxation needs pbc on all three axes, got {atoms.pbc.tolist()}')
    volume = abs(np.linalg.det(atoms.cell.array))
    if not np.isfinite(volume) or volume < 1e-6:
        raise ValueError(f'{where}: cell has zero volume')
    if not np.all(np.isfinite(atoms.positions)):
        raise ValueError(f'{where}: non-finite positions')


def _check_options(fmax, steps, smax, explode_factor, collapse_factor, min_distance, optimizer, fallback):
    if not (isinstance(fmax, (int, float)) and fmax > 0):
        raise ValueError(f'fmax: expected a positive number (eV/A), got {fmax!r}')
    checks.non_negative_integer(steps, 'steps')
    if not (isinstance(smax, (int, float)) and smax > 0):
        raise ValueError(f'smax: expected a positive number (GPa), got {smax!r}')
    if not (isinstance(explode_factor, (int, float)) and explode_factor > 1):
        raise ValueError(f'explode_factor: expected a number > 1, got {explode_factor!r}')
    if not (isinstance(collapse_factor, (int, float)) and 0 <= collapse_factor < 1):
        raise ValueError(f'collapse_factor: expected a number in [0, 1), got {collapse_factor!r}')
    if not (isinstance(min_distance, (int, float)) and min_distance >= 0):
        raise ValueError(f'min_distance: expected a non-negative number (A), got {min_distance!r}')
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f'optimizer: expected one of {_OPTIMIZERS}, got {optimizer!r}')
    if fallback is not None and fallback not in _OPTIMIZERS:
        raise ValueError(f'fallback: expected None or one of {_OPTIMIZERS}, got {fallback!r}')


def _make_optimizer(name: str, filtered, precon, maxstep):
    from ase.optimize import BFGS, FIRE, LBFGS
    from ase.optimize.precon import PreconLBFGS

    if name == 'PreconLBFGS':
        with warnings.catch_warnings():
            # precon='auto' warns that small systems get no preconditioner
            warnings.simplefilter('ignore', UserWarning)
            return PreconLBFGS(filtered, precon=precon, logfile=None, maxstep=maxstep)
    kwargs = {'logfile': None}
    if maxstep is not None:
        kwargs['maxstep'] = maxstep
    return {'LBFGS': LBFGS, 'FIRE': FIRE, 'BFGS': BFGS}[name](filtered, **kwargs)


def _run_optimizer(name, work, p_ev, precon, maxstep, fmax, smax_ev, steps, frames, record, is_converged) -> bool:
    """Run one optimiser on ``work`` until convergence or the step budget; frames are kept by ``record``."""
    filtered = FrechetCellFilter(work, scalar_pressure=p_ev)
    opt = _make_optimizer(name, filtered, precon, maxstep)
    opt.gradient_converged = is_converged  # one criterion for every optimiser
    if hasattr(opt, 'smax') or name == 'PreconLBFGS':
        opt.smax = smax_ev
    restart = bool(frames)
    skip = {'first': restart}

    def observer():
        if skip['first']:  # a fallback's step 0 is the frame already kept
            skip['first'] = False
            return
        record()

    opt.attach(observer, interval=1)
    remaining = steps - (frames[-1].info['step'] if restart else 0)
    if restart and remaining <= 0:
        return is_converged()
    converged = False
    for flag in opt.irun(fmax=fmax, steps=remaining):
        converged = flag
    return bool(converged)


def relax_one(
    atoms: Atoms,
    calculator,
    pressure: float = 0.0,
    *,
    fmax: float = 0.01,
    steps: int = 300,
    smax: float = 0.1,
    trajectory_id: int = 0,
    optimizer: str = 'PreconLBFGS',
    precon='auto',
    fallback: str | None = 'FIRE',
    maxstep: float | None = None,
    explode_factor: float = 10.0,
    collapse_factor: float = 0.1,
    min_distance: float = 0.5,
    blas_threads: int | None = 1,
) -> list[Atoms]:
    """Relax one structure at constant external pressure and return every frame.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic starting structure (not modified).
    calculator : ase calculator or dict
        A calculator, or a spec accepted by :func:`~aiida_gaprss.rss.potentials.calculator_from_spec`.
    pressure : float
        External pressure in GPa.
    fmax : float
        Force convergence threshold in eV/Angstrom.
    steps : int
        Maximum number of optimiser steps (frames are steps 0..steps).
    smax : float
        Threshold on the residual stress (sigma + p) in GPa.
    trajectory_id : int
        Stored in every frame's ``info['trajectory_id']``.
    optimizer : str
        ``'PreconLBFGS'`` (default, the paper's choice), ``'LBFGS'``, ``'BFGS'`` or ``'FIRE'``.
    precon : str or None
        Preconditioner for PreconLBFGS: ``'auto'`` (default, ASE's own choice: ``'Exp'`` from 100 atoms, none
        below), ``'Exp'``, ``'C1'``, ``'Pfrommer'`` or None. On 20 random 6-24-atom Si cells at 1 GPa with SW,
        forcing ``'Exp'`` converged 16/20 in 300 steps (mean 220 steps) against 18/20 (mean 178) for ``'auto'``.
    fallback : str or None
        Optimiser that takes over, from the last kept frame, if the first one raises. None: mark as failed.
    maxstep : float or None
        Optimiser step cap in Angstrom (None: the optimiser's default, 0.04 for PreconLBFGS, 0.2 for the others).
    explode_factor, collapse_factor : float
        Stop when the volume per atom leaves [collapse_factor, explode_factor] times the starting one.
    min_distance : float
        Stop as ``'collapsed'`` when two atoms come closer than this (Angstrom).
    blas_threads : int or None
        BLAS threads during the relaxation (None: leave as is). The default 1 matters: the 3x3 matrix functions of
        FrechetCellFilter (expm, logm) ran 12x slower with 2 OpenBLAS threads on a loaded 2-core machine.

    Returns
    -------
    list of ase.Atoms
        The frames, step 0 (input geometry) first; see the module docstring for their ``info``.
    """
    _check_options(fmax, steps, smax, explode_factor, collapse_factor, min_distance, optimizer, fallback)
    _check_structure(atoms, trajectory_id)
    if blas_threads is not None:
        checks.positive_integer(blas_threads, 'blas_threads', expected='None or a positive integer')
    try:
        pressure = float(pressure)
    except (TypeError, ValueError):
        raise ValueError(f'pressure: expected a number (GPa), got {pressure!r}') from None
    if not np.isfinite(pressure):
        raise ValueError(f'pressure: expected a finite number (GPa), got {pressure!r}')
    limits = threadpool_limits(limits=blas_threads) if blas_threads is not None else contextlib.nullcontext()
    with limits:
        return _relax_one(
            atoms,
            calculator,
            pressure,
            fmax=fmax,
            steps=steps,
            smax=smax,
            trajectory_id=trajectory_id,
            optimizer=optimizer,
            precon=precon,
            fallback=fallback,
            maxstep=maxstep,
            explode_factor=explode_factor,
            collapse_factor=collapse_factor,
            min_distance=min_distance,
        )


def _relax_one(
    atoms,
    calculator,
    pressure,
    *,
    fmax,
    steps,
    smax,
    trajectory_id,
    optimizer,
    precon,
    fallback,
    maxstep,
    explode_factor,
    collapse_factor,
    min_distance,
) -> list[Atoms]:
    """Body of :func:`relax_one` (arguments already checked)."""
    if isinstance(calculator, dict):
        calculator = calculator_from_spec(calculator)
    calculator = _prepare_calculator(calculator)

    p_ev = pressure * units.GPa
    smax_ev = smax * units.GPa
    work = atoms.copy()
    work.calc = None
    base_info = {k: v for k, v in atoms.info.items() if k not in _LABEL_KEYS and k not in _OUR_KEYS}
    work.info = {}
    v0 = work.get_volume() / len(work)
    work.calc = _GuardedCalculator(calculator, collapse_factor * v0, explode_factor * v0)

    frames: list[Atoms] = []
    state = {'optimizer': optimizer, 'resets': 0, 'not_downhill': 0}

    def record():
        energy = work.get_potential_energy()
        forces = work.get_forces()
        stress = work.get_stress(voigt=False)
        if not (np.isfinite(energy) and np.all(np.isfinite(forces)) and np.all(np.isfinite(stress))):
            raise _StopTrajectoryError('failed', 'calculator returned non-finite energy, forces or stress')
        volume = work.get_volume()
        frame = Atoms(work.get_chemical_symbols(), positions=work.positions, cell=work.cell.array, pbc=work.pbc)
        frame.info.update(copy.deepcopy(base_info))
        frame.info.update(
            energy=float(energy),
            enthalpy=float(energy + p_ev * volume),
            pressure=pressure,
            volume=float(volume),
            virial=-stress * volume,
            trajectory_id=int(trajectory_id),
            step=len(frames),
            config_type=CONFIG_TYPE,
            optimizer=state['optimizer'],
        )
        frame.arrays['forces'] = np.array(forces, dtype=float)
        frames.append(frame)
        if min_distance > 0 and len(work) > 0:
            d = neighbour_list('d', work, min_distance)
            if len(d):
                raise _StopTrajectoryError(
                    'collapsed', f'interatomic distance {d.min():.3f} A below min_distance {min_distance}'
                )

    def is_converged(*_args) -> bool:
        f = work.get_forces()
        s = work.get_stress(voigt=False) + p_ev * np.eye(3)
        return bool(np.sqrt((f**2).sum(axis=1)).max() < fmax and np.abs(s).max() < smax_ev)

    status, error, used_fallback = None, None, False
    names = [optimizer] + ([fallback] if fallback is not None and fallback != optimizer else [])
    for attempt, name in enumerate(names):
        state['optimizer'] = name
        if attempt > 0:
            # restart from the last kept frame, with the fallback optimiser
            used_fallback = True
            work.set_cell(frames[-1].cell.array, scale_atoms=False)
            work.positions = frames[-1].positions
        with warnings.catch_warnings(record=True) as caught, _QuietLineSearch() as not_downhill:
            warnings.simplefilter('always')
            try:
                converged = _run_optimizer(
                    name, work, p_ev, precon, maxstep, fmax, smax_ev, steps, frames, record, is_converged
                )
                status = 'converged' if converged else 'max_steps'
            except _StopTrajectoryError as stop:
                status, error = stop.status, stop.message
            except Exception as exc:  # the optimiser or the calculator raised: fall back, or fail
                status, error = 'failed', f'{name}: {type(exc).__name__}: {exc}'
                logger.debug('trajectory %d: %s', trajectory_id, error)
            finally:
                state['resets'] += sum('linesearch failed' in str(w.message) for w in caught)
                state['not_downhill'] += not_downhill.count
        if status != 'failed' or not frames:
            break

    if not frames:
        logger.warning('trajectory %d: no frame could be computed (%s)', trajectory_id, error)
        return frames
    n_steps = frames[-1].info['step']
    for frame in frames:
        frame.info.update(
            converged=status == 'converged',
            status=status,
            n_steps=n_steps,
            fallback=used_fallback,
            n_linesearch_resets=state['resets'],
            n_linesearch_errors=state['not_downhill'],
            final=False,
        )
        if error and status in ('failed', 'exploded', 'collapsed'):
            frame.info['error'] = error
    frames[-1].info['final'] = True
    logger.debug('trajectory %d: %s after %d steps', trajectory_id, status, n_steps)
    return frames


# ---------------------------------------------------------------------------------------------- parallel driver

_WORKER: dict = {}


def _worker_init(spec: dict, options: dict) -> None:
    threads = options.get('blas_threads', 1)
    if threads is not None:
        # the limit stays for the life of the worker (the per-call limit in relax_one then costs nothing)
        _WORKER['limits'] = threadpool_limits(limits=threads)
    _WORKER['calc'] = calculator_from_spec(spec)
    _WORKER['options'] = options


def _worker_run(task):
    index, atoms, pressure = task
    start = time.perf_counter()
    try:
        frames = relax_one(atoms, _WORKER['calc'], pressure, trajectory_id=index, **_WORKER['options'])
    except ValueError:
        raise
    except Exception as exc:  # never lose the batch for one structure
        logger.warning('trajectory %d failed outside the optimiser: %s', index, exc)
        frames = []
    return index, frames, time.perf_counter() - start


def _normalise_pressures(pressures, n: int) -> np.ndarray:
    arr = np.asarray(pressures, dtype=float) if not np.isscalar(pressures) else np.full(n, float(pressures))
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f'pressures: expected a number or {n} values (one per structure), got shape {arr.shape}')
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        raise ValueError(f'pressures[{bad[0]}]: expected a finite number (GPa), got {arr[bad[0]]}')
    return arr


def relax_structures(
    atoms_list: Sequence[Atoms],
    calculator_spec: dict,
    pressures,
    *,
    fmax: float = 0.01,
    steps: int = 300,
    processes: int = 2,
    seed: int | None = None,
    progress: bool = False,
    rattle: float = 0.0,
    on_trajectory: Callable[[int, list[Atoms]], None] | None = None,
    **relax_options,
) -> list[Atoms]:
    """Relax many structures in parallel and return all frames of all trajectories.

    Parameters
    ----------
    atoms_list : sequence of ase.Atoms
        Periodic starting structures; structure ``i`` gets ``info['trajectory_id'] = i``.
    calculator_spec : dict
        Picklable calculator spec (see :func:`~aiida_gaprss.rss.potentials.calculator_from_spec`); each worker
        process builds its calculator from it once.
    pressures : float or sequence of float
        External pressure(s) in GPa, one per structure or one for all.
    fmax : float
        Force threshold, eV/Angstrom.
    steps : int
        Maximum optimiser steps per structure.
    processes : int
        Worker processes (1: run in this process). Structures are handed out one at a time.
    seed : int or None
        Seeds the optional ``rattle`` of starting positions (per structure, independent of ``processes``); the
        relaxation itself is deterministic.
    progress : bool
        Show a tqdm progress bar (or log progress if tqdm is missing).
    rattle : float
        Standard deviation (Angstrom) of a Gaussian displacement applied to the starting positions; 0 = none.
    on_trajectory : callable or None
        Called as ``on_trajectory(index, frames)`` in this process as soon as trajectory ``index`` is finished (in
        the order trajectories finish), e.g. to write its frames at once so a job killed part-way keeps them.
    **relax_options
        Passed to :func:`relax_one` (``smax``, ``optimizer``, ``precon``, ``fallback``, ``maxstep``,
        ``explode_factor``, ``collapse_factor``, ``min_distance``, ``blas_threads``).

    Returns
    -------
    list of ase.Atoms
        All frames, ordered by trajectory then step.
    """
    atoms_list = list(atoms_list)
    n = len(atoms_list)
    spec = validate_calculator_spec(calculator_spec)
    for i, atoms in enumerate(atoms_list):
        _check_structure(atoms, i)
    p = _normalise_pressures(pressures, n)
    checks.positive_integer(processes, 'processes')
    if not (isinstance(rattle, (int, float)) and rattle >= 0):
        raise ValueError(f'rattle: expected a non-negative number (A), got {rattle!r}')
    unknown = set(relax_options) - {
        'smax',
        'optimizer',
        'precon',
        'fallback',
        'maxstep',
        'explode_factor',
        'collapse_factor',
        'min_distance',
        'blas_threads',
    }
    if unknown:
        raise ValueError(f'{sorted(unknown)[0]}: unknown relaxation option')
    options = dict(relax_options, fmax=fmax, steps=steps)
    _check_options(
        fmax,
        steps,
        options.get('smax', 0.1),
        options.get('explode_factor', 10.0),
        options.get('collapse_factor', 0.1),
        options.get('min_distance', 0.5),
        options.get('optimizer', 'PreconLBFGS'),
        options.get('fallback', 'FIRE'),
    )
    if n == 0:
        return []

    starts = []
    children = np.random.SeedSequence(seed).spawn(n) if rattle > 0 else [None] * n
    for atoms, child in zip(atoms_list, children, strict=True):
        start = atoms.copy()
        start.calc = None
        if rattle > 0:
            start.positions += np.random.default_rng(child).normal(scale=rattle, size=start.positions.shape)
        starts.append(start)
    tasks = [(i, starts[i], float(p[i])) for i in range(n)]

    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc='relax', unit='cell')
        except ImportError:
            bar = None
    results: dict[int, list[Atoms]] = {}
    t0 = time.perf_counter()

    def done(index, frames):
        results[index] = frames
        if on_trajectory is not None:
            on_trajectory(index, frames)
        if bar is not None:
            bar.update(1)
        elif progress:
            logger.info('relaxed %d/%d structures (%.1f s)', len(results), n, time.perf_counter() - t0)

    if processes == 1 or n == 1:
        _worker_init(spec, options)
        try:
            for task in tasks:
                index, frames, _ = _worker_run(task)
                done(index, frames)
        finally:
            if 'limits' in _WORKER:
                _WORKER['limits'].restore_original_limits()
            _WORKER.clear()
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context('fork' if 'fork' in methods else 'spawn')
        with ctx.Pool(min(processes, n), initializer=_worker_init, initargs=(spec, options)) as pool:
            for index, frames, _ in pool.imap_unordered(_worker_run, tasks, chunksize=1):
                done(index, frames)
    if bar is not None:
        bar.close()

    out: list[Atoms] = []
    for i in range(n):
        out.extend(results.get(i, []))
    counts = status_counts(out)
    logger.info('relaxed %d structures in %.1f s: %s', n, time.perf_counter() - t0, counts)
    return out


# ---------------------------------------------------------------------------------------------- helpers on frames


def split_trajectories(frames: Sequence[Atoms]) -> dict[int, list[Atoms]]:
    """Group frames by ``info['trajectory_id']`` (order of steps kept)."""
    out: dict[int, list[Atoms]] = {}
    for frame in frames:
        out.setdefault(int(frame.info['trajectory_id']), []).append(frame)
    return out


def final_frames(frames: Sequence[Atoms]) -> list[Atoms]:
    """The last frame of every trajectory, in trajectory order."""
    return [traj[-1] for _, traj in sorted(split_trajectories(frames).items())]


def status_counts(frames: Sequence[Atoms]) -> dict[str, int]:
    """Number of trajectories per final status."""
    counts = dict.fromkeys(STATUSES, 0)
    for frame in final_frames(frames):
        counts[frame.info['status']] = counts.get(frame.info['status'], 0) + 1
    return counts
