"""Indirect learning (seed 003) on a real tiny teacher GAP: teacher MD, selection, labels, motep students."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.data.student_potential import StudentPotential
from tests.conftest import labelled_si_cells

IndirectLearningWorkChain = WorkflowFactory('gaprss.indirect')

#: Teacher MD of 16 atoms, 40 steps of 2 fs (20 at 500 K, 20 ramping to 20 GPa): 5 snapshots per run.
TINY_MD = {
    'natoms': 16, 'timestep_fs': 2.0, 'update_every': 5, 'snapshot_every': 10,
    'compression': {'thermalise_ps': 0.04, 'ramp_ps': 0.04},
    'melt_quench': {'melt_ps': 0.02, 'quench_rate': 50000.0},
}  # fmt: skip

#: Validation with the tiny MD above: timing on 16 atoms, a 3-point sh reference grid, short quench relaxations.
TINY_VALIDATION = {
    'speed': {'natoms': 16, 'steps': 3, 'repeats': 1},
    'similarity': {'pressures': [0.0, 10.0, 20.0], 'pressure_window': 3},
    'quench': {'steps': 20},
}

#: The fast protocol made tiny: compression MD only, 4 snapshots, students of levels 2 and 4 with 5 iterations, one
#: fit seed, no direct baseline.
TINY = {
    'run_validation': False,
    'parameters': {
        'md': {'overrides': TINY_MD, 'runs': ['compression']},
        'dataset': {'size': 4, 'method': 'stride'},
        'student': {'levels': [2, 4], 'max_iter': 5, 'seeds': [1], 'direct': False},
        'test_sets': {'rss': {'n': 0}, 'compression': {'size': 0}},
    },
}  # fmt: skip


@pytest.fixture
def codes(fixture_code):
    return {'python': fixture_code('python')}


@pytest.fixture
def teacher(small_gap_folder):
    return GapPotential.from_folder(small_gap_folder).store()


def tiny_builder(teacher, codes, teacher_training_set=None, **overrides):
    return IndirectLearningWorkChain.get_builder_from_protocol(
        teacher,
        codes=codes,
        protocol='fast',
        overrides=deep_merge(TINY, overrides),
        teacher_training_set=teacher_training_set,
    )


def test_protocols_load(teacher, codes):
    for protocol in ('fast', 'precise'):
        builder = IndirectLearningWorkChain.get_builder_from_protocol(teacher, codes=codes, protocol=protocol)
        parameters = builder.parameters.get_dict()
        assert parameters['student']['weights'] == [10.0, 1.0, 0.01]
        assert parameters['student']['cutoff'] == 5.0
        assert builder.run_validation.value is True
    assert parameters['md']['protocol'] == 'precise'
    assert parameters['student']['levels'] == [12, 16, 20, 24]
    fast = IndirectLearningWorkChain.get_builder_from_protocol(teacher, codes=codes).parameters.get_dict()
    assert fast['student']['levels'] == [8, 12]
    assert len(fast['student']['seeds']) >= 3 and fast['student']['tolerance'] > 0
    assert fast['student']['direct'] is False  # the protocol's baseline needs the teacher's training set
    assert fast['dataset']['filter']['min_dist'] == fast['student']['min_dist']
    assert 100 <= fast['dataset']['size'] <= 200


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'protocol': 'ultra'}, 'field `protocol`: unknown protocol'),
        ({'overrides': {'parameters': {'student': {'levels': [7]}}}}, 'field `parameters.student.levels`'),
        ({'overrides': {'parameters': {'student': {'levels': []}}}}, 'field `parameters.student.levels`'),
        ({'overrides': {'parameters': {'student': {'levels': [8, 30]}}}}, 'field `parameters.student.levels`'),
        ({'overrides': {'parameters': {'dataset': {'size': -5}}}}, 'field `parameters.dataset.size`'),
        ({'overrides': {'parameters': {'dataset': {'method': 'best'}}}}, 'field `parameters.dataset.method`'),
        ({'overrides': {'parameters': {'md': {'protocol': 'slow'}}}}, 'field `parameters.md.protocol`'),
        ({'overrides': {'parameters': {'md': {'runs': ['melt']}}}}, 'field `parameters.md.runs`'),
        ({'overrides': {'parameters': {'md': {'overrides': {'natoms': 0}}}}}, 'field `parameters.md.overrides.natoms`'),
        ({'overrides': {'parameters': {'seed': -1}}}, 'field `parameters.seed`'),
        ({'overrides': {'parameters': {'test_sets': {'rss': {'n': -1}}}}}, 'field `parameters.test_sets.rss.n`'),
        ({'overrides': {'parameters': {'test_sets': {'rss': {'natoms': [9, 3]}}}}}, 'parameters.test_sets.rss.natoms'),
        ({'overrides': {'parameters': {'test_sets': {'rss': {'pressure': {'p0': -5}}}}}}, 'test_sets.rss.pressure.p0'),
        ({'overrides': {'parameters': {'colour': 1}}}, 'field `parameters.colour`'),
        ({'overrides': {'colour': 1}}, 'field `overrides.colour`'),
        ({'overrides': {'reference': {'engine': 'gaussian'}}}, 'field `overrides.reference.engine`'),
        ({'overrides': {'reference': {'engine': 'qe'}}}, 'field `codes.pw`'),
        ({'codes': {}}, 'field `codes.python`'),
        ({'overrides': {'parameters': {'validation': {'checks': ['vibes']}}}}, 'field `parameters.validation.checks`'),
        ({'overrides': {'parameters': {'validation': {'preset': 'slowest'}}}}, 'field `parameters.validation.preset`'),
    ],
)
def test_bad_input_refused_before_submission(teacher, codes, kwargs, message):
    arguments = {'codes': codes, 'protocol': 'fast', **kwargs}
    with pytest.raises(ValueError, match=message):
        IndirectLearningWorkChain.get_builder_from_protocol(teacher, **arguments)


def test_teacher_must_be_a_potential(codes):
    with pytest.raises(ValueError, match='field `teacher`'):
        IndirectLearningWorkChain.get_builder_from_protocol(orm.Int(3), codes=codes)


def test_bad_parameters_refused_by_the_spec(teacher, codes):
    builder = tiny_builder(teacher, codes)
    parameters = builder.parameters.get_dict()
    parameters['dataset']['size'] = 0
    builder.parameters = orm.Dict(parameters)
    with pytest.raises(ValueError, match='field `parameters.dataset.size`'):
        run_get_node(builder)
    builder = tiny_builder(teacher, codes)
    builder.test_sets = {'rss': StructureSet.from_atoms(labelled_si_cells(1))}
    with pytest.raises(ValueError, match='field `test_sets.rss`'):
        run_get_node(builder)


def _teacher_energy(teacher, atoms):
    copy = atoms.copy()
    copy.calc = teacher.get_calculator()
    return copy.get_potential_energy(), copy.get_forces()


def _ancestors(node) -> set[int]:
    from aiida.orm import Node, QueryBuilder

    query = QueryBuilder().append(Node, filters={'id': node.pk}, tag='target')
    query.append(Node, with_descendants='target', project='id')
    return set(query.all(flat=True))


def test_smallest_run_in_process(teacher, codes):
    """Fast-suite run: compression MD → stride selection → teacher labels → one tiny student → its cost."""
    validation = {'checks': ['cost'], 'speed': TINY_VALIDATION['speed']}
    builder = tiny_builder(
        teacher,
        codes,
        run_validation=True,
        parameters={'student': {'levels': [2], 'max_iter': 0}, 'dataset': {'size': 3}, 'validation': validation},
    )
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    costs = node.outputs.validation_report['cost']['calculators']
    assert costs['level_02']['relative'] > 0 and costs['teacher']['relative'] == pytest.approx(1.0)
    page = node.outputs.report.get_content()
    label = node.outputs.validation_report.get_dict().get('labels', {}).get('level_02', 'level_02')
    assert page.startswith('<!DOCTYPE html>') and label in page and 'cost / teacher' in page
    assert f'IndirectLearningWorkChain&lt;{node.pk}&gt;' in page  # the run named in the header
    validation_job = [link.node for link in node.base.links.get_outgoing().all() if link.link_label == 'validation']
    assert validation_job[0].inputs.job.students.level_02.uuid == node.outputs.students.level_02.uuid
    assert set(node.outputs.students) == {'level_02'}
    assert len(node.outputs.snapshots) == 5
    assert len(node.outputs.training_set) == 3
    student = node.outputs.students.level_02
    assert isinstance(student, StudentPotential) and student.level == 2
    assert teacher.pk in _ancestors(student)
    assert node.outputs.fit_report['students']['level_02']['num_structures'] == 3
    frame = node.outputs.training_set.get_atoms([0])[0]
    energy, _ = _teacher_energy(teacher, frame)
    assert frame.info['energy'] == pytest.approx(energy, abs=1e-6)


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
def test_end_to_end_through_the_daemon(teacher, codes, submit_and_await):
    """Every step through the daemon: CUR selection, relabelled training set, test sets (and a reference subset, by
    Stillinger-Weber through the ASE engine), two students, validation and the HTML report."""
    reference_cells = labelled_si_cells(4, seed=11)  # labelled by Lennard-Jones: the "reference" labels
    training = StructureSet.from_atoms(reference_cells)
    builder = tiny_builder(
        teacher,
        codes,
        run_validation=True,
        reference={'engine': 'ase', 'ase': {'calculator': {'type': 'sw_si'}}},
        reference_subset_size=2,
        parameters={
            'validation': TINY_VALIDATION,
            'dataset': {'method': 'cur', 'soap': {'n_max': 4, 'l_max': 4, 'sigma': 0.5, 'r_cut': 4.0}},
            'test_sets': {
                'rss': {'n': 3, 'natoms': [1, 8], 'steps': 20, 'fmax': 0.1},
                'compression': {'size': 3},
            },
        },
    )
    builder.teacher_training_set = training
    node = submit_and_await(builder, timeout=1200)
    assert node.is_finished_ok, node.exit_message

    # students of every level, fitted to the selected snapshots plus the relabelled training set
    assert set(node.outputs.students) == {'level_02', 'level_04'}
    selection = [link.node for link in node.base.links.get_outgoing().all() if link.link_label == 'select'][0]
    selected = len(selection.outputs.structures)
    assert selected == 4
    assert len(node.outputs.training_set) == selected + len(training)

    # the teacher's training set was relabelled by the teacher: no Lennard-Jones label survived
    relabelled = node.outputs.training_set.get_atoms()[selected:]
    for original, atoms in zip(reference_cells, relabelled, strict=True):
        energy, forces = _teacher_energy(teacher, atoms)
        assert atoms.info['energy'] == pytest.approx(energy, abs=1e-6)
        assert np.allclose(atoms.arrays['forces'], forces, atol=1e-6)
        assert abs(atoms.info['energy'] - original.info['energy']) > 1e-3

    # test sets: teacher-labelled, RSS cells relaxed by the teacher, compression frames from a run not trained on
    test_sets = node.outputs.test_sets
    assert set(test_sets) == {'rss', 'compression', 'rss_reference'}
    for name in ('rss', 'compression'):
        atoms = test_sets[name].get_atoms()[-1]
        energy, forces = _teacher_energy(teacher, atoms)
        assert atoms.info['energy'] == pytest.approx(energy, abs=1e-6)
        assert np.allclose(atoms.arrays['forces'], forces, atol=1e-6)
    rss = test_sets['rss'].get_atoms()
    # the reference subset: RSS test cells labelled by the reference engine (Stillinger-Weber), not by the teacher
    from aiida_gaprss.rss.potentials import stillinger_weber_si

    subset = test_sets['rss_reference'].get_atoms()
    assert len(subset) == 2
    for atoms in subset:
        assert any(np.allclose(atoms.positions, cell.positions) for cell in rss if len(cell) == len(atoms))
        copy = atoms.copy()
        copy.calc = stillinger_weber_si()
        assert atoms.info['energy'] == pytest.approx(copy.get_potential_energy(), abs=1e-6)
    assert all(atoms.info['final'] and 1 <= len(atoms) <= 8 for atoms in rss)
    assert all(atoms.info['pressure_target'] >= 5.0 for atoms in test_sets['compression'].get_atoms())
    training_positions = [a.positions for a in node.outputs.snapshots.get_atoms()]
    for atoms in test_sets['compression'].get_atoms():
        assert not any(p.shape == atoms.positions.shape and np.allclose(p, atoms.positions) for p in training_positions)

    # every student was tested on both test sets; provenance leads back to the teacher and its training set
    report = node.outputs.fit_report['students']
    for key, student in node.outputs.students.items():
        assert set(report[key]['test_errors']) == {'rss', 'compression', 'rss_reference'}
        ancestors = _ancestors(student)
        assert teacher.pk in ancestors and training.pk in ancestors
        assert student.creator.inputs.training_set.uuid == node.outputs.training_set.uuid

    # validation of both students against the teacher on both test sets, with its plots and quenched cells
    validation = node.outputs.validation_report.get_dict()
    assert validation['failures'] == []
    for key in ('level_02', 'level_04'):
        assert set(validation['errors'][key]) == {'rss', 'compression', 'rss_reference'}
        errors = report[key]['test_errors']['rss']
        assert validation['errors'][key]['rss']['energy_mae'] == pytest.approx(errors['energy_mae'], rel=1e-6)
        assert validation['cost']['calculators'][key]['relative'] > 0
    assert set(node.outputs.plots) == {'error_vs_cost', 'similarity'}
    # the quenched cells: the teacher's always (a student's melt-quench that blows up is a result, not a cell)
    assert 'teacher' in {atoms.info['calculator'] for atoms in node.outputs.quenched.get_atoms()}
    page = node.outputs.report.get_content()
    assert 'data:image/png;base64' in page and validation.get('labels', {}).get('level_04', 'level_04') in page


def test_cli_refuses_bad_input(teacher, codes):
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root

    runner = CliRunner()
    python = f'{codes["python"].label}@{codes["python"].computer.label}'
    result = runner.invoke(cmd_root, ['indirect', str(teacher.pk), '--python-code', 'nope@nowhere'])
    assert result.exit_code != 0 and '--python-code' in result.output
    result = runner.invoke(cmd_root, ['indirect', str(teacher.pk), '--python-code', python, '--levels', '7'])
    assert result.exit_code != 0 and 'parameters.student.levels' in result.output
    result = runner.invoke(cmd_root, ['indirect', str(teacher.pk), '--python-code', python, '--size', '-3'])
    assert result.exit_code != 0 and 'parameters.dataset.size' in result.output
    result = runner.invoke(cmd_root, ['indirect', str(codes['python'].pk), '--python-code', python])
    assert result.exit_code != 0 and 'not a GapPotential or a GapRssWorkChain' in result.output


def test_teacher_from_a_bare_potential(teacher):
    from aiida_gaprss.workflows.indirect import teacher_from_node

    assert teacher_from_node(teacher) == (teacher, None)


def test_failed_teacher_md_gives_its_exit_code(teacher, codes):
    """Atoms that cannot be placed 3 Å apart at 1 Å³/atom: the MD job fails, and so does the run, with 450."""
    crowded = {'md': {'overrides': {'volume_per_atom': 1.0, 'min_distance': 3.0}}}
    _, node = run_get_node(tiny_builder(teacher, codes, parameters=crowded))
    assert node.exit_status == IndirectLearningWorkChain.exit_codes.ERROR_TEACHER_MD_FAILED.status
    assert 'min_distance' in node.exit_message
    assert 'students' not in node.outputs and 'training_set' not in node.outputs


def test_reference_subset_inputs(teacher, codes):
    overrides = {
        'reference': {'engine': 'ase', 'ase': {'calculator': {'type': 'sw_si'}}},
        'reference_subset_size': 2,
        'parameters': {'test_sets': {'rss': {'n': 3}}},
    }
    builder = tiny_builder(teacher, codes, **overrides)
    assert builder.reference.engine.value == 'ase'
    assert builder.reference.ase.calculator.get_dict() == {'type': 'sw_si'}
    assert builder.reference_subset_size.value == 2
    inputs = IndirectLearningWorkChain.spec().inputs
    assert inputs.validate(inputs.pre_process(builder._inputs(prune=True))) is None  # as the launch checks them
    with pytest.raises(ValueError, match='field `overrides.reference`'):
        tiny_builder(teacher, codes, **{**overrides, 'parameters': {'test_sets': {'rss': {'n': 0}}}})
    with pytest.raises(ValueError, match='field `overrides.reference.ase.calculator`'):
        tiny_builder(teacher, codes, reference={'engine': 'ase'}, parameters={'test_sets': {'rss': {'n': 3}}})


def test_validation_preset_and_its_changes():
    """A ``validation.preset`` gives the validation job's preset; other keys change it one level deep."""
    from aiida_gaprss.calculations.student_validation import PRESETS
    from aiida_gaprss.workflows.indirect import validation_job_parameters

    parameters = {'seed': 3, 'md': {'protocol': 'precise'}, 'validation': {'preset': 'fast', 'speed': {'natoms': 16}}}
    result = validation_job_parameters(parameters, 'Si')
    assert result['overrides'] == PRESETS['fast']['overrides'] and result['protocol'] == 'fast'
    assert result['speed'] == {**PRESETS['fast']['speed'], 'natoms': 16}
    assert (result['seed'], result['element']) == (3, 'Si')
    # without a preset the validation MD is the run's own MD protocol
    assert validation_job_parameters({'md': {'protocol': 'precise'}}, 'Si')['protocol'] == 'precise'


