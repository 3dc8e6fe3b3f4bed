"""The GAP-RSS loop on the fast protocol with a real cheap reference (Stillinger-Weber through the ASE engine)."""

import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

GapRssWorkChain = WorkflowFactory('gaprss.rss')


@pytest.fixture
def codes(fixture_code):
    return {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}


def tiny_builder(codes, **overrides):
    """The ``tiny`` protocol (fast made smaller still: two iterations in a minute or two), Stillinger-Weber labels."""
    return GapRssWorkChain.get_builder_from_protocol(
        'Si', codes=codes, engine='ase', protocol='tiny', overrides=overrides
    )


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'protocol': 'ultra'}, 'field `protocol`: unknown protocol'),
        ({'engine': 'gaussian'}, 'field `engine`'),
        ({'overrides': {'budget': -5}}, 'field `budget`'),
        ({'overrides': {'budget': 'many'}}, 'field `budget`'),
        ({'overrides': {'num_select': 0}}, 'field `num_select`'),
        ({'overrides': {'colour': 'red'}}, 'field `overrides.colour`'),
        ({'element': 'Qq'}, 'field `element`'),
        ({'engine': 'qe'}, 'field `codes.pw`'),
        ({'element': 'Ti', 'engine': 'ase'}, 'field `overrides.reference.ase.calculator`'),
    ],
)
def test_bad_input_refused_before_submission(codes, kwargs, message):
    arguments = {'element': 'Si', 'codes': codes, 'engine': 'ase', 'protocol': 'fast', **kwargs}
    element = arguments.pop('element')
    with pytest.raises(ValueError, match=message):
        GapRssWorkChain.get_builder_from_protocol(element, **arguments)


def test_bad_parameters_refused_by_the_spec(codes):
    builder = tiny_builder(codes)
    builder.parameters = orm.Dict({**builder.parameters.get_dict(), 'relax': {'fmax': -1.0}})
    with pytest.raises(ValueError, match='parameters.relax.fmax'):
        run_get_node(builder)


@pytest.fixture(scope='module')
def _finished_runs():
    """The two-iteration run through the daemon, made once per module by whichever test asks for it first."""
    return {}


@pytest.fixture
def finished_run(codes, submit_and_await, _finished_runs):
    """The tiny run (two iterations, budget 21) through the daemon; finished (ok or not)."""
    if not _finished_runs:
        builder = tiny_builder(codes, budget=21)  # 10 + 3 dimers in iteration 0, 8 in iteration 1
        try:
            _finished_runs['node'] = submit_and_await(builder, timeout=1200)
        except Exception as exception:  # not submitted again by the next test that asks
            _finished_runs['error'] = exception
            raise
    if 'error' in _finished_runs:
        pytest.fail(f'the run did not finish: {_finished_runs["error"]!r}')
    return _finished_runs['node']


@pytest.mark.daemon
def test_two_iterations_through_the_daemon(finished_run):
    node = finished_run
    assert node.is_finished_ok, node.exit_message
    iterations = _iterations(node)
    assert [label for label, _ in iterations] == ['iteration_00', 'iteration_01']
    first, second = (child for _, child in iterations)
    assert len(first.outputs.selected) == 13  # CUR picks plus the dimers, which are always kept
    assert first.outputs.selected.config_types.get('dimer') == 3
    assert len(first.outputs.database) == 13 - len(first.outputs.exclusions['excluded'])
    assert len(second.outputs.database) == len(first.outputs.database) + len(second.outputs.labelled)
    # each fit used the merged database of its iteration
    for _, child in iterations:
        fit = [link.node for link in child.base.links.get_outgoing().all() if link.link_label == 'fit'][0]
        assert fit.inputs.training_set.uuid == child.outputs.database.uuid
    # the second iteration relaxed with the first potential and selected among its frames by enthalpy
    relaxations = [link.node for link in second.base.links.get_outgoing().all() if link.link_label.startswith('relax_')]
    assert relaxations and all(r.inputs.relax.potential.uuid == first.outputs.potential.uuid for r in relaxations)
    assert all('enthalpy' in atoms.info for atoms in second.outputs.selected.iter_atoms())
    curve = node.outputs.learning_curve['iterations']
    assert [row['reference_evaluations'] for row in curve] == [13, 21]
    assert [row['database_size'] for row in curve] == [len(first.outputs.database), len(second.outputs.database)]
    assert curve[1]['prediction_count'] == len(second.outputs.labelled)
    for row, (_, child) in zip(curve, iterations, strict=True):  # the cells' RMSE leaves the 3 dimers out
        per_type = child.outputs.fit_parameters['training_errors']['per_config_type']
        cells = {name: value for name, value in per_type.items() if name != 'dimer'}
        mean_square = sum(v['n_energy'] * v['energy_rmse'] ** 2 for v in cells.values()) / sum(
            v['n_energy'] for v in cells.values()
        )
        assert row['training_energy_rmse_cells'] == pytest.approx(mean_square**0.5, rel=1e-9)
    assert node.outputs.database.uuid == second.outputs.database.uuid
    assert node.outputs.potential.uuid == second.outputs.potential.uuid
    assert set(node.outputs.potentials) == {'iteration_00', 'iteration_01'}
    # every output is reachable from the final potential by provenance
    ancestors = _ancestors(node.outputs.potential)
    for needed in (second.outputs.database, first.outputs.database, first.outputs.pool, second.outputs.trajectories):
        assert needed.pk in ancestors


