"""An archive exported by the code of fdc7fef — before issue 21 split modules, moved the parsers and added restart
work chains — imports and reads with today's code: node types, process classes and parsers by entry point, the
potential's energies, the database, ``gaprss status`` and a continuation builder.

The archive (tests/data/archives/gaprss_fdc7fef.aiida) is a finished tiny Si GAP-RSS run on the ASE engine
(Stillinger–Weber labels, two iterations, budget 21) validated on diamond and beta-Sn; ``make_old_archive.py`` beside
it made it with the old code.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from aiida import orm
from aiida.plugins import ParserFactory

ARCHIVE = pathlib.Path(__file__).parent / 'archives' / 'gaprss_fdc7fef.aiida'


@pytest.fixture(scope='module')
def old_run(aiida_profile):
    """The imported run (imported once per module)."""
    from aiida.tools.archive import import_archive

    query = orm.QueryBuilder().append(orm.WorkflowNode, filters={'extras.gaprss_archive': {'like': 'pre-issue-21%'}})
    if not query.count():
        import_archive(ARCHIVE)
    return (
        orm.QueryBuilder()
        .append(orm.WorkflowNode, filters={'extras.gaprss_archive': {'like': 'pre-issue-21%'}})
        .one()[0]
    )


def test_every_process_and_parser_of_the_old_run_resolves(old_run):
    from aiida_gaprss.workflows.rss import GapRssWorkChain

    assert old_run.process_class is GapRssWorkChain
    assert old_run.is_finished_ok
    descendants = old_run.called_descendants
    labels = {node.process_label for node in descendants}
    assert {'GapRssIterationWorkChain', 'GapFitCalculation', 'ValidationWorkChain', 'ValidatePotential'} <= labels
    for node in descendants:
        assert node.process_class is not None, node.process_type  # the entry point still loads
        parser = node.base.attributes.get('parser_name', None) if isinstance(node, orm.CalcJobNode) else None
        if parser:
            assert ParserFactory(parser) is not None


def test_the_old_potential_and_database_read_as_before(old_run):
    from aiida_gaprss.data.gap_potential import GapPotential
    from aiida_gaprss.data.structure_set import StructureSet

    potential, database = old_run.outputs.potential, old_run.outputs.database
    assert isinstance(potential, GapPotential) and isinstance(database, StructureSet)
    assert potential.elements == ['Si']
    assert len(database.get_atoms()) == database.num_structures >= 21 - 3  # the budget, dimers aside
    # the old run's own validation: the potential at its relaxed diamond gives the energy that run stored
    validation = [node for node in old_run.called_descendants if node.process_label == 'ValidationWorkChain'][-1]
    stored = validation.outputs.potential_results['phases']['diamond']['energy_per_atom']
    relaxed = {atoms.info['phase']: atoms for atoms in validation.outputs.relaxed_phases.get_atoms()}
    atoms = relaxed['diamond'].copy()
    atoms.calc = potential.get_calculator()
    assert atoms.get_potential_energy() / len(atoms) == pytest.approx(stored, abs=1e-6)
    assert np.isfinite(validation.outputs.phase_errors['phases']['beta_sn']['error'])


def test_status_and_continuation_of_the_old_run(old_run):
    from click.testing import CliRunner

    from aiida_gaprss.cli.root import cmd_root
    from aiida_gaprss.workflows.rss import restart_builder

    result = CliRunner().invoke(cmd_root, ['status', str(old_run.pk)])
    assert result.exit_code == 0, result.output
    assert 'iteration' in result.output.lower()
    builder = restart_builder(old_run)
    assert builder.restart['database'].uuid == old_run.outputs.database.uuid
    assert builder.restart['iteration'].value == 2
    assert builder.restart['reference_evaluations'].value == 21
    assert builder.reference.ase.calculator.get_dict() == {'type': 'sw_si'}
    assert builder.element.value == 'Si' and builder.budget.value == 21


@pytest.mark.slow
def test_the_old_run_continues_with_todays_code(old_run, fixture_code):
    """One more iteration from the old run's database and potential (this machine's codes: the archive's point at
    the machine that made it)."""
    from aiida.engine import run_get_node

    from aiida_gaprss.workflows.rss import restart_builder

    builder = restart_builder(old_run)
    builder.code = fixture_code('python')
    builder.reference.ase.code = builder.code
    builder.fit.gap_fit.gap_fit.code = fixture_code('gaprss.gap_fit')
    builder.fit.gap_fit.gap_fit.evaluation_code = builder.code
    builder.budget = orm.Int(29)
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    old = old_run.outputs.database.get_atoms()
    new = node.outputs.database.get_atoms()
    assert len(new) > len(old)
    assert all(a.info['energy'] == b.info['energy'] for a, b in zip(old, new[: len(old)], strict=True))
