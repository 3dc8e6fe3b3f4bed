"""Split/gather calcfunctions, unit conversions and sign conventions, protocols and k-point meshes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from aiida import orm
from ase.build import bulk
from ase.units import GPa, create_units

from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.pseudos import check_family_elements
from aiida_gaprss.rss.kpoints import kpoint_mesh
from aiida_gaprss.workflows.reference.functions import (
    INDEX_KEY,
    gather_labels,
    labels_from_qe,
    labels_from_vasp,
    parse_tag,
    split_batches,
    split_structures,
)
from aiida_gaprss.workflows.reference.protocols import load_protocol, settings_for_species


def structures(n=3):
    out = []
    for k in range(n):
        atoms = bulk('Si', 'diamond', a=5.4 + 0.1 * k)
        atoms.info['origin'] = f's{k}'
        atoms.info['energy'] = 99.0  # an old label, to be replaced
        out.append(atoms)
    return StructureSet.from_atoms(out)


def test_split_structures_and_batches():
    dataset = structures(5)
    singles = split_structures(dataset)
    assert sorted(singles) == [f's{k:06d}' for k in range(5)]
    assert singles['s000003'].get_ase().cell.volume == pytest.approx(dataset.get_atoms()[3].cell.volume)
    batches = split_batches(dataset, orm.Int(2))
    assert sorted(batches) == ['b0000', 'b0001', 'b0002']
    assert [len(batches[key]) for key in sorted(batches)] == [2, 2, 1]
    assert [atoms.info[INDEX_KEY] for atoms in batches['b0001'].get_atoms()] == [2, 3]
    assert parse_tag('s000042_parameters') == ('s', 42, 'parameters')


def qe_nodes(energy_ev, forces, stress_gpa):
    parameters = orm.Dict({'energy': energy_ev})
    trajectory = orm.TrajectoryData()
    trajectory.set_trajectory(['Si'] * len(forces), np.zeros((1, len(forces), 3)), cells=np.array([np.eye(3) * 5]))
    trajectory.set_array('forces', np.array([forces]))
    trajectory.set_array('stress', np.array([stress_gpa]))
    return parameters, trajectory


def test_labels_from_qe_units_and_sign():
    """aiida-qe values go back to atomic units with qe-tools' constants, then to eV with QE's CODATA 2006."""
    from qe_tools import CONSTANTS

    units = create_units('2006')
    forces = np.array([[0.1, -0.2, 0.3], [-0.1, 0.2, -0.3]])
    compression = np.eye(3) * 10.0  # GPa, QE sign: positive = compressed, wants to expand
    parameters, trajectory = qe_nodes(-200.0, forces, compression)
    labels = labels_from_qe(parameters, trajectory, volume=40.0)
    assert labels['energy'] == pytest.approx(-200.0 / CONSTANTS.hartree_to_ev * units['Hartree'], rel=1e-14)
    assert abs(labels['energy'] + 200.0) < 1e-4
    np.testing.assert_allclose(labels['forces'], forces, rtol=1e-6)
    # positive pressure <-> positive virial (virial = -stress_ASE * V, and ASE's stress is negative here)
    assert np.all(np.diag(labels['virial']) > 0)
    np.testing.assert_allclose(np.diag(labels['virial']), 10.0 * GPa * 40.0, rtol=1e-6)


def test_labels_from_vasp_energy_free_and_sign():
    misc = orm.Dict(
        {
            'total_energies': {'energy_free': -10.5, 'energy_extrapolated': -10.4},
            'forces': [[0.0, 0.0, 1.0]],
            'stress': [[20.0, 0, 0], [0, 20.0, 0], [0, 0, 20.0]],  # kbar, compressive
        }
    )
    labels = labels_from_vasp(misc, None, volume=20.0)
    assert labels['energy'] == -10.5
    np.testing.assert_allclose(labels['virial'], np.eye(3) * 2.0 * GPa * 20.0)
    with pytest.raises(KeyError, match='energy_free'):
        labels_from_vasp(orm.Dict({'total_energies': {'energy_extrapolated': -1.0}}), None, 1.0)


def test_gather_keeps_order_info_and_records():
    dataset = structures(3)
    trajectory_forces = np.zeros((2, 3))
    p0, t0 = qe_nodes(-100.0, trajectory_forces, np.zeros((3, 3)))
    p2, t2 = qe_nodes(-102.0, trajectory_forces, np.zeros((3, 3)))
    record = {'index': 1, 'pk': 0, 'uuid': 'x', 'exit_status': 401, 'message': 'SCF failed'}
    out = gather_labels(
        dataset,
        orm.Str('qe'),
        orm.Dict({'excluded': [record]}),
        s000000_parameters=p0,
        s000000_trajectory=t0,
        s000002_parameters=p2,
        s000002_trajectory=t2,
    )
    labelled = out['structures'].get_atoms()
    assert [atoms.info['origin'] for atoms in labelled] == ['s0', 's2']
    assert labelled[1].info['energy'] == pytest.approx(-102.0, abs=1e-4)
    assert labelled[0].info['reference_engine'] == 'qe'
    assert labelled[0].info['reference_uuid'] == p0.uuid  # no creator here: the node itself
    summary = out['exclusions'].get_dict()
    assert summary['num_excluded'] == 1 and summary['num_labelled'] == 2
    assert summary['excluded_fraction'] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r'structures \[1\]: neither labelled nor excluded'):
        gather_labels(
            dataset,
            orm.Str('qe'),
            orm.Dict({'excluded': []}),
            s000000_parameters=p0,
            s000000_trajectory=t0,
            s000002_parameters=p2,
            s000002_trajectory=t2,
        )


@pytest.mark.parametrize('a', [3.57, 5.43, 7.1])
def test_kpoint_mesh_conventions(a):
    """2π included, like aiida-qe's kpoints_distance; ASE's Espresso kspacing has none (value / 2π)."""
    from ase.io.espresso import kspacing_to_grid

    atoms = bulk('Si', 'diamond', a=a) * (1, 1, 2)
    spacing = 0.3
    mesh = kpoint_mesh(atoms.cell, spacing)
    kpoints = orm.KpointsData()
    kpoints.set_cell_from_structure(orm.StructureData(ase=atoms))
    kpoints.set_kpoints_mesh_from_density(spacing)
    assert mesh == list(kpoints.get_kpoints_mesh()[0])
    ase_mesh = kspacing_to_grid(atoms, spacing / (2 * math.pi))
    assert all(abs(m - n) <= 1 for m, n in zip(mesh, ase_mesh, strict=True))
    assert kpoint_mesh(atoms.cell, spacing, pbc=(True, True, False))[2] == 1


def test_protocol_settings():
    protocol = load_protocol('qe', 'accurate')
    combined = settings_for_species(protocol, ['B', 'C'], 'qe')
    assert 'ecutrho' not in combined  # the family's recommended cut-offs (qe_cutoffs)
    assert combined['kpoints_spacing'] == 0.25
    fast = load_protocol('qe', 'fast')
    assert settings_for_species(fast, ['Ti'], 'qe')['ecutrho'] == 440.0
    assert settings_for_species(fast, ['Si'], 'qe')['kpoints_spacing'] == 0.3  # the plugin protocol's kpoints_distance
    with pytest.raises(ValueError, match='element Ge: no qe defaults'):
        settings_for_species(protocol, ['Ge'], 'qe')
    with pytest.raises(ValueError, match='field `qe.protocol`'):
        load_protocol('qe', 'nope')
    assert deep_merge({'a': {'b': 1, 'c': 2}}, {'a': {'c': 3}}) == {'a': {'b': 1, 'c': 3}}
    vasp = load_protocol('vasp')
    assert {symbol: vasp['elements'][symbol]['ENCUT'] for symbol in 'B C Si Ti'.split()} == {
        'B': 500.0,
        'C': 800.0,
        'Si': 400.0,
        'Ti': 285.0,
    }
    assert vasp['plugin_protocol'] == 'balanced' and vasp['overrides']['parameters']['incar']['gga'] == 'PS'


def test_missing_family_message():
    assert 'no family `nobody/here`' in check_family_elements('nobody/here', ['Si'])


def test_dimers_in_a_box_get_the_gamma_point_only():
    from ase import Atoms
    from ase.build import bulk

    from aiida_gaprss.workflows.reference.engines import is_molecule_in_a_box

    assert is_molecule_in_a_box(Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.3]], cell=[12.0] * 3, pbc=True))
    assert not is_molecule_in_a_box(bulk('Si', 'diamond', a=5.43))
    assert not is_molecule_in_a_box(Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.3]], cell=[4.0] * 3, pbc=True))


def test_a_family_without_recommended_cutoffs_is_refused_before_submission(aiida_code_installed, tmp_path):
    """A family that recommends no cut-offs, with a protocol that lists none: refused by name unless the parameters
    give them (the builder would otherwise fail only when the job is built)."""
    import shutil

    from aiida_pseudo.data.pseudo import UpfData
    from aiida_pseudo.groups.family import PseudoPotentialFamily

    from aiida_gaprss.pseudos import DEFAULT_PBE, pseudo_folder
    from aiida_gaprss.workflows.reference.engines import QeEngine

    shutil.copy(pseudo_folder({'Si'}) / DEFAULT_PBE['Si'][0], tmp_path)
    label = 'test/no-cutoffs'
    if not orm.QueryBuilder().append(PseudoPotentialFamily, filters={'label': label}).count():
        PseudoPotentialFamily.create_from_folder(tmp_path, label, pseudo_type=UpfData)
    code = aiida_code_installed(default_calc_job_plugin='quantumespresso.pw', filepath_executable='/usr/bin/pw.x')
    qe = {
        'code': code,
        'protocol': orm.Str('accurate'),
        'pseudo_family': orm.Str(label),
    }  # accurate lists no Si cut-off
    error = QeEngine.validate({'qe': qe}, [bulk('Si')])
    assert error is not None and 'field `qe.pseudo_family`' in error and 'recommends no cut-offs' in error, error
    qe['parameters'] = orm.Dict({'SYSTEM': {'ecutwfc': 30.0, 'ecutrho': 120.0}})
    assert QeEngine.validate({'qe': qe}, [bulk('Si')]) is None