@pytest.mark.daemon  # the run it continues is made through the daemon when it runs alone
def test_continue_a_run_without_relabelling(codes, finished_run):
    from aiida_gaprss.workflows.rss import restart_inputs

    previous = finished_run
    assert previous.is_finished_ok, previous.exit_message
    restart = restart_inputs(previous)
    assert restart['iteration'].value == 2
    assert restart['reference_evaluations'].value == 21
    assert restart['database'].uuid == previous.outputs.database.uuid
    builder = tiny_builder(codes, budget=29)
    builder.restart = restart
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    iterations = _iterations(node)
    assert [label for label, _ in iterations] == ['iteration_02']
    child = iterations[0][1]
    references = [link.node for link in child.base.links.get_outgoing().all() if link.link_label == 'reference']
    # the only reference calculations of the continued run label the new selection
    assert sum(len(ref.inputs.structures) for ref in references) == len(child.outputs.selected) == 8
    old = previous.outputs.database.get_atoms()
    new = node.outputs.database.get_atoms()
    assert len(new) == len(old) + len(child.outputs.labelled)
    assert all(a.info['energy'] == b.info['energy'] for a, b in zip(old, new[: len(old)], strict=True))
    assert node.outputs.learning_curve['iterations'][-1]['iteration'] == 2
    assert child.inputs.potential.uuid == previous.outputs.potential.uuid


def _iterations(node):
    links = node.base.links.get_outgoing().all()
    return sorted((link.link_label, link.node) for link in links if link.link_label.startswith('iteration_'))


def _ancestors(node) -> set[int]:
    from aiida.orm import Node, QueryBuilder

    query = QueryBuilder().append(Node, filters={'id': node.pk}, tag='target')
    query.append(Node, with_descendants='target', project='id')
    return set(query.all(flat=True))


@pytest.mark.daemon
def test_cli_against_the_finished_run(finished_run, tmp_path):
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root
    from aiida_gaprss.provenance import run_status

    node = finished_run
    assert node.is_finished_ok, node.exit_message
    runner = CliRunner()

    result = runner.invoke(cmd_root, ['status', str(node.pk)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert 'reference evaluations: 21 of 21' in result.output
    assert 'iteration_00' in result.output and 'iteration_01' in result.output
    assert 'training energy RMSE per config_type' in result.output
    assert 'cells only' in result.output
    status = run_status(node)
    per_type = status['iterations'][0]['energy_rmse_per_config_type']
    assert 'dimer' in per_type and all(value is None or value >= 0 for value in per_type.values())
    assert len(per_type) >= 2, per_type
    assert status['iterations'][1]['energy_rmse_cells'] == pytest.approx(
        node.outputs.learning_curve['iterations'][1]['training_energy_rmse_cells'], rel=1e-12
    )

    result = runner.invoke(cmd_root, ['lineage', str(node.outputs.potential.pk), '--json'], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    import json

    info = json.loads(result.output)
    assert info['database']['sha256'] == node.outputs.database.sha256
    assert info['training_set']['num_structures'] == len(node.outputs.database)
    assert info['run']['pk'] == node.pk
    assert info['iteration']['label'] == 'iteration_01'
    assert info['reference']['engine'] == 'ase'
    assert info['reference']['ase']['calculator'] == {'type': 'sw_si'}
    assert info['codes']['gap_fit']['executable'].endswith('gap_fit')
    assert info['versions']['plugin']

    result = runner.invoke(cmd_root, ['lineage', str(node.pk)], catch_exceptions=False)
    assert 'training set: StructureSet' in result.output and node.outputs.database.sha256 in result.output
    assert result.exit_code == 0, result.output

    archive = tmp_path / 'run.aiida'
    result = runner.invoke(cmd_root, ['export', str(node.pk), '-o', str(archive)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert archive.stat().st_size > 10_000


def test_cli_run_refuses_bad_input():
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root

    runner = CliRunner()
    result = runner.invoke(cmd_root, ['run', 'Si', '--engine', 'ase', '--python-code', 'nope@nowhere'])
    assert result.exit_code != 0 and '--python-code' in result.output
    result = runner.invoke(cmd_root, ['run', 'Si', '--engine', 'ase', '--overrides', '{bad json'])
    assert result.exit_code != 0 and '--overrides' in result.output
