"""Crash recovery through the daemon (issue 9, item 4).

1. The daemon's workers are SIGKILLed in the middle of the reference step of iteration 0 (one AseBatch finished,
   others pending), the daemon is stopped (leftover processes killed by pid) and started again: the run finishes
   ``[0]`` with the same selection, labels and potential as an uninterrupted run of the same seeded inputs, and no
   structure is labelled twice (one AseBatch per batch, each structure of the selection in exactly one of them).
2. A run killed outright (``kill_processes``) after its first iteration is continued with ``gaprss continue PK``:
   the continued run starts at iteration 1 from the killed run's database and potential and labels only its new
   selection.

Both take several minutes on a loaded 2-core machine: ``slow``.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter

import numpy as np
import psutil
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node, submit

from tests.reliability.helpers import ase_batches, energies_of, invoke, labelled_content, tiny_builder

LOGGER = logging.getLogger(__name__)

#: 10 CUR picks + 3 dimers = one iteration; batches of 3 structures, one job at a time (protocol fast): 5 AseBatch jobs.
CRASH_OVERRIDES = {'budget': 13, 'reference': {'ase': {'batch_size': 3}}}
NUM_SELECTED = 13
BATCH_SIZE = 3


@pytest.fixture
def codes(fixture_code):
    return {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}


@pytest.fixture
def daemon(daemon_client):
    """The test profile's daemon, running; stopped at the end with a generous timeout (a loaded machine is slow)."""
    from aiida.engine.daemon.client import DaemonException

    ensure_daemon(daemon_client)
    yield daemon_client
    try:
        daemon_client.stop_daemon(wait=True, timeout=120)
    except DaemonException as exception:
        LOGGER.warning('stopping the daemon: %s', exception)


def wait_for(condition, timeout: float, what: str, interval: float = 1.0) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f'timed out after {timeout:.0f} s waiting for {what}')
        time.sleep(interval)


def ensure_daemon(client) -> None:
    if not client.is_daemon_running:
        client.start_daemon()
    wait_for(lambda: client.is_daemon_running, 60, 'the daemon to start')


def _is_job(process: psutil.Process) -> bool:
    """A job the daemon launched (it must survive the crash, as on a cluster)."""
    try:
        command = ' '.join(process.cmdline())
    except psutil.Error:
        return False
    return 'aiida_gaprss.jobs' in command or '_aiidasubmit.sh' in command or 'gap_fit' in command


def crash_daemon(client) -> dict:
    """SIGKILL the whole daemon at once — the circus arbiter first, then its workers — as a crash of the machine would.

    Returns the pids killed. Only processes of the daemon this test started are touched (found from its circus pid),
    and never the jobs it launched. The arbiter dies first so that nothing respawns a killed worker: a worker that
    circus respawns in the middle of a crash subscribes to the test session's ZeroMQ broker (which outlives the
    daemon here) and is killed again; aiida-core's ZeroMQ broker then kept routing the run's tasks to that dead
    subscriber (``processing_tasks`` 5, nothing ran; seen once in CI), which is a limit of the broker, not of the
    workflows under test.
    """
    circus = psutil.Process(client.get_daemon_pid())
    workers = sorted(int(pid) for pid in client.get_worker_info()['info'])
    family = [p for p in circus.children(recursive=True) if not _is_job(p)]  # the workers among them
    circus.kill()
    psutil.wait_procs([circus], timeout=10)
    alive = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for process in alive:
        process.kill()
    psutil.wait_procs(alive, timeout=10)
    client._clean_potentially_stale_pid_file()  # what `verdi daemon start` does after a crash
    wait_for(lambda: not client.is_daemon_running, 30, 'the daemon to stop')
    return {'workers': workers, 'leftovers': [p.pid for p in alive if p.pid not in workers]}


def _reference_call(batch) -> tuple[int, str]:
    """(pk of the ReferenceWorkChain, call-link label) of the child it submitted for ``batch``: the
    ``AseBatchBaseWorkChain`` that ran the job."""
    (link,) = batch.caller.base.links.get_incoming(link_type=LinkType.CALL_WORK).all()
    return link.node.pk, link.link_label


def _batches_by_reference(run) -> dict[int, list[orm.CalcJobNode]]:
    groups: dict[int, list] = {}
    for batch in ase_batches(run):
        groups.setdefault(_reference_call(batch)[0], []).append(batch)
    return groups


