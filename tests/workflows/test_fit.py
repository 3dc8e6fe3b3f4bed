"""The GAP-RSS fit workflow with the real gap_fit: hull sigmas, automatic δ over three stages, final potential."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory
from ase import Atoms

from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.gap_parameters import table1_parameters
from tests.conftest import label_frames

GapFitWorkChain = WorkflowFactory('gaprss.fit')

SMALL = {
    'descriptors': {
        'distance_2b': {'n_sparse': 15, 'cutoff': 5.0},
        'angle_3b': {'n_sparse': 20},
        'soap': {'n_sparse': 60, 'n_max': 4, 'l_max': 4, 'cutoff': 4.5},
    },
}


@pytest.fixture(scope='module')
def sw_training_set():
    """30 random Si cells of 4-8 atoms, labelled by the real Stillinger-Weber potential."""
    from aiida_gaprss.rss.generation import generate_random_cells
    from aiida_gaprss.rss.potentials import stillinger_weber_si

    return label_frames(generate_random_cells(30, 'Si', seed=11, natoms=(4, 8)), stillinger_weber_si())


def test_fit_with_automatic_deltas(fixture_code, sw_training_set):
    training_set = StructureSet.from_atoms(sw_training_set)
    parameters = table1_parameters('Si', overrides=SMALL)
    inputs = {
        'training_set': training_set,
        'parameters': orm.Dict(parameters),
        'gap_fit': {'gap_fit': {'code': fixture_code('gaprss.gap_fit')}},
    }
    _, node = run_get_node(GapFitWorkChain, **inputs)
    assert node.is_finished_ok, node.exit_message

    metrics = node.outputs.output_parameters.get_dict()
    stages = metrics['stages']
    assert [s['descriptors'] for s in stages] == [['distance_2b'], ['distance_2b', 'angle_3b'],
                                                  ['distance_2b', 'angle_3b', 'soap']]  # fmt: skip
    energies = np.array([a.info['energy'] / len(a) for a in sw_training_set])
    assert stages[0]['deltas']['distance_2b'] == pytest.approx(max(energies.std(), 1e-3), rel=1e-6)
    # δ of each added body order is the energy RMSE per atom of the previous stage (floored at 1 meV)
    assert stages[1]['deltas']['angle_3b'] == pytest.approx(max(stages[0]['energy_rmse'], 1e-3), rel=1e-6)
    assert stages[2]['deltas']['soap'] == pytest.approx(max(stages[1]['energy_rmse'], 1e-3), rel=1e-6)
    # more body orders fit the training data better
    assert stages[2]['energy_rmse'] < stages[0]['energy_rmse']

    potential = node.outputs.potential
    assert [d['type'] for d in potential.descriptors] == ['distance_2b', 'angle_3b', 'soap']
    fitted = node.outputs.training_set.get_atoms()
    assert all('energy_sigma' in a.info and 'hull_distance' in a.info for a in fitted)
    assert min(a.info['hull_distance'] for a in fitted) == pytest.approx(0.0, abs=1e-9)
    assert metrics['hull']['num_on_hull'] >= 2

    calculator = potential.get_calculator()
    errors = []
    for atoms in fitted:
        copy = atoms.copy()
        copy.calc = calculator
        errors.append(copy.get_potential_energy() / len(atoms) - atoms.info['energy'] / len(atoms))
    assert np.sqrt(np.mean(np.square(errors))) == pytest.approx(metrics['energy_rmse'], rel=1e-3, abs=1e-5)


def test_hull_sigmas_take_special_sigmas(sw_training_set):
    from aiida_gaprss.workflows.functions import add_hull_sigmas

    dimer = Atoms('Si2', positions=[[0, 0, 0], [1.5, 0, 0]], cell=[12, 12, 12], pbc=True)
    dimer.info.update(energy=-5.0, config_type='dimer')
    dimer.arrays['forces'] = np.zeros((2, 3))
    frames = [*sw_training_set[:6], dimer]
    settings = {'special_sigmas': {'dimer': [0.01, 0.05, 0.02]}}
    result = add_hull_sigmas(StructureSet.from_atoms(frames), orm.Dict(settings))
    fitted = result['structures'].get_atoms()
    assert fitted[-1].info['energy_sigma'] == pytest.approx(0.02) and fitted[-1].info['force_sigma'] == 0.05
    loose = add_hull_sigmas(StructureSet.from_atoms(frames), orm.Dict({}))['structures'].get_atoms()
    assert loose[-1].info['energy_sigma'] == pytest.approx(0.2)
    assert [a.info['energy_sigma'] for a in fitted[:-1]] == [a.info['energy_sigma'] for a in loose[:-1]]


def test_fit_refuses_bad_settings(fixture_code, sw_training_set):
    inputs = {
        'training_set': StructureSet.from_atoms(sw_training_set[:3]),
        'parameters': orm.Dict(table1_parameters('Si', overrides=SMALL)),
        'settings': orm.Dict({'natoms_scaling': 'cubic'}),
        'gap_fit': {'gap_fit': {'code': fixture_code('gaprss.gap_fit')}},
    }
    with pytest.raises(ValueError, match='settings.natoms_scaling'):
        run_get_node(GapFitWorkChain, **inputs)
    for special, message in (
        ({'rss_random': [0.01, 0.1, 0.1]}, r'settings.special_sigmas.rss_random`: only structures left out'),
        ({'dimer': [0.01, 0.1]}, r'settings.special_sigmas.dimer`: expected three positive numbers'),
    ):
        inputs['settings'] = orm.Dict({'special_sigmas': special})
        with pytest.raises(ValueError, match=message):
            run_get_node(GapFitWorkChain, **inputs)
    inputs['settings'] = orm.Dict({})
    bad = table1_parameters('Si', overrides=SMALL)
    bad['descriptors'][0]['cutoff'] = -1.0
    inputs['parameters'] = orm.Dict(bad)
    with pytest.raises(ValueError, match=r'descriptors\[0\].cutoff'):
        run_get_node(GapFitWorkChain, **inputs)
