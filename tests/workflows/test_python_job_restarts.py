"""PythonJobBaseWorkChain: a Python job killed from outside runs again; one that fails by itself stops with 421.

The kill is real (``JobKiller`` of ``test_restarts``: SIGTERM to the job's own process under the test computer's work
directory); the jobs, the job Python and the calculators are real.
"""

from __future__ import annotations

import signal
import types

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node
from ase.build import bulk

from aiida_gaprss.calculations.ase_batch import AseBatch
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.python_job import stop_cause
from aiida_gaprss.workflows.python_job import AseBatchBaseWorkChain, PythonJobBaseWorkChain
from aiida_gaprss.workflows.relax import RelaxBatchBaseWorkChain
from tests.workflows.test_restarts import JobKiller

EMT_SPEC = {'type': 'import', 'path': 'ase.calculators.emt:EMT'}


def ase_inputs(fixture_code, calculator: dict, atoms_list, max_iterations: int = 3) -> dict:
    job = {
        'code': fixture_code('python'),
        'structures': StructureSet.from_atoms(atoms_list),
        'calculator': orm.Dict(calculator),
        'metadata': {'options': {'max_wallclock_seconds': 600}},
    }
    return AseBatchBaseWorkChain.inputs_from_job(job, max_iterations=orm.Int(max_iterations))


def si_cells(n: int = 3):
    return [bulk('Si', 'diamond', a=5.40 + 0.02 * k) for k in range(n)]


def test_job_not_stopped_passes_its_outputs_through(fixture_code):
    """A successful job: one CalcJob, its output nodes are the work chain's (as with the bare job)."""
    _, node = run_get_node(AseBatchBaseWorkChain, **ase_inputs(fixture_code, {'type': 'sw_si'}, si_cells()))
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    (job,) = node.called
    assert job.process_class is AseBatch and job.is_finished_ok
    assert node.outputs.structures.uuid == job.outputs.structures.uuid
    assert node.outputs.report.uuid == job.outputs.report.uuid
    assert 'retrieved' not in node.outputs  # one job's folder: not the work chain's


def test_job_killed_once_is_run_again(fixture_code, aiida_localhost):
    """SIGTERM to the first job: it ends as stopped (300 or 304), a second identical job finishes the work."""
    inputs = ase_inputs(fixture_code, {'type': 'sw_si'}, si_cells())
    with JobKiller(aiida_localhost.get_workdir(), 'aiida_gaprss.jobs.ase_batch', signal.SIGTERM, 1) as killer:
        _, node = run_get_node(AseBatchBaseWorkChain, **inputs)
    assert len(killer.killed) == 1
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    first, second = sorted(node.called, key=lambda child: child.ctime)
    assert first.exit_status in (300, 304) and second.is_finished_ok
    assert second.inputs.structures.uuid == first.inputs.structures.uuid  # the same job again
    assert second.get_option('max_wallclock_seconds') == 600  # stopped by a signal, not the walltime: same time
    assert node.outputs.structures.uuid == second.outputs.structures.uuid
    assert len(node.outputs.structures) == 3


def test_job_killed_every_time_stops_with_420(fixture_code, aiida_localhost):
    inputs = ase_inputs(fixture_code, {'type': 'sw_si'}, si_cells(), max_iterations=2)
    with JobKiller(aiida_localhost.get_workdir(), 'aiida_gaprss.jobs.ase_batch', signal.SIGTERM, 2) as killer:
        _, node = run_get_node(AseBatchBaseWorkChain, **inputs)
    assert len(killer.killed) == 2
    assert node.exit_status == AseBatchBaseWorkChain.exit_codes.ERROR_STOPPED_TOO_OFTEN.status
    assert 'AseBatch job was stopped 2 time(s)' in node.exit_message
    assert [job.exit_status in (300, 304) for job in node.called] == [True, True]


