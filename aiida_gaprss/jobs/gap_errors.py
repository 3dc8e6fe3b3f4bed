"""Job ``gap_errors``: training errors of a freshly fitted GAP on its own training set.

``gap_fit`` prints no training errors. :class:`aiida_gaprss.calculations.gap_fit.GapFitCalculation` can run this
module right after ``gap_fit`` in the same job (an optional ``evaluation_code``, serial run mode)::

    python -m aiida_gaprss.jobs.gap_errors gap_errors_job.json

with ``{'parameters': {'structures': 'train.xyz', 'potential': 'gap.xml', 'output': 'gap_errors.json'}}``. Without
an evaluation code the parser calls :func:`training_errors` itself (acceptable for small training sets only).

Errors (predicted minus reference) reported, overall and per ``config_type``:

* ``energy_rmse`` / ``energy_mae`` / ``energy_max``: energy per atom (eV/atom), over structures with an energy;
* ``forces_rmse`` / ``forces_mae``: force components (eV/Å), over structures with forces;
* ``virial_rmse``: virial components per atom (eV/atom), over periodic structures with a virial;
* counts ``n_structures``, ``n_energy``, ``n_force_components``, ``n_virial``.

No AiiDA import: this runs on the computer of the job.
"""

from __future__ import annotations

import logging
import math
import pathlib
from collections import defaultdict

import numpy as np

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.jobs.runner import main, write_json

__all__ = ('error_statistics', 'run', 'training_errors')

LOGGER = logging.getLogger(__name__)


def _rmse(values: list) -> float | None:
    if not values:
        return None
    array = np.concatenate([np.ravel(v) for v in values])
    return float(math.sqrt(float(np.mean(array**2))))


def _mae(values: list) -> float | None:
    if not values:
        return None
    array = np.concatenate([np.ravel(v) for v in values])
    return float(np.mean(np.abs(array)))


def error_statistics(energy: list, forces: list, virial: list, n_structures: int) -> dict:
    """Summarise per-structure error arrays (energy per atom, force components, virial per atom)."""
    return {
        'n_structures': n_structures,
        'n_energy': len(energy),
        'n_force_components': int(sum(np.size(f) for f in forces)),
        'n_virial': len(virial),
        'energy_rmse': _rmse(energy),
        'energy_mae': _mae(energy),
        'energy_max': float(np.max(np.abs(energy))) if energy else None,
        'forces_rmse': _rmse(forces),
        'forces_mae': _mae(forces),
        'virial_rmse': _rmse(virial),
    }


def training_errors(frames, calculator) -> dict:
    """Errors of ``calculator`` on labelled ``frames`` (plain ``info``/``arrays`` labels), overall and per config_type.

    Returns
    -------
    dict
        :func:`error_statistics` of all frames, plus ``per_config_type`` (same keys, one entry per config_type; frames
        without one count as ``'none'``).
    """
    groups: dict[str, dict[str, list]] = defaultdict(lambda: {'energy': [], 'forces': [], 'virial': [], 'n': [0]})
    total = {'energy': [], 'forces': [], 'virial': [], 'n': [0]}
    for atoms in frames:
        n_atoms = len(atoms)
        config_type = str(atoms.info.get('config_type', 'none'))
        has_energy = 'energy' in atoms.info
        has_forces = 'forces' in atoms.arrays
        has_virial = 'virial' in atoms.info and all(atoms.pbc)
        work = atoms.copy()
        work.calc = calculator
        errors: dict[str, list] = {'energy': [], 'forces': [], 'virial': []}
        if has_energy:
            predicted = float(work.get_potential_energy())
            errors['energy'].append((predicted - float(atoms.info['energy'])) / n_atoms)
        if has_forces:
            errors['forces'].append(np.asarray(work.get_forces()) - np.asarray(atoms.arrays['forces']))
        if has_virial:
            predicted = -np.asarray(work.get_stress(voigt=False)) * work.get_volume()
            reference = np.asarray(atoms.info['virial'], dtype=float).reshape(3, 3)
            errors['virial'].append((predicted - reference) / n_atoms)
        for bucket in (total, groups[config_type]):
            bucket['n'][0] += 1
            for key in ('energy', 'forces', 'virial'):
                bucket[key].extend(errors[key])
    result = error_statistics(total['energy'], total['forces'], total['virial'], total['n'][0])
    result['per_config_type'] = {
        name: error_statistics(bucket['energy'], bucket['forces'], bucket['virial'], bucket['n'][0])
        for name, bucket in sorted(groups.items())
    }
    return result


def energy_rmse_of_cells(errors: dict, excluded=None) -> float | None:
    """Energy RMSE (eV/atom) over the periodic cells only, from the ``per_config_type`` of :func:`training_errors`.

    The config types left out of the hull (dimers, isolated atoms: :data:`aiida_gaprss.rss.hull.SPECIAL_CONFIG_TYPES`,
    or ``excluded``) are left out here too: with ``e0`` the database average their errors are eV/atom and make the
    overall RMSE of a small fit a figure about the dimers. None when no other config type has energies.
    """
    from aiida_gaprss.rss.hull import SPECIAL_CONFIG_TYPES

    excluded = SPECIAL_CONFIG_TYPES if excluded is None else excluded
    total = count = 0.0
    for config_type, row in (errors.get('per_config_type') or {}).items():
        if config_type in excluded or row.get('energy_rmse') is None or not row.get('n_energy'):
            continue
        total += row['n_energy'] * row['energy_rmse'] ** 2
        count += row['n_energy']
    return float(np.sqrt(total / count)) if count else None


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Evaluate the potential on the training file and write the errors as JSON."""
    from quippy.potential import Potential

    parameters = content.get('parameters', content)
    structures = workdir / parameters.get('structures', 'train.xyz')
    potential = workdir / parameters.get('potential', 'gap.xml')
    output = workdir / parameters.get('output', 'gap_errors.json')
    calculator = Potential(param_filename=str(potential))
    with open(structures, encoding='utf-8') as handle:
        errors = training_errors(read_frames(handle), calculator)
    write_json(output, errors)
    LOGGER.info(
        'training errors: energy %s eV/atom, forces %s eV/Å, virial %s eV/atom',
        errors['energy_rmse'],
        errors['forces_rmse'],
        errors['virial_rmse'],
    )
    return {key: errors[key] for key in ('n_structures', 'energy_rmse', 'forces_rmse', 'virial_rmse')}


if __name__ == '__main__':
    raise SystemExit(main(run))