def _labelled_positions(run) -> Counter:
    """(reference workchain, position in its input set) of every structure any AseBatch was given to label."""
    counts = Counter()
    for reference_pk, batches in _batches_by_reference(run).items():
        for batch in batches:
            for atoms in batch.inputs.structures.iter_atoms():
                counts[(reference_pk, int(atoms.info['reference_index']))] += 1
    return counts


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
@pytest.mark.timeout(3600)
def test_daemon_crash_mid_reference_finishes_like_an_uninterrupted_run(codes, daemon):
    daemon_client = daemon
    timings = {}
    start = time.monotonic()
    ensure_daemon(daemon_client)
    node = submit(tiny_builder(codes, **CRASH_OVERRIDES))

    def first_batch_done():
        if node.is_terminated:
            return True
        return any(batch.is_finished_ok for batch in ase_batches(node))

    wait_for(first_batch_done, 1500, 'the first AseBatch of iteration 0')
    assert not node.is_terminated, 'the run finished before the crash could happen'
    finished_before = sum(batch.is_finished_ok for batch in ase_batches(node))
    killed = crash_daemon(daemon_client)
    timings['crash_after_s'] = round(time.monotonic() - start)
    timings['batches_finished_at_crash'] = finished_before
    print(f'\ncrash after {finished_before} finished AseBatch job(s); killed {killed}')
    assert killed['workers']
    assert not node.is_terminated
    time.sleep(2)
    assert not node.is_terminated, 'something went on running the process while the daemon was down'

    ensure_daemon(daemon_client)
    wait_for(lambda: node.is_terminated, 1800, 'the run to finish after the restart', interval=2)
    timings['interrupted_run_s'] = round(time.monotonic() - start)
    assert node.is_finished_ok, f'[{node.exit_status}] {node.exit_message}'

    # no structure labelled twice, nothing lost, no batch repeated
    positions = _labelled_positions(node)
    assert max(positions.values()) == 1, [key for key, count in positions.items() if count > 1]
    assert len(positions) == NUM_SELECTED
    batches = ase_batches(node)
    assert len(batches) == math.ceil(NUM_SELECTED / BATCH_SIZE)
    assert all(batch.is_finished_ok for batch in batches)
    links = Counter(_reference_call(batch) for batch in batches)
    assert max(links.values()) == 1, links  # each batch tag (b0000, ...) called once by its reference workchain
    assert len(node.outputs.database) == NUM_SELECTED

    # the same result as an uninterrupted run of the same seeded inputs
    start = time.monotonic()
    _, reference = run_get_node(tiny_builder(codes, **CRASH_OVERRIDES))
    timings['uninterrupted_run_s'] = round(time.monotonic() - start)
    LOGGER.info('timings: %s', timings)
    assert reference.is_finished_ok, reference.exit_message
    first = _only_iteration(node)
    other = _only_iteration(reference)
    assert first.outputs.pool.sha256 == other.outputs.pool.sha256
    assert first.outputs.selected.sha256 == other.outputs.selected.sha256
    assert labelled_content(node.outputs.database) == labelled_content(reference.outputs.database)
    # (the database files themselves differ: each structure names the pk/uuid of the calculation that labelled it)
    ours, theirs = energies_of(node.outputs.potential), energies_of(reference.outputs.potential)
    assert ours['energy'] == pytest.approx(theirs['energy'], abs=1e-8)
    np.testing.assert_allclose(ours['forces'], theirs['forces'], rtol=0, atol=1e-8)
    curve, other_curve = node.outputs.learning_curve['iterations'], reference.outputs.learning_curve['iterations']
    assert [row['reference_evaluations'] for row in curve] == [row['reference_evaluations'] for row in other_curve]
    print(f'\ncrash-recovery timings (s): {timings}; energy difference {ours["energy"] - theirs["energy"]:.3e} eV')


