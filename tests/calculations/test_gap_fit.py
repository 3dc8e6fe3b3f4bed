"""Tests of the ``gaprss.gap_fit`` CalcJob: generated inputs, validation, and real gap_fit runs."""

from __future__ import annotations

import json
import shlex

import pytest
from aiida import orm
from aiida.common import datastructures
from aiida.common.folders import SandboxFolder
from aiida.engine import run_get_node
from aiida.engine.utils import instantiate_process
from aiida.manage import get_manager

from aiida_gaprss.calculations.gap_fit import GapFitCalculation
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.jobs.gap_errors import training_errors
from aiida_gaprss.rss.gap_parameters import build_gap_fit_command

from .gap_fit_data import si_cells, small_parameters


@pytest.fixture(scope='module')
def training_frames():
    return si_cells(30, seed=7)


@pytest.fixture
def inputs(fixture_code, training_frames):
    return {
        'code': fixture_code('gaprss.gap_fit'),
        'training_set': StructureSet.from_atoms(training_frames[:6]),
        'parameters': orm.Dict(small_parameters()),
    }


def prepare(inputs):
    """Instantiate the CalcJob (validating its inputs) and run ``prepare_for_submission`` in a sandbox."""
    process = instantiate_process(get_manager().get_runner(), GapFitCalculation, **inputs)
    with SandboxFolder() as folder:
        calc_info = process.prepare_for_submission(folder)
        files = {name: folder.get_abs_path(name) for name in folder.get_content_list()}
        contents = {name: open(path, encoding='utf-8').read() for name, path in files.items()}
    return calc_info, contents


def test_prepare_for_submission(inputs):
    calc_info, contents = prepare(inputs)
    (code_info,) = calc_info.codes_info
    expected = build_gap_fit_command(inputs['parameters'].get_dict(), at_file='train.xyz', gp_file='gap.xml')
    assert code_info.cmdline_params == expected
    assert code_info.stdout_name == 'gap_fit.out' and code_info.stderr_name == 'gap_fit.err'
    assert sorted(contents) == ['train.xyz']
    assert contents['train.xyz'] == inputs['training_set'].get_content()
    assert sorted(calc_info.retrieve_list) == ['gap_fit.err', 'gap_fit.out']
    assert calc_info.retrieve_temporary_list == ['gap.xml', 'gap.xml.sparseX.*']
    assert 'export OMP_NUM_THREADS=1' in calc_info.prepend_text


def test_prepare_with_evaluation_code_and_threads(inputs, fixture_code):
    inputs['evaluation_code'] = fixture_code('python')
    inputs['metadata'] = {
        'options': {
            'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1, 'num_cores_per_mpiproc': 2},
            'environment_variables': {'MKL_NUM_THREADS': '3'},
        }
    }
    calc_info, contents = prepare(inputs)
    fit, evaluation = calc_info.codes_info
    assert calc_info.codes_run_mode == datastructures.CodeRunMode.SERIAL
    assert evaluation.code_uuid == inputs['evaluation_code'].uuid
    assert evaluation.cmdline_params == ['-m', 'aiida_gaprss.jobs.gap_errors', 'gap_errors_job.json']
    job = json.loads(contents['gap_errors_job.json'])
    assert job['parameters'] == {'structures': 'train.xyz', 'potential': 'gap.xml', 'output': 'gap_errors.json'}
    assert 'gap_errors.json' in calc_info.retrieve_list and '_status.json' in calc_info.retrieve_list
    assert 'export OMP_NUM_THREADS=2' in calc_info.prepend_text
    assert 'MKL_NUM_THREADS' not in calc_info.prepend_text  # the user's own setting wins


def test_submission_script_quotes_each_token(inputs):
    """In the job script each argument is one shell word: the braces and spaces of gap={...} stay inside it."""
    from aiida.common.escaping import escape_for_bash

    calc_info, _ = prepare(inputs)
    argv = calc_info.codes_info[0].cmdline_params
    assert shlex.split(' '.join(escape_for_bash(arg) for arg in argv)) == argv


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'descriptors': {'soap': {'cutoff': -4.0}}}, r'parameters: descriptors\[2\]\.cutoff'),
        ({'descriptors': {'distance_2b': {'n_sparse': 0}}}, r'parameters: descriptors\[0\]\.n_sparse'),
        ({'species': ['Si', 'Zz']}, r'parameters: species\[1\]'),
    ],
)
def test_bad_parameters_refused_before_submission(inputs, change, message):
    params = inputs['parameters'].get_dict()
    for key, value in change.items():
        if key == 'descriptors':
            for descriptor in params['descriptors']:
                descriptor.update(value.get(descriptor['type'], {}))
        else:
            params[key] = value
    inputs['parameters'] = orm.Dict(params)
    with pytest.raises(ValueError, match=message):
        instantiate_process(get_manager().get_runner(), GapFitCalculation, **inputs)


def test_training_set_without_energies_refused(inputs, training_frames):
    frames = [atoms.copy() for atoms in training_frames[:3]]
    del frames[1].info['energy']
    inputs['training_set'] = StructureSet.from_atoms(frames)
    with pytest.raises(ValueError, match=r'training_set: every structure must carry an energy label.*2 of 3'):
        instantiate_process(get_manager().get_runner(), GapFitCalculation, **inputs)


def test_species_not_covered_refused(inputs):
    from ase.build import bulk

    carbon = bulk('C', 'diamond', a=3.57)
    carbon.info['energy'] = -10.0
    inputs['training_set'] = StructureSet.from_atoms([carbon])
    with pytest.raises(ValueError, match=r"parameters.species: \['Si'\] does not cover the species \['C'\]"):
        instantiate_process(get_manager().get_runner(), GapFitCalculation, **inputs)


