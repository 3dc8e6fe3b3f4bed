"""``gaprss potentials export``: the folder written from a GAP-RSS run's provenance.

Fast: a provenance graph of real nodes in the shape a QE run leaves (run → iteration → ReferenceWorkChain →
PwBaseWorkChain → PwCalculation with real parameters, k-point meshes and Debian's Si pseudopotential; gather → database
→ hull sigmas → GapFitCalculation → the real tiny GAP), so the QE settings are read back from where a real run keeps
them. Slow: the ``tiny`` protocol through the daemon (ASE engine), exported and refitted.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ProcessState

from aiida_gaprss import potentials

# the graph is built from many unstored nodes at once (inputs in one dict): SQLAlchemy's autoflush warns about the
# ones not stored yet; nothing is lost (every node is stored before it is linked)
pytestmark = pytest.mark.filterwarnings('ignore:Object of type <DbNode> not in session')

PSEUDO = pathlib.Path('/usr/share/espresso/pseudo/Si.pbe-nl-rrkjus_psl.1.0.0.UPF')
PW = 'aiida.calculations:quantumespresso.pw'
SPACING = 0.3  # the fast QE protocol's k-point spacing for Si (1/Å, 2π included)


def _store(node):
    return node if node.is_stored else node.store()


def _process(cls, label: str, inputs: dict, caller=None, call_label: str | None = None, process_type: str = '',
             attributes: dict | None = None):  # fmt: skip
    """A finished-ok process node with its input links (and the CALL link from ``caller``)."""
    node = cls()
    node.set_process_label(label)
    node.base.attributes.set_many(attributes or {})
    if process_type:
        node.set_process_type(process_type)
    workflow = issubclass(cls, orm.WorkflowNode)
    for key, value in inputs.items():
        node.base.links.add_incoming(_store(value), LinkType.INPUT_WORK if workflow else LinkType.INPUT_CALC, key)
    if caller is not None:
        node.base.links.add_incoming(caller, LinkType.CALL_WORK if workflow else LinkType.CALL_CALC, call_label)
    node.store()
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(0)
    return node


def _create(creator, data, label: str):
    data.base.links.add_incoming(creator, LinkType.CREATE, label)
    return data.store()


def _returns(workflow, outputs: dict) -> None:
    for label, data in outputs.items():
        data.base.links.add_incoming(workflow, LinkType.RETURN, label)


def _pw_parameters(natoms: int, isolated: bool = False, ecutwfc: float = 30.0) -> dict:
    parameters = {
        'CONTROL': {'calculation': 'scf', 'tprnfor': True, 'tstress': True},
        'SYSTEM': {
            'ecutwfc': ecutwfc,
            'ecutrho': 4 * ecutwfc,
            'occupations': 'smearing',
            'smearing': 'mv',
            'degauss': 0.02,
        },
        'ELECTRONS': {'conv_thr': 1e-9 * natoms, 'mixing_beta': 0.4, 'electron_maxstep': 100},
    }
    if isolated:
        parameters['SYSTEM'].update(nspin=2, starting_magnetization={'Si': 0.5})
    return parameters


def _pw(caller, tag: str, atoms, pw_code, pseudo, isolated: bool = False, ecutwfc: float = 30.0):
    """PwBaseWorkChain → PwCalculation for ``atoms`` as the QE engine builds them; returns the calculation."""
    from aiida_gaprss.rss.kpoints import kpoint_mesh
    from aiida_gaprss.workflows.reference.engines import is_molecule_in_a_box

    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh([1, 1, 1] if is_molecule_in_a_box(atoms) else kpoint_mesh(atoms.cell, SPACING))
    inputs = {'parameters': orm.Dict(_pw_parameters(len(atoms), isolated, ecutwfc)), 'kpoints': kpoints,
              'structure': orm.StructureData(ase=atoms), 'pseudos__Si': pseudo, 'code': pw_code}  # fmt: skip
    base = _process(orm.WorkChainNode, 'PwBaseWorkChain', {}, caller, tag)
    calculation = _process(orm.CalcJobNode, 'PwCalculation', inputs, base, 'iteration_01', process_type=PW)
    _create(calculation, orm.Dict({'creator_name': 'pwscf', 'creator_version': '7.2', 'energy': -150.0}),
            'output_parameters')  # fmt: skip
    return calculation


@pytest.fixture
def qe_run(tiny_fit, fixture_code):
    """A finished GapRssWorkChain graph in the shape of a QE run, around the real tiny GAP and its training set."""
    return qe_graph(tiny_fit, fixture_code)


def qe_graph(tiny_fit, fixture_code, **reference_inputs):
    """The graph of ``qe_run``; ``reference_inputs`` are added to the ReferenceWorkChain's inputs."""
    from aiida_pseudo.data.pseudo import UpfData
    from ase import Atoms

    from aiida_gaprss.data.extxyz import read_frames
    from aiida_gaprss.data.gap_potential import GapPotential
    from aiida_gaprss.data.structure_set import StructureSet
    from aiida_gaprss.protocols import load_gaprss_protocol
    from aiida_gaprss.rss.gap_parameters import table1_parameters

    python, gap_fit, pw = (fixture_code(name) for name in ('python', 'gaprss.gap_fit', 'quantumespresso.pw'))
    fast = load_gaprss_protocol('fast')
    pseudo = _store(UpfData(PSEUDO))
    with open(tiny_fit['folder'] / 'train.xyz', encoding='utf-8') as handle:
        frames = list(read_frames(handle))
    for atoms in frames:
        for key in ('energy_sigma', 'force_sigma', 'virial_sigma'):
            atoms.info.pop(key)
    run = _process(orm.WorkChainNode, 'GapRssWorkChain', {
        'element': orm.Str('Si'), 'code': python, 'budget': orm.Int(fast['budget']),
        'max_iterations': orm.Int(fast['max_iterations']), 'num_select_initial': orm.Int(fast['num_select_initial']),
        'num_select': orm.Int(fast['num_select']), 'parameters': orm.Dict(fast['parameters']),
        'fit__parameters': orm.Dict(table1_parameters('Si', overrides=fast['fit'])),
        'reference__engine': orm.Str('qe'), 'reference__qe__protocol': orm.Str('fast'), 'reference__qe__code': pw,
    })  # fmt: skip
    iteration = _process(orm.WorkChainNode, 'GapRssIterationWorkChain', {
        'iteration': orm.Int(0), 'code': python, 'reference__engine': orm.Str('qe'),
        'reference__qe__protocol': orm.Str('fast'), 'reference__qe__code': pw,
    }, run, 'iteration_00')  # fmt: skip
    reference = _process(orm.WorkChainNode, 'ReferenceWorkChain', {
        'engine': orm.Str('qe'), 'max_concurrent': orm.Int(2), 'qe__protocol': orm.Str('fast'), 'qe__code': pw,
        **reference_inputs,
    }, iteration, 'reference')  # fmt: skip
    calculations = [_pw(reference, f's{index:04d}', frames[index], pw, pseudo) for index in range(2)]
    calculations.append(_pw(reference, 's0002', Atoms('Si2', [[0, 0, 0], [0, 0, 2.3]], cell=[12] * 3, pbc=True), pw,
                            pseudo))  # fmt: skip
    calculations.append(_pw(reference, 'isolated_Si', Atoms('Si', cell=[10] * 3, pbc=True), pw, pseudo, True))
    # labels -> database -> hull sigmas -> the training set gap_fit read -> the potential
    gather = _process(orm.CalcFunctionNode, 'gather_labels', {
        f'result_{index}': node.outputs.output_parameters for index, node in enumerate(calculations)})  # fmt: skip
    database = _create(gather, StructureSet(frames), 'result')
    sigmas = _process(orm.CalcFunctionNode, 'add_hull_sigmas', {'structures': database})
    training = _create(sigmas, StructureSet.from_file(tiny_fit['folder'] / 'train.xyz'), 'structures')
    fit = _process(orm.WorkChainNode, 'GapFitWorkChain', {'training_set': database}, iteration, 'fit')
    job = _process(orm.CalcJobNode, 'GapFitCalculation', {'training_set': training, 'code': gap_fit}, fit, 'gap_fit',
                   process_type='aiida.calculations:gaprss.gap_fit',
                   attributes={'version': {'core': '2.9.4', 'plugin': '0.1.0'}})  # fmt: skip
    potential = _create(job, GapPotential.from_folder(tiny_fit['folder'], command_line=tiny_fit['command_line']),
                        'potential')  # fmt: skip
    _create(job, orm.Dict({'gap_fit_version': '1769700636'}), 'output_parameters')
    _returns(iteration, {'potential': potential, 'database': database, 'selected': database})
    # a pw.x run that labelled nothing in the training set (a validation relaxation): must not enter reference.json
    validation = _process(orm.WorkChainNode, 'ValidationWorkChain', {}, run, 'validation_00')
    _pw(validation, 'diamond', frames[0], pw, pseudo, ecutwfc=99.0)
    curve = _process(orm.CalcFunctionNode, 'build_learning_curve', {})
    rows = [{'iteration': 0, 'reference_evaluations': 16, 'training_energy_rmse': 0.002}]
    learning_curve = _create(curve, orm.Dict({'iterations': rows}), 'result')
    side = _process(orm.CalcFunctionNode, 'qe_reference_results', {})
    validation_reference = _create(side, orm.Dict({'phases': {'diamond': {'energy_per_atom': -4.33}}}), 'result')
    _returns(run, {'potential': potential, 'database': database, 'learning_curve': learning_curve,
                   'validation_reference': validation_reference})  # fmt: skip
    return {'run': run, 'potential': potential, 'training': training, 'database': database, 'pw': pw}


