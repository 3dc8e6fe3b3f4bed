"""The students' training-set filter: close contacts and configurations far above the convex hull, recorded."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.students.filters import minimum_distance, training_filter, validate_filter_settings


def _labelled(atoms, energy_per_atom, config_type='bulk'):
    atoms.info['energy'] = energy_per_atom * len(atoms)
    atoms.arrays['forces'] = np.zeros((len(atoms), 3))
    atoms.info['config_type'] = config_type
    return atoms


@pytest.fixture
def structures():
    diamond = _labelled(bulk('Si', 'diamond', 5.43), -5.4)
    dense = _labelled(bulk('Si', 'diamond', 5.43 * 0.9), -5.2)
    high = _labelled(bulk('Si', 'diamond', 5.43 * 1.03), -4.0)  # ~1.3 eV/atom above the hull of its neighbours
    expanded = _labelled(bulk('Si', 'diamond', 5.43 * 1.1), -5.0)
    dimer = _labelled(Atoms('Si2', positions=[[0, 0, 0], [1.44, 0, 0]], cell=[15, 15, 15], pbc=True), 3.0, 'dimer')
    dimer.info['origin'] = 'pool:0:200'
    return [diamond, dense, high, dimer, expanded]


def test_minimum_distance_sees_periodic_images():
    cell = Atoms('Si', positions=[[0, 0, 0]], cell=[1.4, 10, 10], pbc=True)
    assert minimum_distance(cell, 1.5) == pytest.approx(1.4)
    assert minimum_distance(bulk('Si', 'diamond', 5.43), 1.5) == np.inf


def test_close_contacts_left_out_and_recorded(structures):
    kept, excluded = training_filter(structures, {'min_dist': 1.5})
    assert kept == [0, 1, 2, 4]
    assert excluded == [
        {'index': 3, 'reason': 'min_dist', 'value': pytest.approx(1.44), 'limit': 1.5, 'config_type': 'dimer',
         'origin': 'pool:0:200'},
    ]  # fmt: skip


def test_far_above_the_hull_left_out_dimers_never(structures):
    kept, excluded = training_filter(structures, {'max_above_hull': 0.5})
    assert kept == [0, 1, 3, 4]  # the dimer has no meaningful volume: kept out of the hull, never left out by it
    assert [row['reason'] for row in excluded] == ['above_hull'] and excluded[0]['value'] > 0.5
    kept, excluded = training_filter(structures, {'max_above_hull': 5.0})
    assert kept == [0, 1, 2, 3, 4] and excluded == []


def test_both_off_keeps_everything(structures):
    assert training_filter(structures, {}) == ([0, 1, 2, 3, 4], [])
    assert training_filter(structures, {'min_dist': None, 'max_above_hull': None}) == ([0, 1, 2, 3, 4], [])


@pytest.mark.parametrize(
    ('settings', 'message'),
    [
        ({'min_dist': -1.0}, 'field `filter.min_dist`: expected a positive number or null'),
        ({'max_above_hull': 'high'}, 'field `filter.max_above_hull`: expected a positive number or null'),
        ({'min_dist': True}, 'field `filter.min_dist`'),
        ({'mindist': 1.5}, 'field `filter.mindist`: unknown key'),
        ([1.5], 'field `filter`: expected a dict'),
    ],
)
def test_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')):
        validate_filter_settings(settings)


def test_energy_needed_for_the_hull(structures):
    del structures[1].info['energy']
    with pytest.raises(ValueError, match=r"structures\[1\].info\['energy'\]: missing"):
        training_filter(structures, {'max_above_hull': 0.5})
