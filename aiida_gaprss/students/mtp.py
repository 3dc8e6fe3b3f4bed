"""Moment Tensor Potential students fitted with ``motep`` (MOTEP: moment tensor potentials in Python).

The student of indirect learning (seed 003) is an MTP (Shapeev, Multiscale Model. Simul. 14, 1153 (2016)) of
maximum level ``lev_max`` fitted to teacher-labelled data. ``motep`` (PyPI, MIT) trains and evaluates MTPs in the
MLIP-2 ``.mtp`` file format with a compiled C engine and ships an ASE calculator. It does not ship the untrained
MLIP-2 basis templates (``untrained_mtps/NN.mtp``), so this package carries them, stripped of coefficients, in
``untrained_mtps/NN.mtp.gz`` for even levels 2--24 (the basis definitions -- ``alpha_index_basic``,
``alpha_index_times``, ``alpha_moment_mapping`` -- of MLIP-2, taken from motep's MIT-licensed test data; moment
counts 1, 2, 8, 18, 41, 84, 174, 350, 718, 1352, 2621, 4991 for levels 2--24, as in motep's
``moments_count_to_level_map``). Radial basis: Chebyshev, 8 functions, ``min_dist`` 1.5 Angstrom (paper
Table S2), ``max_dist`` = the cut-off.

Fit protocol (:func:`fit_student`): linear least squares for the moment and species coefficients at random radial
coefficients, then L-BFGS-B on all parameters until the loss stops falling (``tolerance`` over ``window``
iterations) or ``max_iter`` iterations, then linear least squares again. Loss
weights energy : force : stress = 10 : 1 : 0.01 (paper; motep's loss is per atom for energies and per
configuration for all terms).

Files written into the student's folder: :data:`POTENTIAL_FILENAME` (MLIP-2 legacy format, also readable by
MLIP-2's own tools and its LAMMPS interface) and :data:`SETTINGS_FILENAME` (settings, species, training errors).
There is no MTP pair style in Debian's LAMMPS (``pair_style mlip`` needs the separately built MLIP-2 interface),
so the student is evaluated through its ASE calculator.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import atomic_numbers, chemical_symbols

from aiida_gaprss.common import checks

logger = logging.getLogger(__name__)

__all__ = [
    'AVAILABLE_LEVELS',
    'level_key',
    'POTENTIAL_FILENAME',
    'SETTINGS_FILENAME',
    'DEFAULT_WEIGHTS',
    'untrained_mtp_text',
    'labels_of',
    'fit_student',
    'student_calculator',
    'evaluate',
    'error_metrics',
]

#: Even levels whose untrained basis ships with the package.
AVAILABLE_LEVELS = tuple(range(2, 25, 2))
#: Name of the trained potential file in a student folder.
POTENTIAL_FILENAME = 'student.mtp'
#: Name of the JSON settings/report file in a student folder.
SETTINGS_FILENAME = 'student.json'
#: Energy : force : stress weights of the paper.
DEFAULT_WEIGHTS = (10.0, 1.0, 0.01)


def level_key(level: int) -> str:
    """Key of the student of ``level`` (``level_08``): its output link name and its name in reports."""
    return f'level_{int(level):02d}'


def untrained_mtp_text(level: int, *, cutoff: float = 5.0, min_dist: float = 1.5) -> str:
    """Return the untrained MLIP-2 ``.mtp`` text of a level with the given radial range.

    Parameters
    ----------
    level : int
        Maximum level lev_max, even, 2--24.
    cutoff : float
        Outer radius of the radial basis (``max_dist``), Angstrom.
    min_dist : float
        Inner radius of the radial basis (``min_dist``), Angstrom.

    Raises
    ------
    ValueError
        If ``level`` is not available or the radii are inconsistent.
    """
    if not checks.is_integer(level) or int(level) not in AVAILABLE_LEVELS:
        raise checks.refuse('level', f'an even integer in {AVAILABLE_LEVELS[0]}..{AVAILABLE_LEVELS[-1]}', level)
    if not (0.0 < float(min_dist) < float(cutoff)):
        raise ValueError(f'cutoff: expected 0 < min_dist ({min_dist}) < cutoff ({cutoff})')
    blob = resources.files(__package__).joinpath('untrained_mtps', f'{int(level):02d}.mtp.gz').read_bytes()
    lines = []
    for line in gzip.decompress(blob).decode('utf-8').splitlines():
        key = line.strip().split('=')[0].strip()
        if key == 'min_dist':
            line = f'\tmin_dist = {float(min_dist)!r}'
        elif key == 'max_dist':
            line = f'\tmax_dist = {float(cutoff)!r}'
        lines.append(line)
    return '\n'.join(lines) + '\n'


def labels_of(atoms: Atoms, index: int = 0, field: str = 'train_atoms') -> dict:
    """Return the labels of one structure as ``{'energy', 'forces', 'stress'?}`` (eV, eV/Angstrom, eV/Angstrom^3).

    Labels follow the project convention: ``info['energy']``, ``arrays['forces']`` and optionally ``info['virial']``
    (eV, 3x3; stress = -virial / volume). The stress is only given for cells periodic in all directions.

    Raises
    ------
    ValueError
        If energy or forces are missing or malformed (the message names the structure index).
    """
    if 'energy' not in atoms.info:
        raise ValueError(f"{field}[{index}].info['energy']: missing")
    if 'forces' not in atoms.arrays:
        raise ValueError(f"{field}[{index}].arrays['forces']: missing")
    energy = float(atoms.info['energy'])
    forces = np.asarray(atoms.arrays['forces'], dtype=float)
    if not np.isfinite(energy) or forces.shape != (len(atoms), 3) or not np.all(np.isfinite(forces)):
        raise ValueError(f'{field}[{index}]: energy or forces not finite or of wrong shape')
    labels = {'energy': energy, 'forces': forces}
    if 'virial' in atoms.info and all(atoms.pbc) and atoms.cell.rank == 3:
        virial = np.asarray(atoms.info['virial'], dtype=float).reshape(3, 3)
        stress = -virial / atoms.get_volume()
        labels['stress'] = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    return labels


def _training_images(train_atoms: Sequence[Atoms]) -> list[Atoms]:
    images = []
    for index, atoms in enumerate(train_atoms):
        if not isinstance(atoms, Atoms) or len(atoms) == 0:
            raise ValueError(f'train_atoms[{index}]: expected a non-empty ase.Atoms')
        labels = labels_of(atoms, index)
        image = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        image.calc = SinglePointCalculator(image, **labels)
        images.append(image)
    if not images:
        raise ValueError('train_atoms: empty')
    return images


def fit_student(
    train_atoms: Sequence[Atoms],
    *,
    level: int,
    cutoff: float = 5.0,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    seed: int,
    max_iter: int = 500,
    workdir: str | Path,
    min_dist: float = 1.5,
    tolerance: float | None = None,
    window: int = 50,
) -> dict:
    """Fit an MTP of one level to labelled structures and write it into ``workdir``.

    Parameters
    ----------
    train_atoms : sequence of ase.Atoms
        Labelled structures (``info['energy']``, ``arrays['forces']``, optional ``info['virial']``).
    level : int
        Maximum MTP level (even, 2--24).
    cutoff : float
        Cut-off radius (Angstrom), 5 for Si in the paper.
    weights : (float, float, float)
        Energy, force and stress weights of the loss (paper: 10 : 1 : 0.01).
    seed : int
        Seed of the random initial radial coefficients (the fit is reproducible for a given seed).
    max_iter : int
        Most L-BFGS-B iterations on all parameters (all of them when ``tolerance`` is None).
    workdir : path
        Folder receiving :data:`POTENTIAL_FILENAME` and :data:`SETTINGS_FILENAME` (created if needed).
    min_dist : float
        Inner radius of the radial basis (Angstrom).
    tolerance : float or None
        Stop on the loss: the fit has converged when the loss fell by less than this fraction over the last
        ``window`` iterations (e.g. 1e-3). None: run ``max_iter`` iterations (or until L-BFGS-B stops itself).
    window : int
        Iterations over which the relative fall of the loss is measured.

    Returns
    -------
    dict
        The settings/report also written to :data:`SETTINGS_FILENAME`: ``level``, ``cutoff``, ``min_dist``,
        ``weights``, ``seed``, ``max_iter``, ``species`` (chemical symbols), ``atomic_numbers``,
        ``num_parameters`` (moment + species + radial coefficients), ``num_basis_functions``, ``num_structures``,
        ``num_atoms``, ``fit_time`` (s), ``motep_version``, ``tolerance``, ``window``,
        ``optimisation`` (see :func:`_minimise`: ``iterations``, ``converged``, ``stop_reason``, ``initial_loss``,
        ``loss_before_lls``, ``final_loss`` and the thinned ``loss_history``) and ``training_errors`` (see
        :func:`error_metrics`).
    """
    from motep.io.mlip.mtp import read_mtp, write_mtp

    weights = tuple(float(w) for w in weights)
    if len(weights) != 3 or any(not np.isfinite(w) or w < 0 for w in weights) or weights[0] <= 0:
        raise ValueError(f'weights: expected three non-negative (energy > 0) numbers, got {weights!r}')
    if isinstance(max_iter, bool) or int(max_iter) < 0:
        raise ValueError(f'max_iter: expected a non-negative integer, got {max_iter!r}')
    checks.non_negative_integer(seed, 'seed')
    if tolerance is not None and (isinstance(tolerance, bool) or not 0 < float(tolerance) < 1):
        raise ValueError(f'tolerance: expected a number in (0, 1) or None, got {tolerance!r}')
    checks.positive_integer(window, 'window')
    images = _training_images(train_atoms)
    numbers = sorted({int(z) for atoms in images for z in atoms.numbers})
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    initial = workdir / 'untrained.mtp'
    initial.write_text(untrained_mtp_text(level, cutoff=cutoff, min_dist=min_dist), encoding='utf-8')
    mtp_data = read_mtp(initial)
    initial.unlink()
    mtp_data.species = numbers

    loss = {'energy_weight': weights[0], 'forces_weight': weights[1], 'stress_weight': weights[2]}
    start = time.perf_counter()
    optimisation = _minimise(
        mtp_data, images, loss, seed=int(seed), max_iter=int(max_iter), tolerance=tolerance, window=int(window)
    )
    fit_time = time.perf_counter() - start
    write_mtp(workdir / POTENTIAL_FILENAME, mtp_data, legacy=True)

    import motep

    settings = {
        'package': 'motep',
        'motep_version': getattr(motep, '__version__', _dist_version('motep')),
        'level': int(level),
        'cutoff': float(cutoff),
        'min_dist': float(min_dist),
        'weights': list(weights),
        'seed': int(seed),
        'max_iter': int(max_iter),
        'tolerance': None if tolerance is None else float(tolerance),
        'window': int(window),
        'optimisation': optimisation,
        'atomic_numbers': numbers,
        'species': [chemical_symbols[z] for z in numbers],
        'num_parameters': int(mtp_data.moment_coeffs.size + mtp_data.species_coeffs.size + mtp_data.radial_coeffs.size),
        'num_basis_functions': int(mtp_data.alpha_scalar_moments),
        'num_structures': len(images),
        'num_atoms': int(sum(len(atoms) for atoms in images)),
        'fit_time': fit_time,
    }
    (workdir / SETTINGS_FILENAME).write_text(json.dumps(settings, indent=1), encoding='utf-8')
    calculator = student_calculator(workdir)
    predicted = evaluate(train_atoms, calculator)
    settings['training_errors'] = error_metrics(train_atoms, predicted)
    (workdir / SETTINGS_FILENAME).write_text(json.dumps(settings, indent=1), encoding='utf-8')
    logger.info(
        'MTP level %d fitted on %d structures in %.1f s (%d iterations, %s): energy RMSE %.2f meV/atom, '
        'force RMSE %.3f eV/A',
        level, len(images), fit_time, optimisation['iterations'], optimisation['stop_reason'],
        1000 * settings['training_errors']['energy_rmse'], settings['training_errors']['force_rmse'],
    )  # fmt: skip
    return settings


#: Longest loss history kept in the report (thinned evenly, first and last iterations always kept).
HISTORY_POINTS = 200


def _thin(history: list[float], points: int = HISTORY_POINTS) -> list[list[float]]:
    """``[[iteration, loss], ...]``: at most ``points`` entries, evenly spaced, the last one always included."""
    if not history:
        return []
    indices = sorted({int(round(i)) for i in np.linspace(0, len(history) - 1, min(points, len(history)))})
    return [[index, float(history[index])] for index in indices]


def _minimise(mtp_data, images, loss_setting: dict, *, seed, max_iter, tolerance, window) -> dict:
    """Fit ``mtp_data`` in place: LLS, L-BFGS-B on all parameters until converged or ``max_iter``, LLS again.

    L-BFGS-B (SciPy, motep's loss and analytic gradient) stops when the loss fell by less than ``tolerance`` (a
    fraction) over the last ``window`` iterations, when L-BFGS-B itself reports convergence, or after ``max_iter``
    iterations; only the first two count as converged.

    Returns
    -------
    dict
        ``iterations``, ``converged`` (bool), ``stop_reason`` ('tolerance', 'optimizer', 'max_iter', 'no_iterations'
        or the optimizer's message), ``initial_loss`` (after the first LLS), ``loss_before_lls``, ``final_loss``
        (after the last LLS) and ``loss_history`` (``[[iteration, loss], ...]``, thinned to
        :data:`HISTORY_POINTS`).
    """
    from motep.loss import LossFunction, LossSetting
    from motep.optimizers import LLSOptimizer, ScipyMinimizeOptimizer
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    loss = LossFunction(images, mtp_data, LossSetting.from_any(loss_setting), engine='cext')
    mtp_data.initialize(rng)
    LLSOptimizer(loss).optimize()
    history: list[float] = []
    stop = {'reason': 'no_iterations'}

    class Minimiser(ScipyMinimizeOptimizer):
        def _optimize(self, **kwargs):
            parameters = self.loss.mtp_data.parameters
            history.append(float(self.rank0_loss(parameters)))

            def callback(intermediate_result):
                history.append(float(intermediate_result.fun))
                if tolerance is not None and len(history) > window:
                    before = history[-1 - window]
                    if before - history[-1] <= float(tolerance) * abs(before):
                        stop['reason'] = 'tolerance'
                        raise StopIteration

            result = minimize(
                self.rank0_loss, parameters, jac=self.rank0_jac, bounds=self.loss.mtp_data.get_bounds(),
                method='L-BFGS-B', callback=callback, options={'maxiter': int(max_iter)},
            )  # fmt: skip
            if stop['reason'] != 'tolerance':
                if result.nit >= max_iter:
                    stop['reason'] = 'max_iter'
                elif result.success:
                    stop['reason'] = 'optimizer'
                else:
                    stop['reason'] = str(result.message)
            return result.x

    if max_iter > 0:
        Minimiser(loss).optimize()
    mtp_data.initialize(rng)
    before_lls = float(loss(mtp_data.parameters))
    LLSOptimizer(loss).optimize()
    final = float(loss(mtp_data.parameters))
    return {
        'iterations': max(len(history) - 1, 0),
        'converged': stop['reason'] in ('tolerance', 'optimizer'),
        'stop_reason': stop['reason'],
        'initial_loss': history[0] if history else before_lls,
        'loss_before_lls': before_lls,
        'final_loss': final,
        'loss_history': _thin(history),
    }


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def student_calculator(folder: str | Path):
    """Return an ASE calculator (``motep.calculator.MTP``, C engine) for the student in ``folder``.

    Raises
    ------
    ValueError
        If the folder lacks :data:`POTENTIAL_FILENAME` or :data:`SETTINGS_FILENAME`.
    """
    from motep.calculator import MTP
    from motep.io.mlip.mtp import read_mtp

    folder = Path(folder)
    for name in (POTENTIAL_FILENAME, SETTINGS_FILENAME):
        if not (folder / name).is_file():
            raise ValueError(f'folder: {name} not found in {folder}')
    settings = json.loads((folder / SETTINGS_FILENAME).read_text(encoding='utf-8'))
    numbers = settings.get('atomic_numbers') or [atomic_numbers[s] for s in settings['species']]
    mtp_data = read_mtp(folder / POTENTIAL_FILENAME)
    mtp_data.species = numbers
    return _any_size_calculator_class(MTP)(mtp_data, engine='cext', mode='run')


def _any_size_calculator_class(base):
    """motep's calculator that rebuilds its neighbour list when the number of atoms changes.

    motep 0.2.0 keeps the neighbour list of the first structure it sees (one cut-off per atom) and raises
    ``Wrong number of cutoff radii`` on a structure with another number of atoms, so one calculator could not
    evaluate a test set of cells of different sizes.
    """

    class StudentMTP(base):
        def calculate(self, atoms=None, properties=('energy',), system_changes=None):
            from ase.calculators.calculator import all_changes

            neighbor_list = getattr(self.engine, 'neighbor_list', None)
            current = atoms if atoms is not None else self.atoms
            if neighbor_list is not None and current is not None and len(neighbor_list.cutoffs) != len(current):
                self.engine.neighbor_list = None
            super().calculate(atoms, list(properties), all_changes if system_changes is None else system_changes)

    return StudentMTP


def evaluate(atoms_list: Sequence[Atoms], calculator) -> dict:
    """Evaluate a calculator on structures.

    Returns
    -------
    dict
        ``energies`` (ndarray, eV per structure), ``forces`` (list of N_i x 3 ndarrays, eV/Angstrom),
        ``natoms`` (ndarray of ints).
    """
    energies, forces, natoms = [], [], []
    for atoms in atoms_list:
        copy = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        copy.calc = calculator
        energies.append(float(copy.get_potential_energy()))
        forces.append(np.array(copy.get_forces()))
        natoms.append(len(copy))
    return {'energies': np.array(energies), 'forces': forces, 'natoms': np.array(natoms, dtype=int)}


def error_metrics(reference: Sequence[Atoms] | dict, predicted: dict) -> dict:
    """Energy (per atom) and force-component MAE/RMSE of ``predicted`` against ``reference``.

    Parameters
    ----------
    reference : sequence of ase.Atoms or dict
        Labelled structures (``info['energy']``, ``arrays['forces']``) or an :func:`evaluate` result.
    predicted : dict
        An :func:`evaluate` result for the same structures.

    Returns
    -------
    dict
        ``energy_mae``, ``energy_rmse`` (eV/atom), ``force_mae``, ``force_rmse`` (eV/Angstrom),
        ``num_structures``.
    """
    if not isinstance(reference, dict):
        labels = [labels_of(atoms, i, 'reference') for i, atoms in enumerate(reference)]
        reference = {
            'energies': np.array([lab['energy'] for lab in labels]),
            'forces': [lab['forces'] for lab in labels],
            'natoms': np.array([len(atoms) for atoms in reference]),
        }
    if len(reference['energies']) != len(predicted['energies']):
        raise ValueError('predicted: number of structures differs from the reference')
    de = (np.asarray(predicted['energies']) - np.asarray(reference['energies'])) / np.asarray(reference['natoms'])
    df = np.concatenate([np.ravel(p - r) for p, r in zip(predicted['forces'], reference['forces'], strict=True)])
    return {
        'energy_mae': float(np.mean(np.abs(de))),
        'energy_rmse': float(np.sqrt(np.mean(de**2))),
        'force_mae': float(np.mean(np.abs(df))),
        'force_rmse': float(np.sqrt(np.mean(df**2))),
        'num_structures': int(len(de)),
    }