def test_export_from_a_qe_shaped_run(qe_run, tiny_fit, tmp_path):
    from aiida_gaprss.workflows.shipping import export_potential

    root = tmp_path / 'potentials'
    folder = export_potential(qe_run['run'], 'si-qe', root=root, phases=['diamond'], description='From a graph.')
    assert folder == root / 'si-qe'
    potentials.verify('si-qe', root)
    # the training file is the training_set input of the GapFitCalculation, byte for byte (sigmas included)
    assert (folder / 'training.xyz').read_text(encoding='utf-8') == qe_run['training'].get_content()
    assert (folder / 'gap_fit_command.txt').read_text() == qe_run['potential'].command_line + '\n'
    reference = json.loads((folder / 'reference.json').read_text())
    assert reference['engine'] == 'qe' and reference['functional'] == 'PBE'
    assert reference['code']['version'] == 'pwscf 7.2' and reference['code']['executable'] == '/usr/bin/pw.x'
    assert reference['settings'] == {'ecutwfc': 30.0, 'ecutrho': 120.0, 'occupations': 'smearing', 'smearing': 'mv',
                                     'degauss': 0.02, 'mixing_beta': 0.4, 'conv_thr_per_atom': 1e-9,
                                     'kpoints_spacing': SPACING}  # fmt: skip
    assert reference['varying'] == []  # the validation's ecutwfc 99 is not among the labels' settings
    assert reference['calculations'] == 3 and reference['isolated_atoms']['calculations'] == 1
    kpoints = reference['kpoints']
    assert kpoints['consistent'] is True and kpoints['meshes_checked'] == 2  # the dimer in its box has only Γ
    assert kpoints['interval'][0] <= SPACING < kpoints['interval'][1]
    assert "protocol 'fast' of reference_qe.yaml" in kpoints['source']
    (pseudo,) = [reference['pseudopotentials']['Si']]
    md5 = hashlib.md5(PSEUDO.read_bytes(), usedforsecurity=False).hexdigest()
    assert pseudo['filename'] == PSEUDO.name and pseudo['md5'] == md5 and pseudo['functional'] == 'PBE'
    assert reference['reference_workchains'][0]['inputs']['protocol'] == 'fast'
    # what the metadata knows about the run
    info = potentials.metadata('si-qe', root)
    provenance = info['provenance']
    assert provenance['run']['uuid'] == qe_run['run'].uuid and provenance['run']['iterations'] == 1
    assert provenance['potential']['uuid'] == qe_run['potential'].uuid
    assert provenance['training_set']['uuid'] == qe_run['training'].uuid
    assert provenance['database']['uuid'] == qe_run['database'].uuid
    assert provenance['fit']['gap_fit_version'] == '1769700636' and provenance['versions']['plugin'] == '0.1.0'
    assert provenance['protocol']['closest'] == 'fast' and provenance['protocol']['differences'] == {}
    assert provenance['learning_curve'][0]['reference_evaluations'] == 16
    assert provenance['inputs']['reference']['qe']['protocol'] == 'fast'
    diamond = info['phases']['energies']['diamond']
    assert diamond['reference_energy_per_atom'] == -4.33
    assert 'output validation_reference' in info['phases']['reference_source']
    card = (folder / 'README.md').read_text()
    assert qe_run['run'].uuid in card and 'Quantum ESPRESSO pw.x pwscf 7.2; PBE; ecutwfc 30.0 Ry' in card
    assert potentials.check_energy('si-qe', root)['passed']


