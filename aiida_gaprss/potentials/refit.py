"""Reproducing a shipped potential: refit its training database with its exact gap_fit command, and compare.

:func:`refit` runs the real ``gap_fit`` with the shipped command line (optionally another ``rnd_seed``) on the shipped
``training.xyz``; :func:`compare` evaluates the refit against the shipped potential and the shipped numbers: energies
and forces of every training structure, the training errors, and the known phases at their 0 GPa minima. With the
shipped seed every difference must lie within :data:`~aiida_gaprss.potentials.build.REFIT_TOLERANCES`; with another
seed the differences are the fit's own noise and nothing is asserted.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping

import numpy as np

from ..common import checks
from .build import COMMAND_FILENAME, REFIT_TOLERANCES, TRAINING_FILENAME, parse_command
from .measure import phase_energies
from .store import load, metadata, path

__all__ = ('REFIT_FILENAME', 'compare', 'format_comparison', 'refit')

LOGGER = logging.getLogger(__name__)

#: What :func:`refit` records about itself in the new folder.
REFIT_FILENAME = 'refit.json'
_STDOUT = 'gap_fit.out'


def refit(
    name: str,
    workdir: str | os.PathLike,
    seed: int | None = None,
    *,
    root: str | os.PathLike | None = None,
    gap_fit: str = 'gap_fit',
    force: bool = False,
) -> pathlib.Path:
    """Refit the shipped potential ``name`` with the real ``gap_fit`` and return the folder of the new potential.

    Parameters
    ----------
    name : str
        A shipped potential.
    workdir : path
        New (or empty) folder for the fit: the training file under the command's ``at_file`` name, the new GAP files,
        ``gap_fit.out``, ``gap_fit_command.txt`` (the command run) and ``refit.json``.
    seed : int, optional
        ``rnd_seed`` of the refit (default: the shipped one).
    root : path, optional
        Folder of the potentials.
    gap_fit : str
        The program to run (a name on ``PATH`` or a path).
    force : bool
        Use ``workdir`` even if it is not empty (its files of the same names are replaced).

    Raises
    ------
    ValueError
        For an unknown potential, a non-empty ``workdir`` without ``force``, a bad seed, a missing ``gap_fit`` or a
        failed fit (with the end of its output).
    """
    folder = path(name, root)
    info = metadata(name, root)
    command = parse_command((folder / COMMAND_FILENAME).read_text(encoding='utf-8'))
    if seed is not None:
        checks.integer(seed, checks.field('seed'))
    program = shutil.which(gap_fit) or shutil.which(gap_fit, path=str(pathlib.Path(sys.executable).parent))
    if program is None:
        raise ValueError(f'field `gap_fit`: program {gap_fit!r} not found (install quippy-ase, or put gap_fit on PATH)')
    workdir = pathlib.Path(workdir)
    if workdir.exists() and any(workdir.iterdir()) and not force:
        raise ValueError(f'field `workdir`: `{workdir}` is not empty; choose a new folder or use force (--force)')
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / TRAINING_FILENAME, workdir / command['at_file'])
    argv = [program, *command['argv'][1:]]
    if seed is not None:
        argv = [word for word in argv if not word.startswith('rnd_seed=')] + [f'rnd_seed={seed}']
    used_seed = seed if seed is not None else command['seed']
    (workdir / COMMAND_FILENAME).write_text(shlex.join(['gap_fit', *argv[1:]]) + '\n', encoding='utf-8')
    LOGGER.info('refitting %s in %s with seed %s', name, workdir, used_seed)
    start = time.perf_counter()
    with open(workdir / _STDOUT, 'w', encoding='utf-8') as output:
        process = subprocess.run(argv, cwd=workdir, stdout=output, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - start
    xml = workdir / command['gp_file']
    if process.returncode != 0 or not xml.is_file():
        tail = (workdir / _STDOUT).read_text(encoding='utf-8', errors='replace').strip().splitlines()[-5:]
        raise ValueError(f'gap_fit failed with exit status {process.returncode} in `{workdir}`: ' + ' | '.join(tail))
    for index in workdir.glob('*.idx'):
        index.unlink()
    record = {
        'name': name,
        'seed': used_seed,
        'shipped_seed': command['seed'],
        'gp_file': command['gp_file'],
        'at_file': command['at_file'],
        'seconds': round(seconds, 1),
        'shipped_training_sha256': info['files'][TRAINING_FILENAME]['sha256'],
    }
    (workdir / REFIT_FILENAME).write_text(json.dumps(record, indent=1) + '\n', encoding='utf-8')
    return workdir


def _predictions(frames, calculator) -> tuple[np.ndarray, list[np.ndarray]]:
    energies, forces = [], []
    for atoms in frames:
        work = atoms.copy()
        work.calc = calculator
        energies.append(float(work.get_potential_energy()) / len(work))
        forces.append(np.asarray(work.get_forces()))
    return np.asarray(energies), forces


def compare(
    name: str,
    folder: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    tolerances: Mapping | None = None,
) -> dict:
    """Compare a refit (the folder :func:`refit` returned) with the shipped potential and its stored numbers.

    Returns
    -------
    dict
        ``seed``, ``shipped_seed``, ``same_seed``; ``training`` with the refit's errors against the reference labels
        (``refit``), the shipped ones (``shipped``, from ``metadata.json``) and the differences between the two
        potentials on every training structure (``energy_max_abs`` eV/atom, ``forces_rms`` and ``forces_max_abs``
        eV/Å); ``phases`` (per phase: ``shipped``, ``refit``, ``difference`` in eV/atom, and ``reference``,
        ``shipped_error``, ``refit_error`` where the reference is known); ``tolerances``; ``failures`` (messages)
        and ``passed`` (True/False with the shipped seed, None with another seed).
    """
    from aiida_gaprss.data.extxyz import read_frames
    from aiida_gaprss.jobs.gap_errors import energy_rmse_of_cells, training_errors
    from aiida_gaprss.rss.potentials import calculator_from_spec

    info = metadata(name, root)
    folder = pathlib.Path(folder)
    record_file = folder / REFIT_FILENAME
    if not record_file.is_file():
        raise ValueError(f'field `folder`: `{folder}` holds no {REFIT_FILENAME}: not a folder made by refit()')
    record = json.loads(record_file.read_text(encoding='utf-8'))
    tolerances = {**REFIT_TOLERANCES, **(tolerances or {})}
    refitted = calculator_from_spec({'type': 'gap', 'xml': str(folder / record['gp_file'])})
    shipped = load(name, root)
    with open(path(name, root) / TRAINING_FILENAME, encoding='utf-8') as handle:
        frames = list(read_frames(handle))

    refit_energy, refit_forces = _predictions(frames, refitted)
    shipped_energy, shipped_forces = _predictions(frames, shipped)
    force_difference = np.concatenate([(a - b).ravel() for a, b in zip(refit_forces, shipped_forces, strict=True)])
    keys = ('energy_rmse', 'energy_rmse_cells', 'forces_rmse', 'virial_rmse')
    refit_errors = training_errors(frames, refitted)
    refit_errors['energy_rmse_cells'] = energy_rmse_of_cells(refit_errors)
    training = {
        'num_structures': len(frames),
        'refit': {key: refit_errors.get(key) for key in keys},
        'shipped': {key: (info.get('training_errors') or {}).get(key) for key in keys},
        'energy_max_abs': float(np.max(np.abs(refit_energy - shipped_energy))),
        'forces_rms': float(np.sqrt(np.mean(force_difference**2))) if force_difference.size else 0.0,
        'forces_max_abs': float(np.max(np.abs(force_difference))) if force_difference.size else 0.0,
    }
    block = info.get('phases') or {}
    stored = block.get('energies') or {}
    phases = {}
    if stored:
        energies = phase_energies(refitted, info['elements'][0], list(stored), block.get('relax'))
        for phase, row in stored.items():
            entry = {
                'shipped': row['energy_per_atom'],
                'refit': energies[phase]['energy_per_atom'],
                'difference': energies[phase]['energy_per_atom'] - row['energy_per_atom'],
                'refit_converged': energies[phase]['converged'],
            }
            if 'reference_energy_per_atom' in row:
                entry['reference'] = row['reference_energy_per_atom']
                entry['shipped_error'] = row['error']
                entry['refit_error'] = entry['refit'] - entry['reference']
            phases[phase] = entry

    same_seed = record['seed'] == record['shipped_seed']
    failures = []
    if training['energy_max_abs'] > tolerances['energy_per_atom']:
        failures.append(f'training energies differ by up to {training["energy_max_abs"]:.2e} eV/atom '
                        f'(tolerance {tolerances["energy_per_atom"]})')  # fmt: skip
    if training['forces_rms'] > tolerances['forces_rms']:
        failures.append(f'training forces differ by {training["forces_rms"]:.2e} eV/Å RMS '
                        f'(tolerance {tolerances["forces_rms"]})')  # fmt: skip
    for phase, entry in phases.items():
        if abs(entry['difference']) > tolerances['phase_energy_per_atom']:
            failures.append(f'{phase}: energy differs by {entry["difference"]:.2e} eV/atom '
                            f'(tolerance {tolerances["phase_energy_per_atom"]})')  # fmt: skip
    return {
        'name': name,
        'folder': str(folder),
        'seed': record['seed'],
        'shipped_seed': record['shipped_seed'],
        'same_seed': same_seed,
        'fit_seconds': record.get('seconds'),
        'training': training,
        'phases': phases,
        'tolerances': tolerances,
        'failures': failures,
        'passed': (not failures) if same_seed else None,
    }


def _mev(value) -> str:
    return '      –' if value is None else f'{value * 1000:+9.3f}'


def format_comparison(result: Mapping) -> str:
    """The comparison of :func:`compare` as a short text report (what ``gaprss potentials refit`` prints)."""
    training = result['training']
    lines = [
        f'refit of {result["name"]} with rnd_seed {result["seed"]} (shipped: {result["shipped_seed"]}) in '
        f'{result["folder"]}, gap_fit {result.get("fit_seconds")} s',
        '',
        f'training set ({training["num_structures"]} structures)      shipped      refit',
    ]
    labels = {'energy_rmse': 'energy RMSE (meV/atom)', 'energy_rmse_cells': 'energy RMSE, cells (meV/atom)',
              'forces_rmse': 'forces RMSE (meV/Å)', 'virial_rmse': 'virial RMSE (meV/atom)'}  # fmt: skip
    for key, label in labels.items():
        shipped, refitted = training['shipped'].get(key), training['refit'].get(key)
        lines.append(f'  {label:34s} {_mev(shipped).replace("+", " ")} {_mev(refitted).replace("+", " ")}')
    lines += [
        f'  refit minus shipped, largest energy difference {training["energy_max_abs"] * 1000:.3g} meV/atom, '
        f'forces {training["forces_rms"] * 1000:.3g} meV/Å RMS ({training["forces_max_abs"] * 1000:.3g} largest)',
    ]
    if result['phases']:
        lines += ['', 'known phases at 0 GPa (meV/atom)    refit − shipped   shipped error   refit error']
        for phase, entry in result['phases'].items():
            lines.append(f'  {phase:32s} {_mev(entry["difference"])}       {_mev(entry.get("shipped_error"))}'
                         f'     {_mev(entry.get("refit_error"))}')  # fmt: skip
    lines.append('')
    if result['passed'] is None:
        lines.append('another seed than the shipped one: the differences are the fit\'s own noise (see the errors over '
                     'seeds in the model card); nothing is asserted')  # fmt: skip
    elif result['passed']:
        tolerances = ', '.join(f'{key} {value}' for key, value in sorted(result['tolerances'].items()))
        lines.append(f'REPRODUCED: the refit matches the shipped potential within the tolerances ({tolerances})')
    else:
        lines.append('NOT REPRODUCED: ' + '; '.join(result['failures']))
    return '\n'.join(lines)
