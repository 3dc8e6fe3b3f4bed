"""Restart handlers for jobs killed from outside (issue 9, item 5), on the localhost ``core.direct`` computer.

The scheduler is simulated by killing the job's own process: a thread of the test watches ``/proc`` for the job's
program (``aiida_gaprss.jobs.relax_batch`` or ``gap_fit``) running in a folder under the test computer's work
directory -- never any other process of the machine -- and sends it SIGTERM (what SLURM sends on ``scancel`` and at
the walltime) or SIGKILL (the OOM killer). Everything else is real: the CalcJobs, the job Python, a real GAP, gap_fit.
"""

from __future__ import annotations

import os
import pathlib
import signal
import threading
import time

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.structure_job import complete_trajectories
from aiida_gaprss.rss.generation import generate_random_cells
from aiida_gaprss.rss.pressure import sample_pressures
from aiida_gaprss.workflows.fit import GapFitBaseWorkChain
from aiida_gaprss.workflows.relax import RelaxBatchBaseWorkChain

TINY_GAP = pathlib.Path(__file__).parents[1] / 'reliability' / 'fixtures' / 'tiny_gap'


class JobKiller(threading.Thread):
    """Send ``signum`` to the first ``times`` processes running ``program`` under ``workdir`` once ``ready(cwd)``."""

    def __init__(self, workdir: str, program: str, signum: int, times: int, ready=lambda cwd: True):
        super().__init__(daemon=True)
        self.workdir = os.path.realpath(workdir)
        self.program = program
        self.signum = signum
        self.times = times
        self.ready = ready
        self.killed: list[int] = []
        self.halt = threading.Event()

    def _candidates(self):
        for entry in os.scandir('/proc'):
            if not entry.name.isdigit() or int(entry.name) in self.killed:
                continue
            try:
                cmdline = pathlib.Path(entry.path, 'cmdline').read_bytes().replace(b'\0', b' ').decode()
                cwd = os.readlink(os.path.join(entry.path, 'cwd'))
            except OSError:  # the process ended, or is not ours to read
                continue
            if self.program in cmdline and cwd.startswith(self.workdir + os.sep):
                yield int(entry.name), cwd

    def run(self):
        while not self.halt.is_set() and len(self.killed) < self.times:
            for pid, cwd in self._candidates():
                if self.ready(cwd):
                    os.kill(pid, self.signum)
                    self.killed.append(pid)
                    break
            time.sleep(0.05)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.halt.set()
        self.join(timeout=10)
        return False


def one_trajectory_written(cwd: str) -> bool:
    """Whether the relaxation job in ``cwd`` has written at least one finished trajectory."""
    path = pathlib.Path(cwd, 'output.xyz')
    return path.is_file() and bool(complete_trajectories(path.read_text(encoding='utf-8')))


def relax_inputs(fixture_code, num_cells: int, max_iterations: int) -> dict:
    cells = generate_random_cells(num_cells, 'Si', seed=8, natoms=(4, 6))
    for index, atoms in enumerate(cells):
        atoms.info['origin'] = f'cell{index}'
    parameters = {'seed': 5, 'fmax': 1e-6, 'steps': 25, 'trajectory_offset': 100}  # never converges: fixed cost
    return {
        'relax': {
            'code': fixture_code('python'),
            'structures': StructureSet.from_atoms(cells),
            'potential': GapPotential.from_folder(TINY_GAP),
            'parameters': orm.Dict(parameters),
        },
        'max_iterations': orm.Int(max_iterations),
    }


def test_relaxation_not_killed_passes_the_job_outputs_through(fixture_code):
    """Without a kill the work chain's outputs are the CalcJob's own nodes (provenance as with a bare RelaxBatch)."""
    inputs = relax_inputs(fixture_code, num_cells=2, max_iterations=3)
    inputs['relax']['parameters'] = orm.Dict({'seed': 5, 'fmax': 0.1, 'steps': 5})
    _, node = run_get_node(RelaxBatchBaseWorkChain, **inputs)
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    (job,) = node.called
    assert node.outputs.structures.uuid == job.outputs.structures.uuid
    assert node.outputs.report.uuid == job.outputs.report.uuid
    assert {atoms.info['trajectory_id'] for atoms in node.outputs.structures.iter_atoms()} == {0, 1}