def _check_fit(results, node, frames):
    """The fitted potential reproduces its training energies and its reported RMSE; returns the output dict."""
    assert node.is_finished_ok, node.exit_message
    potential = results['potential']
    output = results['output_parameters'].get_dict()
    assert output['n_structures'] == len(frames)
    calculator = potential.get_calculator()
    recomputed = training_errors(frames, calculator)
    assert recomputed['energy_rmse'] == pytest.approx(output['energy_rmse'], rel=1e-6)
    assert recomputed['forces_rmse'] == pytest.approx(output['forces_rmse'], rel=1e-6)
    assert output['energy_rmse'] < 0.01  # eV/atom: SW on near-diamond cells is easy
    assert output['forces_rmse'] < 0.2  # eV/Å
    for atoms in frames:
        work = atoms.copy()
        work.calc = calculator
        error = abs(work.get_potential_energy() - atoms.info['energy']) / len(atoms)
        assert error <= 5 * output['energy_rmse']
    assert set(output['training_errors']['per_config_type']) == {'cubic', 'primitive'}
    assert potential.command_line == shlex.join(
        ['gap_fit', *build_gap_fit_command(node.inputs.parameters.get_dict(), at_file='train.xyz', gp_file='gap.xml')]
    )
    held_out = si_cells(6, seed=99)
    held_out_errors = training_errors(held_out, calculator)
    assert held_out_errors['energy_rmse'] < 3 * output['energy_rmse'] + 0.002
    return output


def test_real_fit_with_evaluation_code(fixture_code, training_frames):
    """A real gap_fit run on 30 SW-labelled Si cells, training errors from the evaluation job in the same job."""
    builder = GapFitCalculation.get_builder()
    builder.code = fixture_code('gaprss.gap_fit')
    builder.evaluation_code = fixture_code('python')
    builder.training_set = StructureSet.from_atoms(training_frames)
    builder.parameters = orm.Dict(small_parameters())
    builder.metadata.options.max_wallclock_seconds = 600
    results, node = run_get_node(builder)
    output = _check_fit(results, node, training_frames)
    assert 'gap_errors.json' in node.outputs.retrieved.base.repository.list_object_names()
    assert 'gap.xml' not in node.outputs.retrieved.base.repository.list_object_names()  # stored once, in potential
    assert sum(p['n_sparse'] for p in output['sparse_points']) == 10 + 20 + 20


def test_real_fit_gap_fit_error(fixture_code, training_frames):
    """gap_fit refuses e0 from isolated atoms the data lack: the job fails with 320 and gap_fit's message."""
    builder = GapFitCalculation.get_builder()
    builder.code = fixture_code('gaprss.gap_fit')
    builder.training_set = StructureSet.from_atoms(training_frames[:4])
    builder.parameters = orm.Dict(small_parameters(e0='isolated'))
    _, node = run_get_node(builder)
    assert node.exit_status == 320
    assert 'isolated representative' in node.exit_message


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
def test_real_fit_through_daemon(fixture_code, training_frames, submit_and_await):
    """Submitted to the daemon (parser evaluates the training errors itself: no evaluation code)."""
    builder = GapFitCalculation.get_builder()
    builder.code = fixture_code('gaprss.gap_fit')
    builder.training_set = StructureSet.from_atoms(training_frames)
    builder.parameters = orm.Dict(small_parameters())
    node = submit_and_await(builder, timeout=300)
    results = {label: node.outputs[label] for label in ('potential', 'output_parameters')}
    output = _check_fit(results, node, training_frames)
    assert output['finished'] is True and output['wall_time_seconds'] >= 0


def test_training_errors_statistics(training_frames):
    """The error job's numbers: zero against the labelling potential itself, exact for a known energy shift."""
    from aiida_gaprss.rss.potentials import stillinger_weber_si

    frames = [atoms.copy() for atoms in training_frames[:4]]
    for atoms in frames:
        atoms.info['energy'] += 0.01 * len(atoms)
    errors = training_errors(frames, stillinger_weber_si())
    assert errors['energy_rmse'] == pytest.approx(0.01, abs=1e-9)
    assert errors['energy_max'] == pytest.approx(0.01, abs=1e-9)
    assert errors['forces_rmse'] < 1e-9 and errors['virial_rmse'] < 1e-9
    assert errors['n_force_components'] == 3 * sum(len(a) for a in frames)
    assert errors['per_config_type']['cubic']['n_structures'] == 2


def test_energy_rmse_of_cells_leaves_the_dimers_out(training_frames):
    """A dimer 2 eV/atom off dominates the overall RMSE; the cells' RMSE is the shift given to the cells."""
    from ase import Atoms

    from aiida_gaprss.jobs.gap_errors import energy_rmse_of_cells
    from aiida_gaprss.rss.potentials import stillinger_weber_si

    calculator = stillinger_weber_si()
    frames = [atoms.copy() for atoms in training_frames[:4]]
    for atoms in frames:
        atoms.info['energy'] += 0.01 * len(atoms)
    dimer = Atoms('Si2', positions=[[0, 0, 0], [2.4, 0, 0]], cell=[12, 12, 12], pbc=True)
    dimer.calc = calculator
    dimer.info.update(energy=dimer.get_potential_energy() + 4.0, config_type='dimer')
    dimer.calc = None
    errors = training_errors([*frames, dimer], calculator)
    assert errors['energy_rmse'] > 0.8  # sqrt((4 * 0.01**2 + 2**2) / 5)
    assert energy_rmse_of_cells(errors) == pytest.approx(0.01, abs=1e-9)
    assert energy_rmse_of_cells(errors, excluded=()) == pytest.approx(errors['energy_rmse'], rel=1e-9)
    assert energy_rmse_of_cells({'per_config_type': {'dimer': errors['per_config_type']['dimer']}}) is None