def test_job_failing_by_itself_is_not_run_again(fixture_code):
    """EMT knows no Si: every structure fails (AseBatch 320), which another job would repeat: 421, one job, the
    job's report attached and its message in the work chain's."""
    _, node = run_get_node(AseBatchBaseWorkChain, **ase_inputs(fixture_code, EMT_SPEC, si_cells(2)))
    assert node.exit_status == AseBatchBaseWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    (job,) = node.called
    assert job.exit_status == AseBatch.exit_codes.ERROR_ALL_STRUCTURES_FAILED.status
    assert node.exit_message.startswith('The AseBatch job failed in a way a restart does not fix [320]: ')
    assert job.exit_message in node.exit_message
    assert node.outputs.report.uuid == job.outputs.report.uuid


@pytest.mark.parametrize(
    ('status', 'message', 'cause'),
    [
        (120, 'The job ran out of walltime.', 'walltime'),
        (110, 'The job ran out of memory.', 'memory'),
        (
            304,
            'The job was stopped before it finished: scheduler exit code 120: The job ran out of walltime.',
            'walltime',
        ),
        (304, 'The job was stopped before it finished: JOB 12 ON n1 CANCELLED AT 2024 DUE TO TIME LIMIT', 'walltime'),
        (300, 'The job wrote no status file: killed or crashed (slurmstepd: oom-kill event)', 'memory'),
        (304, 'The job was stopped before it finished: terminated by SIGTERM', None),
        (140, 'The node running the job failed.', None),
    ],
)
def test_stop_cause(status, message, cause):
    assert stop_cause(types.SimpleNamespace(exit_status=status, exit_message=message)) == cause


def test_every_python_job_restart_work_chain_shares_the_handlers():
    """The thin subclasses differ only by their job: same exit codes 420/421, the job's inputs and outputs exposed."""
    from aiida_gaprss.workflows import python_job

    classes = [getattr(python_job, name) for name in python_job.__all__ if name != 'PythonJobBaseWorkChain']
    classes.append(RelaxBatchBaseWorkChain)
    for cls in classes:
        assert issubclass(cls, PythonJobBaseWorkChain)
        spec = cls.spec()
        assert spec.exit_codes.ERROR_STOPPED_TOO_OFTEN.status == 420
        assert spec.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status == 421
        job = cls._process_class.spec()
        assert set(spec.inputs[cls._inputs_namespace]) == set(job.inputs)
        assert set(spec.outputs) == set(job.outputs) - {'remote_folder', 'remote_stash', 'retrieved'}


# -- every job kind the workflows submit: its job killed once (SIGTERM), run again with the same inputs ------------
#: 16 atoms, 20 steps of 2 fs of compression (10 thermalisation + 10 ramp), a snapshot every 5 steps.
TINY_TEACHER_MD = {
    'natoms': 16, 'timestep_fs': 2.0, 'update_every': 5, 'snapshot_every': 5,
    'compression': {'thermalise_ps': 0.02, 'ramp_ps': 0.02},
}  # fmt: skip
VALIDATION_PARAMETERS = {
    'element': 'Si',
    'phases': ['diamond'],
    'relax': {'fmax': 0.05, 'steps': 30, 'smax': 0.05},
    'eos': {'volume_factors': [0.94, 0.97, 1.0, 1.03, 1.06], 'fmax': 0.05, 'steps': 10, 'phases': ['diamond']},
}


def _labelled_si(n: int, seed: int = 0) -> StructureSet:
    from tests.conftest import labelled_si_cells

    return StructureSet.from_atoms(labelled_si_cells(n, seed=seed))


