"""The student-validation job and CalcJob, run for real: a tiny GAP teacher (gap_fit) and tiny motep students."""

import json
import math
import subprocess
import sys

import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory

from aiida_gaprss.data.extxyz import write_frames
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.data.student_potential import StudentPotential
from aiida_gaprss.plots import PNG_MAGIC
from aiida_gaprss.students.mtp import fit_student, student_calculator
from tests.conftest import labelled_si_cells

StudentValidation = CalculationFactory('gaprss.student_validation')

#: Tiny physical runs: 16 atoms, tens of MD steps, a 3-point sh reference grid.
TINY = {
    'seed': 4,
    'overrides': {
        'natoms': 16, 'timestep_fs': 2.0, 'update_every': 5, 'snapshot_every': 10,
        'compression': {'thermalise_ps': 0.02, 'ramp_ps': 0.1},
        'melt_quench': {'melt_ps': 0.02, 'quench_rate': 50000.0},
    },
    'speed': {'natoms': 16, 'steps': 3, 'repeats': 2},
    'similarity': {'pressures': [0.0, 10.0, 20.0], 'pressure_window': 3},
    'quench': {'steps': 20},
}  # fmt: skip


@pytest.fixture(scope='module')
def teacher_setup(small_gap_folder, tmp_path_factory):
    """Teacher calculator, teacher-labelled training and test sets, one level-2 student folder."""
    teacher = GapPotential.from_folder(small_gap_folder).get_calculator()
    training = labelled_si_cells(8, seed=11, calculator=teacher)
    tests = {'rss': labelled_si_cells(3, seed=21, calculator=teacher),
             'compression': labelled_si_cells(3, seed=31, calculator=teacher)}  # fmt: skip
    folder = tmp_path_factory.mktemp('student_l2')
    fit_student(training, level=2, seed=1, max_iter=10, workdir=folder)
    # a set labelled by the student itself: its error against it must be zero
    tests['self'] = labelled_si_cells(2, seed=41, calculator=student_calculator(folder))
    return {'folder': folder, 'tests': tests}


@pytest.mark.slow
@pytest.mark.ci_slow
def test_job_directly(small_gap_folder, teacher_setup, tmp_path):
    """The job module as the CalcJob runs it: every check, finite numbers, zero self-error, PNGs."""
    import shutil

    (tmp_path / 'teacher').mkdir()
    for path in small_gap_folder.iterdir():
        shutil.copy(path, tmp_path / 'teacher')
    shutil.copytree(teacher_setup['folder'], tmp_path / 'students' / 'l2')
    for name, frames in teacher_setup['tests'].items():
        with open(tmp_path / f'test_{name}.xyz', 'w', encoding='utf-8') as handle:
            write_frames(handle, frames)
    parameters = {
        **TINY,
        'teacher': {'type': 'gap', 'xml': 'teacher/gap.xml'},
        'students': {'l2': {'folder': 'students/l2', 'level': 2}},
        'test_sets': {name: f'test_{name}.xyz' for name in teacher_setup['tests']},
    }
    (tmp_path / 'job.json').write_text(json.dumps({'parameters': parameters}))
    result = subprocess.run([sys.executable, '-m', 'aiida_gaprss.jobs.student_validation', 'job.json'],
                            cwd=tmp_path, capture_output=True, text=True, check=False)  # fmt: skip
    status = json.loads((tmp_path / '_status.json').read_text())
    assert result.returncode == 0, status
    report = json.loads((tmp_path / 'report.json').read_text())
    assert report['failures'] == []
    errors = report['errors']['l2']
    assert errors['self']['energy_mae'] == pytest.approx(0.0, abs=1e-9)
    assert errors['self']['force_mae'] == pytest.approx(0.0, abs=1e-9)
    assert all(math.isfinite(errors[name][key]) for name in ('rss', 'compression')
               for key in ('energy_mae', 'energy_rmse', 'force_mae', 'force_rmse'))  # fmt: skip
    assert errors['rss']['energy_mae'] > 0
    costs = report['cost']['calculators']
    assert costs['teacher']['relative'] == pytest.approx(1.0)
    assert costs['l2']['seconds_per_atom_step'] > 0 and costs['l2']['relative'] > 0
    teacher = report['melt_quench']['teacher']
    for key in ('N3', 'N5', 'H_inv', 'bond_angle_mean', 'bond_angle_width', 'delta_e'):
        assert math.isfinite(teacher[key]), key
    assert 0 <= teacher['N3'] <= 1 and 0 <= teacher['N5'] <= 1
    assert report['compression']['start'] == 'teacher_quenched'
    curve = report['compression']['curves']['teacher']
    assert curve['failed_at'] is None
    assert len(curve['similarity']) == len(curve['pressure']) > 0
    assert all(0.0 <= s <= 1.0 for s in curve['similarity'])
    assert report['compression']['reference']['pressures'] == [0.0, 10.0, 20.0]
    assert 'level' in report['compression']['transition'] and 'transition_pressure' in curve
    assert 'error_vs_cost' in report['plots'] and 'similarity' in report['plots']
    for name in ('error_vs_cost.png', 'similarity.png'):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / 'quenched.xyz').stat().st_size > 0


