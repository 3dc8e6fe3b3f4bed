"""Tests of the strained copies of low minima (aiida_gaprss.rss.strain)."""

import numpy as np
import pytest
from ase.build import bulk

from aiida_gaprss.rss.strain import scaled_copy, strained_copies


def _labelled_minimum():
    atoms = bulk('Si', 'diamond', 5.43) * (1, 1, 2)
    atoms.rattle(0.02, seed=1)
    atoms.info.update(energy=-10.0, enthalpy=-9.9, virial=np.eye(3), final=True, status='converged', step=40,
                      origin='pool:3:7:step40', trajectory_id=7, pressure=1.5)  # fmt: skip
    atoms.arrays['forces'] = np.ones((len(atoms), 3))
    return atoms


def test_scaled_copy_scales_the_volume_and_drops_the_labels():
    atoms = _labelled_minimum()
    copy = scaled_copy(atoms, 0.9)
    assert copy.get_volume() == pytest.approx(0.9 * atoms.get_volume(), rel=1e-12)
    assert np.allclose(copy.get_scaled_positions(), atoms.get_scaled_positions(), atol=1e-12)
    assert np.allclose(copy.cell.cellpar()[3:], atoms.cell.cellpar()[3:])  # isotropic: angles kept
    for key in ('energy', 'enthalpy', 'virial', 'final', 'status', 'step'):
        assert key not in copy.info
    assert 'forces' not in copy.arrays and 'forces' in atoms.arrays  # the source is untouched
    assert copy.info['volume_factor'] == 0.9 and copy.info['pressure'] == 1.5
    with pytest.raises(ValueError, match='volume_factor'):
        scaled_copy(atoms, -1.0)
    molecule = atoms.copy()
    molecule.pbc = False
    with pytest.raises(ValueError, match='periodic'):
        scaled_copy(molecule, 1.1)


def test_strained_copies_are_reproducible_and_inside_the_range():
    structures = [_labelled_minimum() for _ in range(40)]
    copies = strained_copies(structures, volume_range=(0.9, 1.1), seed=3)
    factors = np.array([atoms.info['volume_factor'] for atoms in copies])
    assert len(copies) == 40 and np.all((factors >= 0.9) & (factors <= 1.1))
    assert factors.min() < 0.95 and factors.max() > 1.05  # spread over the range, not one factor
    ratios = [c.get_volume() / s.get_volume() for c, s in zip(copies, structures, strict=True)]
    assert np.allclose(ratios, factors)
    assert all(atoms.info['config_type'] == 'rss_strained' for atoms in copies)
    assert copies[0].info['origin'] == f'pool:3:7:step40:strained{factors[0]:.4f}'
    again = strained_copies(structures, volume_range=(0.9, 1.1), seed=3)
    assert [a.info['volume_factor'] for a in again] == list(factors)


@pytest.mark.parametrize('volume_range', [(1.1, 0.9), (0.2, 1.1), (0.9,), 'wide', (0.9, np.inf)])
def test_strained_copies_refuse_bad_ranges(volume_range):
    with pytest.raises(ValueError, match='volume_range'):
        strained_copies([_labelled_minimum()], volume_range=volume_range, seed=0)