def _close_dimer():
    """A labelled Si dimer 1.4 Å apart in a box: a pair inside the students' min_dist (the loop's short dimers)."""
    from ase import Atoms
    from ase.calculators.lj import LennardJones

    from tests.conftest import label_frames

    dimer = Atoms('Si2', positions=[[0, 0, 0], [1.4, 0, 0]], cell=[12, 12, 12], pbc=True)
    return label_frames([dimer], LennardJones(sigma=2.1, epsilon=1.0, rc=5.0), config_type='dimer')[0]


def test_direct_baseline_seeds_and_filter_in_process(teacher, codes):
    """Two fit seeds, the direct baseline and the min_dist filter: every student, its training set, the record of
    what was left out, and the summary over seeds."""
    reference_cells = [*labelled_si_cells(3, seed=5), _close_dimer()]
    training = StructureSet.from_atoms(reference_cells)
    builder = tiny_builder(
        teacher,
        codes,
        teacher_training_set=training,
        parameters={
            'student': {'levels': [2], 'max_iter': 20, 'tolerance': 0.01, 'window': 5, 'seeds': [1, 2],
                        'direct': True},
            'dataset': {'size': 3, 'filter': {'min_dist': 1.5}},
        },
    )  # fmt: skip
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert set(node.outputs.students) == {'level_02', 'level_02_seed_2'}
    assert set(node.outputs.direct_students) == {'level_02', 'level_02_seed_2'}
    assert node.outputs.students.level_02_seed_2.base.attributes.get('seed') == 2

    # the dimer left the (relabelled) training set and the direct one, and the record says why
    for name in ('training', 'direct_training'):
        record = node.outputs[f'{name}_exclusions'].get_dict()
        assert [(row['reason'], row['config_type']) for row in record['excluded']] == [('min_dist', 'dimer')]
        assert record['num_kept'] == record['num_structures'] - 1
    assert len(node.outputs.training_set) == 3 + 3
    direct = node.outputs.direct_training_set.get_atoms()
    assert [atoms.info['energy'] for atoms in direct] == pytest.approx(
        [atoms.info['energy'] for atoms in reference_cells[:3]], abs=1e-9
    )  # the reference (here Lennard-Jones) labels, not the teacher's
    for key, student in node.outputs.direct_students.items():
        assert student.creator.inputs.training_set.uuid == node.outputs.direct_training_set.uuid, key
    for student in node.outputs.students.values():
        assert student.creator.inputs.training_set.uuid == node.outputs.training_set.uuid

    # each fit stopped on its loss or at max_iter, and says which; the summary groups the seeds per family
    report = node.outputs.fit_report.get_dict()
    assert set(report['students']) == {'level_02', 'level_02_seed_2', 'direct_level_02', 'direct_level_02_seed_2'}
    for entry in report['students'].values():
        assert entry['optimisation']['stop_reason'] in ('tolerance', 'optimizer', 'max_iter')
    assert report['students']['direct_level_02']['family'] == 'direct'
    summary = report['summary']
    assert set(summary) == {'indirect/level_02', 'direct/level_02'}
    assert summary['direct/level_02']['seeds'] == [1, 2]
    assert summary['indirect/level_02']['converged'] == sum(
        report['students'][key]['optimisation']['converged'] for key in ('level_02', 'level_02_seed_2')
    )


