"""Small, real training data for the gap_fit tests: Si cells labelled by Stillinger-Weber (quippy ``IP SW``)."""

from __future__ import annotations

import numpy as np
from ase.build import bulk

from aiida_gaprss.rss.gap_parameters import table1_parameters
from aiida_gaprss.rss.potentials import stillinger_weber_si


def label(frames, calculator=None):
    """Attach SW energies, forces and virials as plain ``info``/``arrays`` labels (in place); return the frames."""
    calculator = calculator or stillinger_weber_si()
    for atoms in frames:
        atoms.calc = calculator
        energy = float(atoms.get_potential_energy())
        forces = np.array(atoms.get_forces())
        virial = -np.array(atoms.get_stress(voigt=False)) * atoms.get_volume()
        atoms.calc = None
        atoms.info['energy'] = energy
        atoms.arrays['forces'] = forces
        atoms.info['virial'] = virial
    return frames


def si_cells(n: int, *, seed: int, rattle: float = 0.1, strain: float = 0.04) -> list:
    """``n`` small diamond-Si cells (2 and 8 atoms), randomly strained and rattled, labelled by SW.

    Even indices are 8-atom cubic cells (config_type ``cubic``), odd ones 2-atom primitive cells scaled by a random
    volume factor (config_type ``primitive``).
    """
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(n):
        if index % 2 == 0:
            atoms = bulk('Si', 'diamond', a=5.431, cubic=True)
            atoms.info['config_type'] = 'cubic'
        else:
            atoms = bulk('Si', 'diamond', a=5.431 * rng.uniform(0.97, 1.06))
            atoms.info['config_type'] = 'primitive'
        deformation = np.eye(3) + rng.normal(0.0, strain, (3, 3))
        atoms.set_cell(atoms.cell.array @ deformation, scale_atoms=True)
        atoms.positions += rng.normal(0.0, rattle, atoms.positions.shape)
        frames.append(atoms)
    return label(frames)


def small_parameters(**overrides) -> dict:
    """Table 1 parameters for Si, shrunk for a fit of seconds (fewer sparse points, small SOAP)."""
    changes = {
        'descriptors': {
            'distance_2b': {'n_sparse': 10, 'delta': 2.0},
            'angle_3b': {'n_sparse': 20, 'delta': 0.5},
            'soap': {'n_sparse': 20, 'n_max': 3, 'l_max': 3, 'delta': 0.2},
        },
        'default_sigma': {'energy': 0.001, 'forces': 0.03, 'virial': 0.05},
    }
    changes.update(overrides)
    return table1_parameters('Si', overrides=changes)
