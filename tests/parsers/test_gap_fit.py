"""Tests of the ``gaprss.gap_fit`` parser on stored outputs of real gap_fit runs (tests/fixtures/gap_fit).

The outputs were produced by ``tests/fixtures/gap_fit/make_fixtures.py``: a successful small Si fit (with the
evaluation job's ``gap_errors.json``), a real ``SYSTEM ABORT`` (e0 from isolated atoms that the data lack), a real
out-of-memory failure (``ulimit -v``) and a run killed half-way (``timeout``) used with the scheduler's walltime
exit status.
"""

from __future__ import annotations

import json
import math
import pathlib
import shutil

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.plugins.entry_point import format_entry_point_string

from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.gap_fit import GapFitParser, find_error, find_out_of_memory, parse_stdout

FIXTURES = pathlib.Path(__file__).parents[1] / 'fixtures' / 'gap_fit'


def _round(value, digits=6):
    """Round floats to ``digits`` significant digits, recursively, so regression files are robust to libm noise."""
    if isinstance(value, float):
        return 0.0 if value == 0 else round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))
    if isinstance(value, dict):
        return {key: _round(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [_round(item, digits) for item in value]
    return value


@pytest.fixture
def generate_node(aiida_localhost, tmp_path):
    """Return a factory of a stored ``CalcJobNode`` of ``gaprss.gap_fit`` with a case's retrieved files.

    ``exclude`` leaves retrieved files out, ``exclude_temporary`` files of the temporary folder (``'*'``: all),
    ``evaluation`` adds an ``evaluation_code`` input, ``exit_status`` is what the scheduler parser would have set,
    ``extra`` more retrieved files (name: text).
    """

    def factory(
        case, *, exclude=(), exclude_temporary=(), evaluation=False, exit_status=None, exit_message=None, extra=None
    ):
        folder = FIXTURES / case
        node = orm.CalcJobNode(
            computer=aiida_localhost, process_type=format_entry_point_string('aiida.calculations', 'gaprss.gap_fit')
        )
        node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
        node.set_option('output_filename', 'gap_fit.out')
        node.set_option('scheduler_stderr', '_scheduler-stderr.txt')
        inputs = {
            'training_set': StructureSet.from_file(FIXTURES / 'training.xyz'),
            'parameters': orm.Dict(json.loads((folder / 'parameters.json').read_text())),
        }
        if evaluation:
            inputs['evaluation_code'] = orm.InstalledCode(
                computer=aiida_localhost, filepath_executable='/usr/bin/python3', label='python-eval'
            )
        for label, value in inputs.items():
            value.store()
            node.base.links.add_incoming(value, link_type=LinkType.INPUT_CALC, link_label=label)
        node.store()
        if exit_status is not None:
            node.set_exit_status(exit_status)
            node.set_exit_message(exit_message)

        retrieved = orm.FolderData()
        for path in sorted((folder / 'retrieved').iterdir()):
            if path.name not in exclude:
                retrieved.base.repository.put_object_from_file(str(path), path.name)
        for name, text in (extra or {}).items():
            retrieved.base.repository.put_object_from_bytes(text.encode(), name)
        retrieved.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label='retrieved')
        retrieved.store()

        temporary = tmp_path / 'temporary'
        temporary.mkdir()
        if (folder / 'temporary').is_dir():
            for path in (folder / 'temporary').iterdir():
                excluded = '*' in exclude_temporary or any(path.name.endswith(end) for end in exclude_temporary)
                if not excluded:
                    shutil.copy(path, temporary / path.name)
        return node, str(temporary)

    return factory


def parse(node, temporary):
    return GapFitParser.parse_from_node(node, store_provenance=False, retrieved_temporary_folder=temporary)


def test_success_with_evaluation_json(generate_node, data_regression):
    """A real fit: the potential and the report (training errors from the evaluation job's JSON)."""
    node, temporary = generate_node('success', evaluation=True)
    results, calcfunction = parse(node, temporary)
    assert calcfunction.is_finished_ok, calcfunction.exit_message
    potential = results['potential']
    assert potential.elements == ['Si']
    assert [d['type'] for d in potential.descriptors] == ['distance_2b', 'angle_3b', 'soap']
    assert potential.command_line.startswith('gap_fit at_file=train.xyz gp_file=gap.xml ')
    assert "'gap={distance_2b cutoff=9.99" in potential.command_line
    output = results['output_parameters'].get_dict()
    stored = json.loads((FIXTURES / 'success' / 'retrieved' / 'gap_errors.json').read_text())
    assert output['energy_rmse'] == stored['energy_rmse']
    assert output['n_target_forces'] == 3 * output['n_atoms']
    assert [p['n_sparse'] for p in output['sparse_points']] == [10, 20, 10]
    data_regression.check(_round(output))


def test_success_errors_evaluated_by_parser(generate_node):
    """Without an evaluation code the parser computes the same training errors with quippy itself."""
    node, temporary = generate_node('success', exclude=('gap_errors.json', '_status.json'))
    results, calcfunction = parse(node, temporary)
    assert calcfunction.is_finished_ok, calcfunction.exit_message
    output = results['output_parameters'].get_dict()
    stored = json.loads((FIXTURES / 'success' / 'retrieved' / 'gap_errors.json').read_text())
    for key in ('energy_rmse', 'forces_rmse', 'virial_rmse'):
        assert output[key] == pytest.approx(stored[key], rel=1e-8)
    per_type = output['training_errors']['per_config_type']
    assert set(per_type) == {'cubic', 'primitive'}
    assert sum(item['n_structures'] for item in per_type.values()) == output['n_structures'] == 10


def test_evaluation_job_without_output(generate_node):
    """The evaluation code ran but wrote no JSON: 312, with the potential still attached."""
    node, temporary = generate_node('success', evaluation=True, exclude=('gap_errors.json', '_status.json'))
    results, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 312
    assert 'gap_errors.json' in calcfunction.exit_message
    assert 'potential' in results
    assert 'energy_rmse' not in results['output_parameters'].get_dict()


def test_gap_fit_abort(generate_node):
    """A real SYSTEM ABORT of gap_fit: exit code 320 carrying gap_fit's own message."""
    node, temporary = generate_node('abort_e0')
    results, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 320
    assert 'isolated atom energies' in calcfunction.exit_message
    assert 'had an isolated representative' in calcfunction.exit_message
    assert 'potential' not in results


def test_out_of_memory(generate_node):
    """gap_fit under ``ulimit -v``: 'Cannot allocate memory' gives 330 with the message."""
    node, temporary = generate_node('out_of_memory')
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 330
    assert 'Cannot allocate memory' in calcfunction.exit_message
    assert 'Error allocating 30720000 bytes' in calcfunction.exit_message


def test_walltime_from_scheduler(generate_node):
    """A run killed half-way after the scheduler reported the walltime exceeded (status 120): 400."""
    node, temporary = generate_node('walltime', exit_status=120, exit_message='The job ran out of walltime.')
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 400
    assert 'walltime' in calcfunction.exit_message


def test_scheduler_out_of_memory(generate_node):
    """The same killed run with the scheduler's out-of-memory status (110): 330."""
    node, temporary = generate_node('walltime', exit_status=110, exit_message='The job ran out of memory.')
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 330


def test_killed_run_without_scheduler_status(generate_node):
    """The killed run without a scheduler verdict: no gap.xml, gap_fit did not finish and said no error: 340."""
    node, temporary = generate_node('walltime')
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 340
    assert 'stopped before its final message' in calcfunction.exit_message


def test_cancelled_by_the_scheduler(generate_node):
    """``scancel``: aiida-core's SLURM plugin sets no exit code, the scheduler's stderr says CANCELLED: 340."""
    stderr = 'slurmstepd: error: *** JOB 42 ON vm CANCELLED AT 2026-11-27T18:00:00 ***\n'
    node, temporary = generate_node('walltime', exclude=('gap_fit.out',), extra={'_scheduler-stderr.txt': stderr})
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 340
    assert 'CANCELLED AT' in calcfunction.exit_message


@pytest.mark.parametrize(('exclude', 'status'), [(('gap_fit.out',), 301), (('gap_fit.err',), 302)])
def test_missing_streams(generate_node, exclude, status):
    node, temporary = generate_node('success', exclude=exclude)
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == status


def test_missing_potential(generate_node):
    node, temporary = generate_node('success', exclude_temporary=('*',))
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 310
    assert 'finished normally' in calcfunction.exit_message


def test_missing_sparse_file(generate_node):
    """gap.xml refers to a sparseX file that was not retrieved: GapPotential refuses it, 311 names the file."""
    name = sorted(p.name for p in (FIXTURES / 'success' / 'temporary').iterdir() if '.sparseX.' in p.name)[-1]
    node, temporary = generate_node('success', exclude_temporary=(name,))
    _, calcfunction = parse(node, temporary)
    assert calcfunction.exit_status == 311
    assert name in calcfunction.exit_message


def test_no_retrieved_folder(aiida_localhost):
    node = orm.CalcJobNode(
        computer=aiida_localhost, process_type=format_entry_point_string('aiida.calculations', 'gaprss.gap_fit')
    )
    node.store()
    exit_code = GapFitParser(node).parse()
    assert exit_code.status == 300


def test_message_helpers():
    """Fortran's wrapped SYSTEM ABORT lines are joined; OOM texts of other runtimes are recognised."""
    stderr = (
        'SYSTEM ABORT: fit_data_from_xyz: one of theta_file, theta_uniform of theta_f-\nac must be given   \nSTOP 1\n'
    )
    assert find_error('', stderr) == 'fit_data_from_xyz: one of theta_file, theta_uniform of theta_fac must be given'
    assert find_error('all fine\n', '') is None
    assert 'bad_alloc' in find_out_of_memory("terminate called after throwing an instance of 'std::bad_alloc'")
    assert find_out_of_memory('nothing here') is None
    report = parse_stdout((FIXTURES / 'success' / 'retrieved' / 'gap_fit.out').read_text())
    assert report['finished'] is True
    assert report['wall_time_seconds'] >= 0
    # one SOAP environment per atom of the 10 training cells (5 cubic x 8 + 5 primitive x 2 = 50 atoms)
    assert report['n_descriptor_environments'][2] == 50
    assert report['n_target_energy'] == 10