def test_direct_baseline_needs_the_training_set(teacher, codes):
    with pytest.raises(ValueError, match='field `parameters.student.direct`: the direct baseline'):
        tiny_builder(teacher, codes, parameters={'student': {'direct': True}})
    with pytest.raises(ValueError, match='field `parameters.student.seeds`: repeated seed'):
        tiny_builder(teacher, codes, parameters={'student': {'seeds': [1, 1]}})
    with pytest.raises(ValueError, match='field `parameters.dataset.filter.min_dist`'):
        tiny_builder(teacher, codes, parameters={'dataset': {'filter': {'min_dist': -1}}})
    with pytest.raises(ValueError, match='field `parameters.student.tolerance`'):
        tiny_builder(teacher, codes, parameters={'student': {'tolerance': 2}})


def test_reference_settings_of_the_teacher_run(teacher, codes):
    """The RSS reference subset is labelled with the reference inputs of the GAP-RSS run that made the teacher."""
    from aiida.common.links import LinkType

    from aiida_gaprss.workflows.teacher import reference_inputs_of

    run = orm.WorkflowNode()
    run.set_process_label('GapRssWorkChain')
    engine, calculator = orm.Str('ase').store(), orm.Dict({'type': 'sw_si'}).store()
    links = {  # the reference namespace as a GAP-RSS run stores it (defaults included)
        'engine': engine, 'ase__calculator': calculator, 'ase__code': codes['python'], 'max_concurrent': orm.Int(2),
        'isolated_atoms': orm.Bool(True),
        'isolated_atoms_box': orm.Float(12.0), 'max_failure_fraction': orm.Float(0.1), 'min_distance': orm.Float(0.5),
    }  # fmt: skip
    for name, value in links.items():
        run.base.links.add_incoming(value if value.is_stored else value.store(), LinkType.INPUT_WORK,
                                    f'reference__{name}')  # fmt: skip
    run.store()
    inputs = reference_inputs_of(run)
    assert inputs['engine'].uuid == engine.uuid and inputs['ase']['calculator'].uuid == calculator.uuid
    assert 'isolated_atoms' not in inputs and 'isolated_atoms_box' not in inputs  # the subset needs no e0
    assert reference_inputs_of(teacher) is None  # a potential made outside a GAP-RSS run

    builder = IndirectLearningWorkChain.get_builder_from_protocol(
        teacher, codes=codes, protocol='fast', reference_inputs=inputs,
        overrides=deep_merge(TINY, {'parameters': {'test_sets': {'rss': {'n': 3}}}, 'reference_subset_size': 2}),
    )  # fmt: skip
    assert builder.reference.engine.uuid == engine.uuid
    assert builder.reference.ase.calculator.uuid == calculator.uuid
    assert builder.reference_subset_size.value == 2
    inputs_port = IndirectLearningWorkChain.spec().inputs
    assert inputs_port.validate(inputs_port.pre_process(builder._inputs(prune=True))) is None


@pytest.mark.parametrize(
    ('elements', 'message'),
    [
        (['Si'], None),
        (['C'], 'field `teacher`: indirect learning is set up for Si only'),
        (['Ti'], 'the teacher describes Ti'),
        (['Si', 'C'], 'field `teacher`: indirect learning supports one element'),
    ],
)
def test_teacher_of_another_element_is_refused_by_name(elements, message):
    """A C or Ti teacher would silently get Si's MD temperatures and volumes and an sh-Si similarity: refused."""
    from aiida_gaprss.workflows.indirect_checks import teacher_elements_error

    error = teacher_elements_error(elements)
    assert error is None if message is None else message in error
