"""`gaprss status`: the known-phase errors of each iteration's validation, read from the run's provenance.

The graph is built by hand (a run, its iterations and validations, their phase_errors) so the query and the table are
checked in the fast suite; the slow loop test of tests/workflows/test_validation.py checks them on a real run.
"""

import pytest
from aiida import orm
from aiida.common.links import LinkType
from plumpy import ProcessState

PHASES = {
    'diamond': {'error': -0.0011, 'potential_b0': 123.4, 'reference_b0': 89.0},
    'beta_sn': {'error': -0.0302, 'potential_b0': 209.0, 'reference_b0': 104.4},
}


def _process(caller, label, state, exit_status=None):
    node = orm.WorkflowNode()
    node.set_process_state(state)
    if exit_status is not None:
        node.set_exit_status(exit_status)
    node.base.links.add_incoming(caller, LinkType.CALL_WORK, label)
    return node.store()


def _return(node, label, value):
    data = orm.Dict(value).store()
    data.base.links.add_incoming(node, LinkType.RETURN, label)
    return data


@pytest.fixture
def run_with_validations():
    """A run in iteration 2: iterations 0 and 1 validated (0 failed [401]), iteration 1's validation running."""
    run = orm.WorkflowNode()
    run.set_process_label('GapRssWorkChain')
    run.set_process_state(ProcessState.WAITING)
    run.base.links.add_incoming(orm.Int(400).store(), LinkType.INPUT_WORK, 'budget')
    run.store()
    for k in range(3):
        state = ProcessState.WAITING if k == 2 else ProcessState.FINISHED
        _process(run, f'iteration_{k:02d}', state, None if k == 2 else 0)
    _process(run, 'validation_00', ProcessState.FINISHED, 401)
    done = _process(run, 'validation_01', ProcessState.FINISHED, 0)
    _return(done, 'phase_errors', {'phases': PHASES, 'units': 'eV/atom'})
    _process(run, 'validation_02', ProcessState.RUNNING)
    return run


def test_run_status_reads_each_validation(run_with_validations):
    from aiida_gaprss.provenance import run_status

    rows = run_status(run_with_validations)['iterations']
    assert [row['label'] for row in rows] == ['iteration_00', 'iteration_01', 'iteration_02']
    assert rows[0]['validation']['exit_status'] == 401 and 'phase_errors' not in rows[0]['validation']
    assert rows[1]['validation']['phase_errors'] == {'diamond': -0.0011, 'beta_sn': -0.0302}
    assert rows[1]['validation']['phase_b0'] == {'diamond': [123.4, 89.0], 'beta_sn': [209.0, 104.4]}
    assert rows[2]['validation']['state'] == 'running' and 'phase_errors' not in rows[2]['validation']


def test_status_prints_the_phase_errors(run_with_validations):
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root

    result = CliRunner().invoke(cmd_root, ['status', str(run_with_validations.pk)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert 'reference evaluations: 0 of 400' in result.output
    table = result.output.split('known phases, potential minus reference')[1].splitlines()
    lines = {line.split()[0]: line.split() for line in table if line.startswith('iteration_')}
    assert lines['iteration_00'][2:] == ['finished', '[401]']
    assert lines['iteration_01'][2:] == ['finished', '-1.1', '-30.2']
    assert lines['iteration_02'][2:] == ['running']
    assert 'potential / reference (GPa): diamond 123 / 89, beta_sn 209 / 104' in result.output