def test_a_spacing_that_does_not_give_the_meshes_is_not_claimed(tiny_fit, fixture_code, tmp_path):
    from aiida_gaprss.workflows.shipping import export_potential

    run = qe_graph(tiny_fit, fixture_code, qe__kpoints_spacing=orm.Float(0.15))['run']
    folder = export_potential(run, 'si-k', root=tmp_path, phases=[])
    reference = json.loads((folder / 'reference.json').read_text())
    kpoints = reference['kpoints']
    assert kpoints['spacing'] == 0.15 and kpoints['source'] == 'ReferenceWorkChain input qe.kpoints_spacing'
    assert kpoints['consistent'] is False and len(kpoints['mismatched_calculations']) == 2
    assert reference['settings']['kpoints_spacing'] is None
    lower, upper = kpoints['interval']
    assert lower <= SPACING < upper
    assert f'k-point spacing between {lower:.3f} and {upper:.3f} Å⁻¹' in (folder / 'README.md').read_text()


def test_export_command(qe_run, tmp_path):
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root

    root = tmp_path / 'potentials'
    arguments = ['potentials', 'export', str(qe_run['run'].pk), '--name', 'si-cli', '--root', str(root), '--phase',
                 'diamond']  # fmt: skip
    result = CliRunner().invoke(cmd_root, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f'wrote {root / "si-cli"}' in result.output and 'gaprss potentials refit si-cli' in result.output
    result = CliRunner().invoke(cmd_root, arguments)
    assert result.exit_code == 2 and 'exists; use force (--force)' in result.output
    # one of the run's potentials by its own pk, replacing the folder
    arguments[2] = str(qe_run['potential'].pk)
    result = CliRunner().invoke(cmd_root, [*arguments, '--force'], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    potentials.verify('si-cli', root)


def test_export_refuses_what_is_not_a_finished_run(qe_run, tiny_fit, tmp_path):
    from aiida_gaprss.data.gap_potential import GapPotential
    from aiida_gaprss.workflows.shipping import export_potential

    with pytest.raises(ValueError, match=r'field `pk`: node \d+ is a StructureSet, not a GapRssWorkChain'):
        export_potential(qe_run['database'], 'x', root=tmp_path)
    run = qe_run['run']
    run.set_exit_status(420)
    with pytest.raises(ValueError, match=r'field `pk`: GapRssWorkChain<\d+> has not finished ok .*exit status 420'):
        export_potential(run, 'x', root=tmp_path)
    alone = GapPotential.from_folder(tiny_fit['folder']).store()
    with pytest.raises(ValueError, match=r'field `pk`: GapPotential<\d+> was not made by a GAP-RSS run'):
        export_potential(alone, 'x', root=tmp_path)


# ------------------------------------------------------------------------------------------------ a real run
@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
def test_export_and_refit_a_tiny_run_through_the_daemon(fixture_code, submit_and_await, tmp_path):
    from aiida.plugins import WorkflowFactory

    from aiida_gaprss.workflows.shipping import export_potential

    codes = {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}
    builder = WorkflowFactory('gaprss.rss').get_builder_from_protocol(
        'Si', codes=codes, engine='ase', protocol='tiny', overrides={'budget': 21}
    )
    run = submit_and_await(builder, timeout=1200)
    assert run.is_finished_ok, run.exit_message
    root = tmp_path / 'potentials'
    folder = export_potential(run, 'si-tiny-run', root=root, phases=['diamond', 'beta_sn'])
    potentials.verify('si-tiny-run', root)
    info = potentials.metadata('si-tiny-run', root)
    assert info['provenance']['run']['uuid'] == run.uuid and info['provenance']['protocol']['closest'] == 'tiny'
    assert info['provenance']['run']['reference_evaluations'] == 21
    creator = run.outputs.potential.creator
    assert (folder / 'training.xyz').read_text(encoding='utf-8') == creator.inputs.training_set.get_content()
    assert info['training']['num_structures'] == len(run.outputs.database)
    assert info['training']['sigmas']['energy_sigma'] == len(run.outputs.database)
    reference = json.loads((folder / 'reference.json').read_text())
    assert reference['engine'] == 'ase'
    assert reference['reference_workchains'][0]['inputs']['calculator'] == {'type': 'sw_si'}
    assert len(reference['reference_workchains']) == 2 or reference['reference_workchains'][0]['count'] == 2
    assert (folder / 'learning_curve.png').is_file() and '![Learning curve](learning_curve.png)' in (
        folder / 'README.md'
    ).read_text()
    assert potentials.check_energy('si-tiny-run', root)['passed']
    refit = potentials.refit('si-tiny-run', tmp_path / 'refit', root=root)
    result = potentials.compare('si-tiny-run', refit, root=root)
    assert result['passed'] is True, potentials.format_comparison(result)
