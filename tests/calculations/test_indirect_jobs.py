"""The ``teacher_md`` and ``student_fit`` CalcJobs, run for real: job Python, the tiny teacher GAP, motep fits."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.data.student_potential import StudentPotential

TeacherMd = CalculationFactory('gaprss.teacher_md')
StudentFit = CalculationFactory('gaprss.student_fit')

#: 16 atoms, 40 steps of 2 fs (20 thermalisation + 20 ramp steps to 20 GPa), a snapshot every 10 steps.
TINY_MD = {
    'natoms': 16, 'timestep_fs': 2.0, 'update_every': 5, 'snapshot_every': 10,
    'compression': {'thermalise_ps': 0.04, 'ramp_ps': 0.04},
    'melt_quench': {'t_melt': 2000.0, 'melt_ps': 0.02, 't_final': 1000.0, 'quench_rate': 50000.0},
}  # fmt: skip


@pytest.fixture(scope='module')
def teacher(small_gap_folder):
    return GapPotential.from_folder(small_gap_folder).store()


@pytest.fixture(scope='module')
def cache():
    """Nodes computed once per module (the code fixture is function-scoped)."""
    return {}


@pytest.fixture
def md_node(teacher, fixture_code, cache):
    if 'md' not in cache:
        parameters = {'seed': 5, 'protocol': 'fast', 'overrides': TINY_MD, 'runs': ['compression', 'melt_quench']}
        _, cache['md'] = run_get_node(
            TeacherMd, code=fixture_code('python'), teacher=teacher, parameters=orm.Dict(parameters)
        )
    return cache['md']


def test_teacher_md(md_node, teacher):
    assert md_node.is_finished_ok, md_node.exit_message
    snapshots = md_node.outputs.snapshots
    report = md_node.outputs.report.get_dict()
    assert [run['kind'] for run in report['runs']] == ['compression', 'melt_quench']
    assert len(snapshots) == report['num_snapshots'] == sum(run['num_snapshots'] for run in report['runs'])
    assert len(md_node.outputs.final) == 2
    assert set(snapshots.labels) == {'energy', 'forces', 'virial'}
    assert snapshots.config_types == {'compression_md': report['runs'][0]['num_snapshots'],
                                      'melt_quench': report['runs'][1]['num_snapshots']}  # fmt: skip
    # the labels are the teacher's
    atoms = snapshots.get_atoms([len(snapshots) - 1])[0]
    labelled = atoms.copy()
    labelled.calc = teacher.get_calculator()
    assert labelled.get_potential_energy() == pytest.approx(atoms.info['energy'], abs=1e-6)
    assert np.allclose(labelled.get_forces(), atoms.arrays['forces'], atol=1e-6)
    ramp = [a for a in snapshots.get_atoms() if a.info.get('stage') == 'ramp']
    assert ramp and ramp[-1].info['pressure_target'] == pytest.approx(20.0)


def test_teacher_md_from_given_starts(teacher, md_node):
    start = StructureSet.from_atoms(md_node.outputs.final.get_atoms([0]))
    parameters = {'seed': 9, 'protocol': 'fast', 'overrides': {**TINY_MD, 'natoms': 3}, 'runs': ['compression']}
    _, node = run_get_node(TeacherMd, code=md_node.inputs.code, teacher=teacher, structures=start,
                           parameters=orm.Dict(parameters))  # fmt: skip
    assert node.is_finished_ok, node.exit_message
    assert all(len(atoms) == 16 for atoms in node.outputs.snapshots.get_atoms())  # the start, not natoms


@pytest.mark.parametrize(
    'parameters, message',
    [
        ({'protocol': 'fast'}, 'field `parameters.seed`: required'),
        ({'seed': 1, 'protocol': 'ultra'}, 'field `parameters.protocol`'),
        ({'seed': 1, 'runs': ['melt']}, 'field `parameters.runs`'),
        ({'seed': 1, 'repeats': 0}, 'field `parameters.repeats`'),
        ({'seed': 1, 'overrides': {'natoms': -4}}, 'field `parameters.overrides.natoms`'),
        ({'seed': 1, 'overrides': {'colour': 1}}, 'field `parameters.overrides`'),
        ({'seed': 1, 'overrides': {'compression': {'temperature': 0}}}, 'overrides.compression.temperature'),
        ({'seed': 1, 'calculator': {'type': 'sw_si'}}, 'field `parameters.calculator`: unknown key'),
    ],
)
def test_teacher_md_refuses_bad_parameters(md_node, teacher, parameters, message):
    with pytest.raises(ValueError, match=message):
        run_get_node(TeacherMd, code=md_node.inputs.code, teacher=teacher, parameters=orm.Dict(parameters))


@pytest.fixture
def fit_node(md_node, cache):
    if 'fit' not in cache:
        _, cache['fit'] = run_get_node(
            StudentFit,
            code=md_node.inputs.code,
            training_set=md_node.outputs.snapshots,
            test_sets={'final': md_node.outputs.final},
            speed_structure=md_node.outputs.final,
            parameters=orm.Dict({'levels': [2, 4], 'seed': 1, 'max_iter': 5}),
        )
    return cache['fit']


def test_student_fit(fit_node, md_node):
    assert fit_node.is_finished_ok, fit_node.exit_message
    students = fit_node.outputs.students
    assert set(students) == {'level_02', 'level_04'}
    report = fit_node.outputs.report.get_dict()['students']
    for level in (2, 4):
        student = students[f'level_{level:02d}']
        assert isinstance(student, StudentPotential)
        assert student.level == level
        assert student.elements == ['Si']
        assert student.base.attributes.get('num_structures') == len(md_node.outputs.snapshots)
        assert report[str(level)]['test_errors']['final']['num_structures'] == 2
        assert report[str(level)]['seconds_per_atom_step'] > 0
        # the stored student reproduces the errors the job measured on its training set
        frames = md_node.outputs.snapshots.get_atoms()
        from aiida_gaprss.students.mtp import error_metrics, evaluate

        errors = error_metrics(frames, evaluate(frames, student.get_calculator()))
        assert errors['energy_rmse'] == pytest.approx(report[str(level)]['training_errors']['energy_rmse'], rel=1e-6)
    # provenance: a student comes from the fit, whose training set comes from the teacher's MD
    fit = students['level_04'].creator
    assert fit.pk == fit_node.pk
    assert fit.inputs.training_set.creator.pk == md_node.pk


@pytest.mark.parametrize(
    'parameters, message',
    [
        ({'seed': 1}, 'field `parameters.levels`: required'),
        ({'levels': [7], 'seed': 1}, 'field `parameters.levels`'),
        ({'levels': [], 'seed': 1}, 'field `parameters.levels`'),
        ({'levels': [8, 8], 'seed': 1}, 'field `parameters.levels`: repeated'),
        ({'levels': [8], 'seed': -1}, 'field `parameters.seed`'),
        ({'levels': [8], 'seed': 1, 'weights': [1, 1]}, 'field `parameters.weights`'),
        ({'levels': [8], 'seed': 1, 'cutoff': 1.0}, 'field `parameters.min_dist`'),
        ({'levels': [8], 'seed': 1, 'max_iter': -3}, 'field `parameters.max_iter`'),
        ({'levels': [8], 'seed': 1, 'test_sets': {}}, 'field `parameters.test_sets`: unknown key'),
    ],
)
def test_student_fit_refuses_bad_parameters(md_node, parameters, message):
    with pytest.raises(ValueError, match=message):
        run_get_node(StudentFit, code=md_node.inputs.code, training_set=md_node.outputs.snapshots,
                     parameters=orm.Dict(parameters))  # fmt: skip


def test_student_fit_refuses_unlabelled_training_set(md_node):
    bare = [atoms.copy() for atoms in md_node.outputs.final.get_atoms()]
    for atoms in bare:
        atoms.info.pop('energy')
    with pytest.raises(ValueError, match='field `training_set`'):
        run_get_node(StudentFit, code=md_node.inputs.code, training_set=StructureSet.from_atoms(bare),
                     parameters=orm.Dict({'levels': [2], 'seed': 1}))  # fmt: skip