def _only_iteration(run):
    iterations = [link.node for link in run.base.links.get_outgoing().all() if link.link_label.startswith('iteration_')]
    assert len(iterations) == 1
    return iterations[0]


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
@pytest.mark.timeout(3600)
def test_killed_run_is_continued_from_what_finished(codes, daemon):
    from aiida.engine.processes.control import kill_processes

    start = time.monotonic()
    node = submit(tiny_builder(codes, budget=21))  # iteration 0: 13 labels, iteration 1: 8 more

    def iteration(run, label):
        for link in run.base.links.get_outgoing().all():
            if link.link_label == label:
                return link.node
        return None

    def first_iteration_done():
        child = iteration(node, 'iteration_00')
        return node.is_terminated or (child is not None and child.is_finished_ok)

    wait_for(first_iteration_done, 1500, 'iteration_00 to finish')
    assert not node.is_terminated, 'the run finished before it could be killed'
    for _ in range(5):  # on a loaded machine the kill RPC can time out (broker.task_timeout, 10 s): ask again
        kill_processes([node], timeout=60)
        deadline = time.monotonic() + 120
        while not node.is_terminated and time.monotonic() < deadline:
            time.sleep(2)
        if node.is_terminated:
            break
    assert node.is_killed
    killed_at = time.monotonic() - start
    first = iteration(node, 'iteration_00')
    old_database = first.outputs.database
    old_positions = _labelled_positions(node)

    # what `gaprss continue PK` does, without ProcessNode.get_builder_restart (broken for this workchain: see
    # test_cli_continue_builds_the_restart_builder): the same inputs, plus the restart inputs of the killed run
    from aiida_gaprss.workflows.rss import restart_inputs

    builder = tiny_builder(codes, budget=21)
    builder.restart = restart_inputs(node)
    assert builder.restart['iteration'].value == 1
    continued = submit(builder)
    wait_for(lambda: continued.is_terminated, 1800, 'the continued run', interval=2)
    print(f'\nkilled after {killed_at:.0f} s; continued run finished after {time.monotonic() - start:.0f} s')
    assert continued.is_finished_ok, f'[{continued.exit_status}] {continued.exit_message}'
    assert continued.inputs.restart.database.uuid == old_database.uuid
    assert continued.inputs.restart.potential.uuid == first.outputs.potential.uuid
    assert continued.inputs.restart.iteration.value == 1
    labels = sorted(link.link_label for link in continued.base.links.get_outgoing().all()
                    if link.link_label.startswith('iteration_'))  # fmt: skip
    assert labels == ['iteration_01']
    # the continued run labelled only its own selection: no reference calculation of iteration 0 was repeated
    child = iteration(continued, 'iteration_01')
    new_positions = _labelled_positions(continued)
    assert sum(new_positions.values()) == len(child.outputs.selected) == 8
    assert not set(new_positions) & set(old_positions)
    old = labelled_content(old_database)
    new = labelled_content(continued.outputs.database)
    assert new[: len(old)] == old and len(new) == len(old) + len(child.outputs.labelled)
    origins_old = {atoms.info.get('origin') for atoms in old_database.iter_atoms()}
    origins_new = {atoms.info.get('origin') for atoms in child.outputs.labelled.iter_atoms()}
    assert not origins_old & origins_new
    status = invoke('status', str(continued.pk))
    assert 'reference evaluations: 21 of 21' in status


CONTINUE_REASON = (
    '`gaprss continue PK` calls ProcessNode.get_builder_restart(), which fails for every GapRssWorkChain with '
    "`ValueError: invalid attribute value required value was not provided for 'resources'` (a traceback), most likely "
    'because the builder validates an exposed namespace (e.g. `reference.ase`, populate_defaults=False) without its '
    'metadata defaults; '
    'fix in cli/run.py cmd_continue: submit(GapRssWorkChain, **inputs) with inputs = the incoming links .nested() '
    'merged with node.get_metadata_inputs() and restart_inputs(node) (spec validation with pre_process accepts them)'
)


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
def test_cli_continue_builds_the_restart_builder(codes, daemon):
    """`gaprss continue` of a run (here one that continued a 2-structure database by one selected structure)."""
    from aiida.engine.processes.control import kill_processes
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root
    from aiida_gaprss.data.gap_potential import GapPotential
    from aiida_gaprss.data.structure_set import StructureSet
    from tests.reliability.test_bad_inputs import TINY_GAP, labelled, si_cell

    builder = tiny_builder(codes, budget=3)
    builder.restart.database = StructureSet.from_atoms([labelled(si_cell(iteration=0)) for _ in range(2)])
    builder.restart.potential = GapPotential.from_folder(TINY_GAP)
    _, node = run_get_node(builder)
    assert node.is_terminated
    result = CliRunner().invoke(cmd_root, ['continue', str(node.pk), '--budget', '4', '-p', daemon.profile.name])
    submitted = [n for n in orm.QueryBuilder().append(orm.WorkChainNode, filters={'id': {'>': node.pk}}).all(flat=True)
                 if n.process_label == 'GapRssWorkChain']  # fmt: skip
    if submitted:
        kill_processes(submitted, timeout=60)  # only the command is under test, not a new run
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    assert 'Submitted GapRssWorkChain<' in result.output and 'from iteration 2' in result.output