@pytest.mark.slow
@pytest.mark.ci_slow
def test_calcjob(fixture_code, small_gap_folder, teacher_setup, tmp_path):
    """The CalcJob with real nodes: outputs report, plots, quenched; the student against itself has zero error."""
    sets = {name: StructureSet.from_atoms(frames) for name, frames in teacher_setup['tests'].items()}
    _, node = run_get_node(
        StudentValidation,
        code=fixture_code('python'),
        teacher=GapPotential.from_folder(small_gap_folder),
        students={'level_02': StudentPotential.from_folder(teacher_setup['folder'])},
        test_sets=sets,
        parameters=orm.Dict(TINY),
    )
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    report = node.outputs.report.get_dict()
    assert report['students']['level_02']['level'] == 2
    assert report['errors']['level_02']['self']['energy_rmse'] == pytest.approx(0.0, abs=1e-9)
    assert set(node.outputs.plots) == {'error_vs_cost', 'similarity'}
    for plot in node.outputs.plots.values():
        assert plot.get_content(mode='rb').startswith(PNG_MAGIC)
    quenched = node.outputs.quenched.get_atoms()
    assert {atoms.info['calculator'] for atoms in quenched} <= {'teacher', 'level_02'}
    assert 'teacher' in {atoms.info['calculator'] for atoms in quenched}

    # the indirect-learning report of the calculation, directly and through `gaprss report PK`
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root
    from aiida_gaprss.report import INDIRECT_SECTIONS, collect_indirect_report, render_indirect_report

    text = render_indirect_report(collect_indirect_report(node))
    for key, title in INDIRECT_SECTIONS.items():
        assert f'<section id="{key}"><h2>{title}</h2>' in text, key
    assert text.count('src="data:image/png;base64,') == 2
    assert f'GapPotential&lt;{node.inputs.teacher.pk}&gt;' in text  # the teacher's lineage
    path = tmp_path / 'validation.html'
    result = CliRunner().invoke(cmd_root, ['report', str(node.pk), '-o', str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding='utf-8').count('<section id=') == len(INDIRECT_SECTIONS)


@pytest.mark.parametrize(
    'parameters, message',
    [
        ({}, 'parameters.seed'),
        ({'seed': 1, 'checks': ['errors', 'dance']}, 'parameters.checks'),
        ({'seed': 1, 'protocol': 'slow'}, 'parameters.protocol'),
        ({'seed': 1, 'overrides': {'natom': 3}}, 'parameters.overrides'),
        ({'seed': 1, 'speed': {'kind': 'liquid'}}, 'parameters.speed.kind'),
        ({'seed': 1, 'speed': {'natoms': 0}}, 'parameters.speed.natoms'),
        ({'seed': 1, 'similarity': {'phase': 'xx'}}, 'parameters.similarity.phase'),
        ({'seed': 1, 'similarity': {'pressures': [0, 'a']}}, 'parameters.similarity.pressures'),
        ({'seed': 1, 'quench': {'relax': 'yes'}}, 'parameters.quench.relax'),
        ({'seed': 1, 'colour': 'red'}, 'parameters.colour'),
    ],
)
def test_refuses_bad_parameters(fixture_code, small_gap_folder, teacher_setup, parameters, message):
    with pytest.raises(ValueError, match=message.replace('.', r'\.')):
        run_get_node(
            StudentValidation,
            code=fixture_code('python'),
            teacher=GapPotential.from_folder(small_gap_folder),
            students={'a': StudentPotential.from_folder(teacher_setup['folder'])},
            test_sets={'rss': StructureSet.from_atoms(teacher_setup['tests']['rss'])},
            parameters=orm.Dict(parameters),
        )


def test_refuses_missing_test_sets(fixture_code, small_gap_folder, teacher_setup):
    with pytest.raises(ValueError, match='test_sets'):
        run_get_node(
            StudentValidation,
            code=fixture_code('python'),
            teacher=GapPotential.from_folder(small_gap_folder),
            students={'a': StudentPotential.from_folder(teacher_setup['folder'])},
            parameters=orm.Dict({'seed': 1}),
        )


def test_broken_student_gives_exit_code_and_keeps_data(fixture_code, small_gap_folder, teacher_setup, tmp_path):
    """A student whose potential file motep cannot read: exit 321, the report and the good student's errors kept."""
    import shutil

    broken = tmp_path / 'broken'
    shutil.copytree(teacher_setup['folder'], broken)
    (broken / 'student.mtp').write_text('this is not an MTP file\n', encoding='utf-8')
    _, node = run_get_node(
        StudentValidation,
        code=fixture_code('python'),
        teacher=GapPotential.from_folder(small_gap_folder),
        students={
            'good': StudentPotential.from_folder(teacher_setup['folder']),
            'broken': StudentPotential.from_folder(broken),
        },
        test_sets={'self': StructureSet.from_atoms(teacher_setup['tests']['self'])},
        parameters=orm.Dict({'seed': 1, 'checks': ['errors']}),
    )
    assert node.exit_status == StudentValidation.exit_codes.ERROR_STUDENT_FAILED.status, node.exit_message
    assert 'broken load' in node.exit_message
    report = node.outputs.report.get_dict()
    assert report['errors']['good']['self']['energy_mae'] == pytest.approx(0.0, abs=1e-9)
    assert 'broken' not in report['errors']
    assert 'plots' not in node.outputs or not node.outputs.plots  # no cost measured: nothing to plot


def test_presets():
    from aiida_gaprss.calculations.student_validation import PRESETS, get_validation_parameters

    for name in PRESETS:
        parameters = get_validation_parameters(name, seed=2)
        assert parameters['seed'] == 2 and parameters['protocol'] == name
    changed = get_validation_parameters('fast', seed=1, overrides={'speed': {'natoms': 216}, 'checks': ['errors']})
    assert changed['speed'] == {**PRESETS['fast']['speed'], 'natoms': 216}
    assert changed['checks'] == ['errors']
    with pytest.raises(ValueError, match='preset'):
        get_validation_parameters('ultra', seed=1)
    with pytest.raises(ValueError, match=r'parameters\.speed\.kind'):
        get_validation_parameters('fast', seed=1, overrides={'speed': {'kind': 'gas'}})


def _report_of_two_families():
    """A validation report of level 8 fitted with two seeds and directly once; one seed's melt-quench blew up."""
    students = {
        'level_08': {'level': 8, 'seed': 1, 'family': 'indirect'},
        'level_08_seed_2': {'level': 8, 'seed': 2, 'family': 'indirect'},
        'direct_level_08': {'level': 8, 'seed': 1, 'family': 'direct'},
    }
    errors = {
        'level_08': {'rss': {'energy_mae': 0.010, 'force_mae': 0.2}},
        'level_08_seed_2': {'rss': {'energy_mae': 0.030, 'force_mae': 0.4}},
        'direct_level_08': {'rss': {'energy_mae': 0.050, 'force_mae': 0.5}},
    }
    cost = {'calculators': {key: {'relative': 0.01} for key in students}}
    melt = {'teacher': {}, 'level_08': {'n3': 0.1}, 'level_08_seed_2': {'error': 'MD failed'}, 'direct_level_08': {}}
    curves = {key: {'failed_at': None, 'error': None} for key in ('teacher', *students)}
    return {'students': students, 'errors': errors, 'cost': cost, 'melt_quench': melt,
            'compression': {'curves': curves}}  # fmt: skip


def test_seeds_are_one_row_per_family_and_level():
    from aiida_gaprss.jobs.student_validation import error_cost_rows, stability_summary, student_label

    report = _report_of_two_families()
    rows = {row['label']: row for row in error_cost_rows(report)}
    assert set(rows) == {'L8', 'L8 direct'}
    assert rows['L8']['seeds'] == 2 and rows['L8']['family'] == 'indirect'
    assert rows['L8']['energy_mae']['rss'] == pytest.approx(0.020)
    assert rows['L8']['energy_mae_range']['rss'] == pytest.approx([0.010, 0.030])
    assert rows['L8 direct']['family'] == 'direct' and rows['L8 direct']['force_mae']['rss'] == pytest.approx(0.5)
    stability = stability_summary(report)
    assert stability['L8']['melt_quench_completed'] == 1 and stability['L8']['melt_quench_fraction'] == 0.5
    assert stability['L8']['compression_fraction'] == 1.0 and stability['L8 direct']['students'] == 1
    assert student_label('level_08_seed_2', report['students']['level_08_seed_2']) == 'L8 s2'
    assert student_label('direct_level_08', report['students']['direct_level_08']) == 'L8 direct'
    del report['melt_quench']
    assert stability_summary(report)['L8']['melt_quench_fraction'] is None  # the check did not run


def test_moderate_preset_reaches_the_physics():
    """``moderate``: the 216-atom MD protocol with the 100 fs barostat, sh reference every GPa to 20 GPa; barostat keys
    are checked before submission."""
    from aiida_gaprss.calculations.student_validation import get_validation_parameters
    from aiida_gaprss.rss.md import get_protocol

    parameters = get_validation_parameters('moderate', seed=1)
    protocol = get_protocol(parameters['protocol'], parameters['overrides'])
    assert protocol['natoms'] == 216 and protocol['taup_fs'] == 100.0 and protocol['compression']['p_max'] == 20.0
    assert parameters['similarity']['pressures'] == [float(p) for p in range(21)]
    assert parameters['speed']['natoms'] == 216
    for key in ('taup_fs', 'compressibility'):
        with pytest.raises(ValueError, match=rf'parameters\.overrides\.{key}'):
            get_validation_parameters('moderate', seed=1, overrides={'overrides': {key: -1.0}})