def _job_inputs(kind: str, small_gap) -> dict:
    """Small, real inputs of the job ``kind``."""
    if kind == 'teacher_md':
        parameters = {'seed': 5, 'protocol': 'fast', 'overrides': TINY_TEACHER_MD, 'runs': ['compression']}
        return {'teacher': small_gap, 'parameters': orm.Dict(parameters)}
    if kind == 'student_fit':
        return {
            'training_set': _labelled_si(6),
            'test_sets': {'test': _labelled_si(2, seed=50)},
            'speed_structure': StructureSet.from_atoms([bulk('Si', 'diamond', a=5.43, cubic=True)]),
            'parameters': orm.Dict({'levels': [2], 'seed': 1, 'max_iter': 5}),
        }
    if kind == 'generate_pool':
        parameters = {'element': 'Si', 'n': 6, 'seed': 3, 'mode': 'initial', 'dimers': 1, 'iteration': 0,
                      'natoms': [4, 8]}  # fmt: skip
        return {'parameters': orm.Dict(parameters)}
    if kind == 'select_structures':
        from aiida_gaprss.rss.generation import generate_random_cells

        pool = StructureSet.from_atoms(generate_random_cells(10, 'Si', seed=3, natoms=(4, 8), processes=1))
        parameters = {'method': 'random', 'n': 4, 'seed': 2}
        return {'structures': pool, 'parameters': orm.Dict(parameters)}
    if kind == 'validate_potential':
        return {'parameters': orm.Dict(VALIDATION_PARAMETERS), 'calculator': orm.Dict({'type': 'sw_si'})}
    if kind == 'structure_map':
        from aiida_gaprss.rss.generation import generate_random_cells

        return {
            'structures': StructureSet.from_atoms(generate_random_cells(8, 'Si', seed=3, natoms=(2, 6), processes=1))
        }
    raise ValueError(kind)


@pytest.mark.parametrize(
    ('kind', 'workchain_name', 'task'),
    [
        ('teacher_md', 'TeacherMdBaseWorkChain', 'teacher_md'),
        ('student_fit', 'StudentFitBaseWorkChain', 'student_fit'),
        ('generate_pool', 'GeneratePoolBaseWorkChain', 'generate_pool'),
        ('select_structures', 'SelectStructuresBaseWorkChain', 'select_structures'),
        ('validate_potential', 'ValidatePotentialBaseWorkChain', 'validate_potential'),
        ('structure_map', 'StructureMapBaseWorkChain', 'validate_potential'),
    ],
)
def test_each_job_kind_killed_once_is_run_again(kind, workchain_name, task, fixture_code, aiida_localhost, small_gap):
    """The job of each kind the workflows submit is stopped once by SIGTERM (300 or 304); its restart work chain runs
    it again with the same inputs and passes on the second job's outputs. (The ASE batch: above; the relaxation batch:
    test_restarts; the student validation's job takes minutes and is not repeated here.)"""
    from aiida_gaprss.workflows import python_job

    workchain = getattr(python_job, workchain_name)
    job = {'code': fixture_code('python'), **_job_inputs(kind, small_gap)}
    with JobKiller(aiida_localhost.get_workdir(), f'aiida_gaprss.jobs.{task}', signal.SIGTERM, 1) as killer:
        _, node = run_get_node(workchain, **workchain.inputs_from_job(job))
    assert len(killer.killed) == 1
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    first, second = sorted(node.called, key=lambda child: child.ctime)
    assert first.process_class is workchain._process_class is second.process_class
    assert first.exit_status in (300, 304) and second.is_finished_ok
    for label in ('parameters', 'structures', 'training_set', 'teacher', 'calculator'):
        if label in first.inputs:
            assert second.inputs[label].uuid == first.inputs[label].uuid  # the same job again
    outputs = {
        link.link_label: link.node.uuid for link in node.base.links.get_outgoing(link_type=LinkType.RETURN).all()
    }
    expected = {
        link.link_label: link.node.uuid for link in second.base.links.get_outgoing(link_type=LinkType.CREATE).all()
    }
    expected = {label: uuid for label, uuid in expected.items() if label not in ('remote_folder', 'retrieved')}
    assert outputs and outputs == expected
