"""ReferenceWorkChain with Quantum ESPRESSO (Debian pw.x, Debian pseudopotentials) against ASE's Espresso."""

from __future__ import annotations

import os

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.pseudos import (
    DEBIAN_PBE,
    DEBIAN_PSEUDO_FOLDER,
    DEFAULT_FAMILY_LABEL,
    DEFAULT_PBE,
    install_debian_family,
)
from aiida_gaprss.workflows.reference import ReferenceWorkChain
from aiida_gaprss.workflows.reference.engines import QeEngine
from aiida_gaprss.workflows.reference.protocols import load_protocol
from tests.conftest import installed_program

ROOT_MPI = 'export OMPI_ALLOW_RUN_AS_ROOT=1\nexport OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1'
KSPACING = 0.5  # 1/Å with 2π: tiny meshes to keep the shared CPU free
CMDLINE = ['-nk', '2']  # what ASE's side runs; the WorkChain gets parallelization={'npool': 2}


@pytest.fixture
def pw_code(aiida_code_installed):
    return aiida_code_installed(
        default_calc_job_plugin='quantumespresso.pw',
        filepath_executable=installed_program('pw.x'),
        label='pw-mpi-test',
        with_mpi=True,
        prepend_text=ROOT_MPI,
    )


@pytest.fixture
def family():
    return install_debian_family()


def si_cells():
    cells = []
    for k, a in enumerate((5.40, 5.47, 5.30, 5.55, 5.43)):
        atoms = bulk('Si', 'diamond', a=a)
        atoms.rattle(0.04, seed=10 + k)
        atoms.info['origin'] = f'test{k}'
        cells.append(atoms)
    return cells


def qe_builder(code, atoms_list, **kwargs):
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms(atoms_list)
    builder.engine = orm.Str('qe')
    builder.max_concurrent = orm.Int(1)
    builder.qe.code = code
    builder.qe.kpoints_spacing = orm.Float(KSPACING)
    builder.qe.options = orm.Dict({'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'withmpi': True})
    builder.qe.parallelization = orm.Dict({'npool': 2})
    for key, value in kwargs.items():
        builder[key] = value
    return builder


def test_family_install_is_idempotent(family):
    again = install_debian_family()
    assert again.pk == family.pk
    assert sorted(node.element for node in family.nodes) == sorted(DEFAULT_PBE)  # B, C, Si and the generated Ti
    assert family.get_recommended_cutoffs(elements=('Si',), unit='Ry') == (44.0, 175.0)
    with pytest.raises(ValueError, match='exists with other files'):
        install_debian_family(elements={'Si': ('Si.pbe-rrkj.UPF', 20.0, 80.0)})


@pytest.mark.slow
@pytest.mark.ci_slow
def test_qe_labels_equal_ase_espresso_and_failure_excluded(pw_code, family, tmp_path, monkeypatch):
    """4 Si2 cells equal ASE's Espresso on the same pw.x inputs; the cell forced to fail SCF is excluded."""
    from ase.calculators.espresso import Espresso, EspressoProfile

    cells = si_cells()
    builder = qe_builder(pw_code, cells, max_failure_fraction=orm.Float(0.25))
    builder.qe.structure_overrides = orm.Dict({'2': {'ELECTRONS': {'electron_maxstep': 2}}})
    builder.qe.max_iterations = orm.Int(2)
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    exclusions = results['exclusions'].get_dict()
    assert exclusions['num_excluded'] == 1
    record = exclusions['excluded'][0]
    assert record['index'] == 2
    assert record['process'] == 'PwBaseWorkChain'
    assert record['exit_status'] != 0
    assert record['calculation_exit_status'] != 0
    labelled = results['structures'].get_atoms()
    assert [atoms.info['origin'] for atoms in labelled] == ['test0', 'test1', 'test3', 'test4']

    monkeypatch.setenv('OMPI_ALLOW_RUN_AS_ROOT', '1')
    monkeypatch.setenv('OMPI_ALLOW_RUN_AS_ROOT_CONFIRM', '1')
    protocol = load_protocol('qe')
    profile = EspressoProfile(
        command=f'mpirun -np 2 {installed_program("pw.x")} {" ".join(CMDLINE)}', pseudo_dir=str(DEBIAN_PSEUDO_FOLDER)
    )
    for k, (atoms, got) in enumerate(zip([cells[i] for i in (0, 1, 3, 4)], labelled, strict=True)):
        parameters, mesh = QeEngine.parameters(protocol, atoms, {'kpoints_spacing': KSPACING})
        input_data = {section.lower(): values for section, values in parameters.items()}
        atoms = atoms.copy()
        atoms.calc = Espresso(
            profile=profile,
            directory=str(tmp_path / f'ase{k}'),
            pseudopotentials={'Si': DEBIAN_PBE['Si'][0]},
            input_data=input_data,
            kpts=mesh,
        )
        energy = atoms.get_potential_energy()
        assert got.info['energy'] / len(atoms) == pytest.approx(energy / len(atoms), abs=1e-5)
        np.testing.assert_allclose(got.arrays['forces'], atoms.get_forces(), atol=1e-4)
        virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
        np.testing.assert_allclose(got.info['virial'], virial, atol=2e-4)
        assert orm.load_node(got.info['reference_pk']).process_label == 'PwCalculation'
    assert os.environ['OMPI_ALLOW_RUN_AS_ROOT'] == '1'


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ('germanium', 'element Ge: no pseudopotential in family `gaprss/debian-pbe`: add one to the family'),
        ('family', 'field `qe.pseudo_family`: no family `no/such/family`'),
        ('molecule', 'structure 1: field `pbc`'),
        ('relax', 'field `qe.parameters.CONTROL.calculation`'),
        ('fixed', 'field `qe.parameters.SYSTEM.occupations`'),
        ('no_forces', 'tprnfor and tstress must stay True'),
        ('protocol', 'field `qe.protocol`: unknown protocol'),
        ('override', 'field `qe.structure_overrides`'),
        ('unhandled', 'field `qe.on_unhandled_failure`: expected one of'),
    ],
)
def test_bad_qe_inputs_refused(pw_code, family, change, message):
    cells = si_cells()[:2]
    if change == 'germanium':
        cells[1] = bulk('Ge', 'diamond', a=5.66)
    if change == 'molecule':
        cells[1] = Atoms('Si2', positions=[[0, 0, 0], [2.3, 0, 0]])
    builder = qe_builder(pw_code, cells)
    if change == 'family':
        builder.qe.pseudo_family = orm.Str('no/such/family')
    elif change == 'relax':
        builder.qe.parameters = orm.Dict({'CONTROL': {'calculation': 'relax'}})
    elif change == 'fixed':
        builder.qe.parameters = orm.Dict({'SYSTEM': {'occupations': 'fixed'}})
    elif change == 'no_forces':
        builder.qe.parameters = orm.Dict({'CONTROL': {'tprnfor': False}})
    elif change == 'protocol':
        builder.qe.protocol = orm.Str('heroic')
    elif change == 'override':
        builder.qe.structure_overrides = orm.Dict({'7': {}})
    elif change == 'unhandled':
        builder.qe.on_unhandled_failure = orm.Str('retry_forever')
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError, match=message):
        run_get_node(builder)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before