def test_relaxation_killed_once_is_finished_by_a_restart(fixture_code, aiida_localhost):
    """SIGTERM after the first trajectory: the finished frames are kept, only the other cells are relaxed again."""
    inputs = relax_inputs(fixture_code, num_cells=4, max_iterations=3)
    killer = JobKiller(aiida_localhost.get_workdir(), 'aiida_gaprss.jobs.relax_batch', signal.SIGTERM, 1,
                       ready=one_trajectory_written)  # fmt: skip
    with killer:
        _, node = run_get_node(RelaxBatchBaseWorkChain, **inputs)
    assert len(killer.killed) == 1
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    jobs = [child for child in node.called if child.process_label == 'RelaxBatch']
    first, second = sorted(jobs, key=lambda n: n.ctime)
    assert first.exit_status == first.process_class.exit_codes.ERROR_PARTIAL_TRAJECTORIES.status
    assert 'SIGTERM' in first.exit_message
    kept = first.outputs.report['finished_trajectory_ids']
    assert 1 <= len(kept) < 4 and first.outputs.report['partial'] is True
    # the restart relaxed exactly the other cells, with their trajectory ids
    assert sorted(second.inputs.parameters['trajectory_ids']) == sorted(set(range(100, 104)) - set(kept))
    assert len(second.inputs.structures) == 4 - len(kept)
    frames = node.outputs.structures.get_atoms()
    ids = [atoms.info['trajectory_id'] for atoms in frames]
    assert sorted(set(ids)) == list(range(100, 104))
    finals = [atoms for atoms in frames if atoms.info['final']]
    assert sorted(atoms.info['trajectory_id'] for atoms in finals) == list(range(100, 104))  # each once
    # every cell kept the pressure the first job drew for it, and its origin
    pressures = sample_pressures(4, p0=1.0, beta=0.2, seed=5)
    for atoms in frames:
        index = atoms.info['trajectory_id'] - 100
        assert atoms.info['pressure'] == pytest.approx(pressures[index])
        assert atoms.info['origin'].startswith(f'cell{index}:step')
    assert node.outputs.report['num_trajectories'] == 4
    # provenance: the merged frames come from both jobs through the calcfunction
    merge = node.outputs.structures.creator
    assert merge.process_label == 'merge_relaxation_frames'
    parts = merge.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all_nodes()
    assert {part.creator.pk for part in parts} == {first.pk, second.pk}


def test_relaxation_killed_every_time_stops_with_a_clear_exit_code(fixture_code, aiida_localhost):
    """SIGKILL (no status file) after the first trajectory of every job: 420 after max_iterations, frames kept."""
    inputs = relax_inputs(fixture_code, num_cells=4, max_iterations=2)
    killer = JobKiller(aiida_localhost.get_workdir(), 'aiida_gaprss.jobs.relax_batch', signal.SIGKILL, 2,
                       ready=one_trajectory_written)  # fmt: skip
    with killer:
        _, node = run_get_node(RelaxBatchBaseWorkChain, **inputs)
    assert len(killer.killed) == 2
    assert node.exit_status == RelaxBatchBaseWorkChain.exit_codes.ERROR_STOPPED_TOO_OFTEN.status
    assert 'stopped 2 time(s)' in node.exit_message and 'of 4 trajectories finished' in node.exit_message
    jobs = [child for child in node.called if child.process_label == 'RelaxBatch']
    assert len(jobs) == 2
    assert all(job.exit_status == 320 and 'no status file' in job.exit_message for job in jobs)
    finished = {atoms.info['trajectory_id'] for atoms in node.outputs.structures.iter_atoms() if atoms.info['final']}
    assert 2 <= len(finished) < 4  # at least one trajectory of each job, nothing lost


