"""ReferenceWorkChain with the ASE engine: labels, order, provenance, waves, exclusions, failure fraction, e0."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_gaprss.calculations.ase_batch import AseBatch
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.potentials import stillinger_weber_si
from aiida_gaprss.workflows.python_job import AseBatchBaseWorkChain
from aiida_gaprss.workflows.reference import ReferenceWorkChain

EMT_SPEC = {'type': 'import', 'path': 'ase.calculators.emt:EMT'}


def si_cells(n=5):
    cells = []
    for k in range(n):
        atoms = bulk('Si', 'diamond', a=5.3 + 0.05 * k, cubic=k % 2 == 0)
        atoms.rattle(0.05, seed=k)
        atoms.info['origin'] = f'cell{k}'
        atoms.info['iteration'] = 3
        cells.append(atoms)
    return cells


def _ase_jobs(node) -> list:
    """The AseBatch jobs of a reference work chain (each under its ``AseBatchBaseWorkChain``)."""
    return [child for child in node.called_descendants if child.process_class is AseBatch]


def builder_for(code, atoms_list, calculator, **kwargs):
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms(atoms_list)
    builder.engine = orm.Str('ase')
    builder.ase.code = code
    builder.ase.calculator = orm.Dict(calculator)
    for key, value in kwargs.items():
        builder[key] = value
    return builder


def test_sw_labels_in_order_with_provenance_and_waves(fixture_code):
    cells = si_cells(5)
    builder = builder_for(fixture_code('python'), cells, {'type': 'sw_si'}, max_concurrent=orm.Int(2))
    builder.ase.batch_size = orm.Int(2)
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    labelled = results['structures'].get_atoms()
    assert [atoms.info['origin'] for atoms in labelled] == [f'cell{k}' for k in range(5)]
    calculator = stillinger_weber_si()
    for atoms, got in zip(cells, labelled, strict=True):
        atoms.calc = calculator
        assert got.info['energy'] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(got.arrays['forces'], atoms.get_forces(), atol=1e-8)
        np.testing.assert_allclose(got.info['virial'], -atoms.get_stress(voigt=False) * atoms.get_volume(), atol=1e-8)
        assert got.info['iteration'] == 3
        assert got.info['reference_engine'] == 'ase'
        assert 'reference_index' not in got.info
    jobs = sorted(_ase_jobs(node), key=lambda child: child.ctime)
    assert len(jobs) == 3
    assert all(job.caller.process_class is AseBatchBaseWorkChain and job.caller.caller.pk == node.pk for job in jobs)
    assert {atoms.info['reference_pk'] for atoms in labelled} == {job.pk for job in jobs}
    # a rolling window of max_concurrent=2: the third job is created once one of the first two has terminated
    assert jobs[2].ctime > min(job.outputs.retrieved.ctime for job in jobs[:2])
    assert jobs[1].ctime < jobs[0].mtime  # the first two side by side
    assert results['exclusions']['num_excluded'] == 0
    # what a re-run submit step after a crash finds already submitted: each job by its exact call-link label
    from aiida_gaprss.workflows.window import called_children

    callers = [job.caller for job in jobs]
    labels = sorted(link.link_label for link in node.base.links.get_outgoing().all() if link.node in callers)
    found = called_children(node, [*labels, 'b9999'])
    assert sorted(found) == labels and {child.pk for child in found.values()} == {caller.pk for caller in callers}
    assert called_children(node, [labels[0][:-1] + '_']) == {}  # `_` is not a wildcard here


def test_failure_recorded_and_fraction(fixture_code):
    copper = [bulk('Cu', 'fcc', a=3.6 + 0.02 * k) * (2, 1, 1) for k in range(3)]
    atoms_list = [copper[0], bulk('Si', 'diamond', a=5.43), copper[1], copper[2]]
    builder = builder_for(fixture_code('python'), atoms_list, EMT_SPEC, max_failure_fraction=orm.Float(0.3))
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    exclusions = results['exclusions'].get_dict()
    assert exclusions['num_excluded'] == 1
    record = exclusions['excluded'][0]
    assert record['index'] == 1
    assert 'Si' in record['message']
    assert orm.load_node(record['pk']).process_class is AseBatchBaseWorkChain
    assert orm.load_node(record['calculation_pk']).process_class is AseBatch
    labelled = results['structures'].get_atoms()
    assert len(labelled) == 3
    for atoms, got in zip([atoms_list[0], *atoms_list[2:]], labelled, strict=True):
        atoms.calc = EMT()
        assert got.info['energy'] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)

    builder = builder_for(fixture_code('python'), atoms_list, EMT_SPEC, max_failure_fraction=orm.Float(0.2))
    results, node = run_get_node(builder)
    assert node.exit_status == ReferenceWorkChain.exit_codes.ERROR_TOO_MANY_FAILURES.status
    assert len(results['structures']) == 3  # what could be labelled is still there
    assert '1 of 4' in node.exit_message


def test_window_of_one_structure_jobs_keeps_every_structure(fixture_code):
    """One job per structure, two at a time: every structure is labelled or recorded as excluded, none lost."""
    copper = [bulk('Cu', 'fcc', a=3.6 + 0.02 * k) for k in range(4)]
    atoms_list = [copper[0], bulk('Si', 'diamond', a=5.43), *copper[1:]]
    builder = builder_for(fixture_code('python'), atoms_list, EMT_SPEC, max_failure_fraction=orm.Float(0.3))
    builder.ase.batch_size = orm.Int(1)
    builder.max_concurrent = orm.Int(2)
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    jobs = [child for child in node.called if child.process_class is AseBatchBaseWorkChain]
    assert len(jobs) == 5 and len(_ase_jobs(node)) == 5
    intervals = sorted([(job.ctime, 1) for job in jobs] + [(job.mtime, -1) for job in jobs])
    assert max(sum(step for _, step in intervals[: k + 1]) for k in range(len(intervals))) <= 2
    exclusions = results['exclusions'].get_dict()
    assert [record['index'] for record in exclusions['excluded']] == [1]
    assert orm.load_node(exclusions['excluded'][0]['pk']) in jobs
    labelled = results['structures'].get_atoms()
    assert [round(atoms.cell[0, 1] * 2, 6) for atoms in labelled] == [round(a.cell[0, 1] * 2, 6) for a in copper]


def test_all_failed(fixture_code):
    builder = builder_for(fixture_code('python'), [bulk('Si', 'diamond', a=5.43)], EMT_SPEC)
    results, node = run_get_node(builder)
    assert node.exit_status == ReferenceWorkChain.exit_codes.ERROR_ALL_FAILED.status
    assert 'structures' not in results
    assert results['exclusions']['num_excluded'] == 1


def test_isolated_atoms_computed_once_and_reused(fixture_code):
    atoms_list = [bulk('Cu', 'fcc', a=3.6), bulk('Cu', 'fcc', a=3.7)]
    builder = builder_for(fixture_code('python'), atoms_list, EMT_SPEC, isolated_atoms=orm.Bool(True))
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    energy = results['isolated_atom_energies']['Cu']
    atom = Atoms('Cu', positions=[[6, 6, 6]], cell=[12] * 3, pbc=True)
    atom.calc = EMT()
    assert energy['energy'] == pytest.approx(atom.get_potential_energy(), abs=1e-10)
    builder = builder_for(fixture_code('python'), atoms_list[:1], EMT_SPEC, isolated_atoms=orm.Bool(True))
    results, second = run_get_node(builder)
    assert second.is_finished_ok
    assert results['isolated_atom_energies']['Cu'].pk == energy.pk
    assert len(_ase_jobs(second)) == 1


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ('overlap', 'structure 1: field `positions`: atoms 0 and 1 overlap'),
        ('engine', 'field `engine`'),
        ('no_qe', 'field `qe.code`'),
        ('concurrency', 'field `max_concurrent`'),
        ('fraction', 'field `max_failure_fraction`'),
        ('batch', 'field `ase.batch_size`'),
    ],
)
def test_bad_inputs_refused_before_submission(fixture_code, change, message):
    cells = si_cells(2)
    if change == 'overlap':
        cells[1] = Atoms('Si2', positions=[[0, 0, 0], [0.3, 0, 0]], cell=[6, 6, 6], pbc=True)
    builder = builder_for(fixture_code('python'), cells, {'type': 'sw_si'})
    if change == 'engine':
        builder.engine = orm.Str('gaussian')
    elif change == 'no_qe':
        builder.engine = orm.Str('qe')
    elif change == 'concurrency':
        builder.max_concurrent = orm.Int(0)
    elif change == 'fraction':
        builder.max_failure_fraction = orm.Float(1.5)
    elif change == 'batch':
        builder.ase.batch_size = orm.Int(0)
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError, match=message):
        run_get_node(builder)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before