def test_a_lost_job_is_run_again(pw_code_lost_once, family):
    """The job that left no output (exit 305 for pw.x, no handler of PwBaseWorkChain) is run again once."""
    code, marker = pw_code_lost_once
    builder = qe_builder(code, si_cells()[:1])
    builder.qe.options = orm.Dict({'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}, 'withmpi': False})
    del builder.qe['parallelization']
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert marker.exists()
    assert results['exclusions']['num_excluded'] == 0 and len(results['structures']) == 1
    base = [child for child in node.called if child.process_label == 'PwBaseWorkChain']
    calculations = sorted(base[0].called, key=lambda calc: calc.ctime)
    assert [calc.exit_status for calc in calculations] == [calculations[0].exit_status, 0]
    assert calculations[0].exit_status in (302, 305), calculations[0].exit_message
    assert base[0].inputs.on_unhandled_failure.value == 'restart_once'


def test_default_family_label():
    assert load_protocol('qe')['pseudo_family'] == DEFAULT_FAMILY_LABEL


@pytest.mark.slow
@pytest.mark.ci_slow
def test_qe_isolated_atom_energy_once(pw_code, family):
    """A spin-polarised isolated Si atom (small box to keep it cheap): computed once, then found by query."""
    cells = si_cells()[:1]
    builder = qe_builder(pw_code, cells, isolated_atoms=orm.Bool(True), isolated_atoms_box=orm.Float(7.0))
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    energy = results['isolated_atom_energies']['Si']
    assert energy['element'] == 'Si'
    # an isolated atom is less bound than an atom in the crystal
    assert energy['energy'] > results['structures'].get_atoms()[0].info['energy'] / 2
    pw_runs = [n for n in node.called_descendants if n.process_label == 'PwCalculation']
    atom_run = [n for n in pw_runs if len(n.inputs.structure.sites) == 1]
    assert len(atom_run) == 1
    assert atom_run[0].inputs.parameters['SYSTEM']['nspin'] == 2

    results, second = run_get_node(
        qe_builder(pw_code, cells, isolated_atoms=orm.Bool(True), isolated_atoms_box=orm.Float(7.0))
    )
    assert second.is_finished_ok
    assert results['isolated_atom_energies']['Si'].pk == energy.pk
    assert not [
        n
        for n in second.called_descendants
        if n.process_label == 'PwCalculation' and len(n.inputs.structure.sites) == 1
    ]


@pytest.mark.parametrize(
    ('with_mpi', 'options', 'expected'),
    [
        (None, None, None),  # the code does not say: aiida-quantumespresso's default applies
        (False, None, False),  # a serial code must not get the plugin's withmpi=True
        (True, None, True),
        (False, {'withmpi': True}, True),  # explicit options win
    ],
)
def test_pw_options_follow_the_code(with_mpi, options, expected):
    from types import SimpleNamespace

    from aiida_gaprss.workflows.reference.engines import pw_options

    result = pw_options(SimpleNamespace(with_mpi=with_mpi), options)
    assert result['resources'] == {'num_machines': 1}
    assert result.get('withmpi') is expected