def gap_fit_inputs(fixture_code, max_iterations: int) -> dict:
    from tests.calculations.gap_fit_data import si_cells, small_parameters

    return {
        'gap_fit': {
            'code': fixture_code('gaprss.gap_fit'),
            'training_set': StructureSet.from_atoms(si_cells(6, seed=7)),
            'parameters': orm.Dict(small_parameters()),
        },
        'max_iterations': orm.Int(max_iterations),
    }


def test_gap_fit_killed_once_is_run_again(fixture_code, aiida_localhost):
    inputs = gap_fit_inputs(fixture_code, max_iterations=3)
    with JobKiller(aiida_localhost.get_workdir(), '/gap_fit ', signal.SIGKILL, 1) as killer:
        _, node = run_get_node(GapFitBaseWorkChain, **inputs)
    assert len(killer.killed) == 1
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    jobs = sorted(node.called, key=lambda n: n.ctime)
    assert len(jobs) == 2
    assert jobs[0].exit_status == jobs[0].process_class.exit_codes.ERROR_JOB_KILLED.status
    assert jobs[1].is_finished_ok and 'potential' in node.outputs


def test_gap_fit_killed_every_time_stops_with_a_clear_exit_code(fixture_code, aiida_localhost):
    inputs = gap_fit_inputs(fixture_code, max_iterations=2)
    with JobKiller(aiida_localhost.get_workdir(), '/gap_fit ', signal.SIGKILL, 2) as killer:
        _, node = run_get_node(GapFitBaseWorkChain, **inputs)
    assert len(killer.killed) == 2
    assert node.exit_status == GapFitBaseWorkChain.exit_codes.ERROR_KILLED_TOO_OFTEN.status
    assert 'killed 2 time(s)' in node.exit_message
    assert [job.exit_status for job in node.called] == [340, 340]


@pytest.mark.parametrize(
    'parameters',
    [
        pytest.param({'trajectory_ids': [3, 3]}, id='K01'),
        pytest.param({'trajectory_ids': [-1]}, id='K02'),
        pytest.param({'trajectory_ids': '0 1'}, id='K03'),
    ],
)
def test_relax_batch_refuses_bad_trajectory_ids(parameters, request):
    """K01-K03 of docs/bad_inputs.md: the message the table quotes."""
    from aiida_gaprss.calculations.relax_batch import validate_relax_parameters
    from tests.reliability.bad_input_table import assert_table_message, row_of

    with pytest.raises(ValueError) as excinfo:
        validate_relax_parameters({'seed': 0, **parameters})
    assert_table_message(row_of(request), str(excinfo.value))


def test_relax_batch_refuses_trajectory_ids_not_matching_the_cells(fixture_code):
    """K04: as many ids as cells, checked by the CalcJob's spec before anything runs (no process node is made)."""
    from aiida_gaprss.calculations.relax_batch import RelaxBatch
    from tests.reliability.bad_input_table import assert_table_message

    inputs = relax_inputs(fixture_code, num_cells=3, max_iterations=1)['relax']
    inputs['parameters'] = orm.Dict({'seed': 0, 'trajectory_ids': [0, 1]})
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError) as excinfo:
        run_get_node(RelaxBatch, **inputs)
    assert_table_message('K04', str(excinfo.value))
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before


@pytest.mark.parametrize('value', [0, '3', True])
def test_iteration_refuses_bad_relax_max_iterations(value):
    """K05: ``parameters.relax.max_iterations`` (jobs per relaxation batch) is an integer >= 1; K06: no ids given."""
    from aiida_gaprss.workflows.iteration import validate_iteration_parameters
    from tests.reliability.bad_input_table import assert_table_message

    with pytest.raises(ValueError) as excinfo:
        validate_iteration_parameters({'relax': {'max_iterations': value}})
    assert f'got {value!r}' in str(excinfo.value), str(excinfo.value)
    if value == 0:  # the value the table quotes
        assert_table_message('K05', str(excinfo.value))
    validate_iteration_parameters({'relax': {'max_iterations': 2}})  # a good value passes
    with pytest.raises(ValueError) as excinfo:
        validate_iteration_parameters({'relax': {'trajectory_ids': [0]}})
    assert_table_message('K06', str(excinfo.value))
