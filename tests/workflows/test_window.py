"""ChildWindowMixin: at most N children at once, the next submitted as soon as any one ends (not in waves).

The slow child of these tests is held by a gate (it waits for a file, at most ``GATE_SECONDS``), opened when the
window has read the child named ``release_after``: in waves the next child would be submitted only after the slow one
had waited out the whole gate, so the order of the nodes' times pins the rolling behaviour whatever the load of the
machine.
"""

from __future__ import annotations

import datetime
import logging
import pathlib
import time

import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain, run_get_node, submit, while_
from aiida.plugins import CalculationFactory

from aiida_gaprss.workflows.window import ChildWindowMixin, WaitForAny

ArithmeticAdd = CalculationFactory('core.arithmetic.add')
LOGGER = logging.getLogger(__name__)

#: Longest wait of a gated child (s).
GATE_SECONDS = 240


class SleepWindow(ChildWindowMixin, WorkChain):
    """Children ``core.arithmetic.add`` that sleep ``sleeps[i]`` seconds first (a negative one fails; ``'gate'``
    waits for the file ``gate``), ``size`` at a time; the file ``gate`` is written once ``release_after`` is read."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('code', valid_type=orm.AbstractCode)
        spec.input('sleeps', valid_type=orm.List)
        spec.input('size', valid_type=orm.Int)
        spec.input('gate', valid_type=orm.Str, required=False)
        spec.input('release_after', valid_type=orm.Str, required=False)
        spec.input('side', valid_type=orm.Str, required=False, help="A child beside the window ('gate' or seconds).")
        spec.outline(
            cls.setup,
            while_(cls.window_has_work)(cls.window_submit, cls.window_collect),
            cls.results,
        )
        spec.output('order', valid_type=orm.List)
        spec.output('sums', valid_type=orm.Dict)
        spec.output('failed', valid_type=orm.Dict)

    def setup(self):
        self.ctx.order = []
        self.ctx.sums = {}
        self.ctx.failed = {}
        self.window_open(f'job_{k}' for k in range(len(self.inputs.sleeps)))
        if 'side' in self.inputs:  # started here with the window's first children, awaited once the window is empty
            side = self.inputs.side.value
            self.window_submit()
            self.window_defer(side=self._launch('side', 'gate' if side == 'gate' else int(side), 99))

    def window_size(self) -> int:
        return self.inputs.size.value

    def window_launch(self, tag):
        k = int(tag.split('_')[1])
        return self._launch(tag, self.inputs.sleeps[k], k)

    def _launch(self, tag, sleep, k):
        if sleep == 'gate':
            gate = self.inputs.gate.value
            prepend = f'for i in $(seq {5 * GATE_SECONDS}); do [ -e {gate} ] && break; sleep 0.2; done'
        elif sleep >= 0:
            prepend = f'sleep {sleep}'
        else:
            prepend = 'exit 7'  # no output file: the parser fails the job
        options = {'prepend_text': prepend, 'resources': {'num_machines': 1}}
        return self.submit(
            ArithmeticAdd,
            code=self.inputs.code,
            x=orm.Int(k),
            y=orm.Int(100),
            metadata={'call_link_label': tag, 'options': options},
        )

    def window_finished(self, tag, node):
        self.ctx.order.append(tag)
        if node.is_finished_ok:
            self.ctx.sums[tag] = node.outputs.sum.value
        else:
            self.ctx.failed[tag] = node.exit_status
        if 'release_after' in self.inputs and tag == self.inputs.release_after.value:
            pathlib.Path(self.inputs.gate.value).touch()

    def results(self):
        if 'side' in self.inputs:
            assert isinstance(self.ctx.side, orm.ProcessNode) and self.ctx.side.is_terminated
        self.out('order', orm.List(self.ctx.order).store())
        self.out('sums', orm.Dict(self.ctx.sums).store())
        self.out('failed', orm.Dict(self.ctx.failed).store())


def _max_overlap(intervals) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def _jobs(node) -> dict:
    links = node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
    labels = [link.link_label for link in links]
    assert len(labels) == len(set(labels)), f'a child submitted twice: {sorted(labels)}'
    return {link.link_label: link.node for link in links}


def _check(node, results, num_jobs: int, size: int) -> dict:
    """Each child submitted once, read once; never more than ``size`` alive at once (creation to termination)."""
    assert node.is_finished_ok, node.exit_message
    jobs = _jobs(node)
    assert sorted(jobs) == sorted(f'job_{k}' for k in range(num_jobs))
    assert sorted(results['order'].get_list()) == sorted(jobs)
    assert _max_overlap([(job.ctime, job.mtime) for job in jobs.values()]) <= size
    return jobs


def _waits(node) -> list:
    links = node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all()
    return [link.node for link in links if link.node.process_class is WaitForAny]


def test_rolling_window_refills_before_the_slow_child_ends(aiida_code_installed, tmp_path):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    gate = tmp_path / 'gate'
    inputs = {'sleeps': orm.List(['gate', 0, 0, 0]), 'size': orm.Int(2), 'gate': orm.Str(str(gate))}
    results, node = run_get_node(SleepWindow, code=code, release_after=orm.Str('job_2'), **inputs)
    jobs = _check(node, results, 4, 2)
    assert all(job.is_finished_ok for job in jobs.values())
    assert results['sums'].get_dict() == {f'job_{k}': k + 100 for k in range(4)}
    # rolling, not waves: the short children follow each other in the second slot while the slow one still runs
    # (it waits for job_2 to have been read); in waves of two job_2 would start only after job_0 had ended
    slow = jobs['job_0']
    assert jobs['job_2'].ctime < slow.mtime and jobs['job_3'].ctime < slow.mtime
    assert jobs['job_2'].mtime < slow.mtime
    assert results['order'].get_list()[:2] == ['job_1', 'job_2']
    # the window woke up on one of two children twice (job_1, job_2 ended); then nothing was left to submit
    waits = _waits(node)
    assert len(waits) == 2 and all(wait.is_finished_ok for wait in waits)


def test_child_deferred_beside_the_window_does_not_hold_its_refills(aiida_code_installed, tmp_path):
    """A child started in the step that fills the window, deferred with ``window_defer``: the window rolls on while it
    runs (it waits for job_2 to have been read), and the step after the window finds it terminated in the context."""
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    gate = tmp_path / 'gate'
    inputs = {'sleeps': orm.List([0, 0, 0, 0]), 'size': orm.Int(2), 'gate': orm.Str(str(gate)), 'side': orm.Str('gate')}
    results, node = run_get_node(SleepWindow, code=code, release_after=orm.Str('job_2'), **inputs)
    side = node.base.links.get_outgoing(link_label_filter='side').one().node
    assert side.is_finished_ok
    jobs = _jobs(node)
    del jobs['side']
    assert sorted(jobs) == [f'job_{k}' for k in range(4)]
    assert jobs['job_2'].ctime < side.mtime and jobs['job_3'].ctime < side.mtime
    assert results['sums'].get_dict() == {f'job_{k}': k + 100 for k in range(4)}


def test_failed_child_is_read_once_and_the_window_goes_on(aiida_code_installed):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    results, node = run_get_node(SleepWindow, code=code, sleeps=orm.List([0, -1, 0, 0, 0]), size=orm.Int(3))
    jobs = _check(node, results, 5, 3)
    assert jobs['job_1'].is_failed
    assert results['failed'].get_dict() == {'job_1': jobs['job_1'].exit_status}
    assert results['sums'].get_dict() == {f'job_{k}': k + 100 for k in (0, 2, 3, 4)}


def test_window_of_one_runs_in_order(aiida_code_installed):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    results, node = run_get_node(SleepWindow, code=code, sleeps=orm.List([1, 0, 0]), size=orm.Int(1))
    jobs = _check(node, results, 3, 1)
    assert results['order'].get_list() == ['job_0', 'job_1', 'job_2']
    ordered = sorted(jobs.values(), key=lambda child: child.ctime)
    for before, after in zip(ordered, ordered[1:], strict=False):  # each created once the one before had terminated
        assert after.ctime > before.mtime - datetime.timedelta(seconds=0.5)
    assert _waits(node) == []  # one child at a time is awaited directly


def _wait_for(condition, timeout: float, what: str) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f'timed out after {timeout:.0f} s waiting for {what}')
        time.sleep(1.0)


@pytest.mark.slow
@pytest.mark.daemon
@pytest.mark.timeout(1200)
def test_half_done_window_goes_on_after_a_daemon_restart(aiida_code_installed, daemon_client, tmp_path):
    """The daemon is stopped while the window waits for one of two gated children (one child finished and read,
    one still to submit), the gate opens while it is down, and the daemon is started again: the work chain and its
    ``WaitForAny`` are reloaded from their checkpoints and the window finishes, each child submitted and read once."""
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    gate = tmp_path / 'gate'
    if not daemon_client.is_daemon_running:
        daemon_client.start_daemon()
    try:
        sleeps = orm.List(['gate', 0, 'gate', 0])
        inputs = {'code': code, 'sleeps': sleeps, 'size': orm.Int(2), 'gate': orm.Str(str(gate))}
        node = submit(SleepWindow, **inputs)

        def half_done():  # job_1 read, the gated job_2 running beside the gated job_0, the window waiting for either
            jobs = {link.link_label: link.node for link in node.base.links.get_outgoing().all()}
            return 'job_2' in jobs and 'window_wait_2' in jobs and not jobs['job_0'].is_terminated

        _wait_for(half_done, 600, 'the window to be half done')
        waiting = [wait for wait in _waits(node) if not wait.is_terminated]
        assert len(waiting) == 1
        daemon_client.stop_daemon(wait=True, timeout=120)
        stopped = datetime.datetime.now(datetime.timezone.utc)
        gate.touch()  # job_0 and job_2 end while nothing runs the work chain
        time.sleep(2)
        assert not node.is_terminated
        daemon_client.start_daemon()
        _wait_for(lambda: node.is_terminated, 900, 'the window to finish after the restart')
    finally:
        gate.touch()
        daemon_client.stop_daemon(wait=True, timeout=120)
    results = {label: node.outputs[label] for label in ('order', 'sums', 'failed')}
    jobs = _check(node, results, 4, 2)
    assert results['sums'].get_dict() == {f'job_{k}': k + 100 for k in range(4)}
    assert results['order'].get_list() == ['job_1', 'job_0', 'job_2', 'job_3']
    assert waiting[0].is_finished_ok and waiting[0].mtime > stopped  # reloaded, then woken up after the restart
    assert all(job.is_finished_ok for job in jobs.values())


def test_window_checkpointed_by_the_earlier_code_finds_its_children():
    """The earlier window kept each child (or, while it ran, its placeholder) in ``ctx.window_child_<tag>`` and no
    pks: a run reloaded from such a checkpoint still finds them, so it awaits and reads them (no busy loop)."""
    from aiida.common import AttributeDict
    from aiida.engine.processes.workchains.awaitable import construct_awaitable

    ended, running = orm.WorkflowNode().store(), orm.WorkflowNode().store()
    placeholder = construct_awaitable(running)
    placeholder.key = 'window_child_b'

    class Reloaded(ChildWindowMixin):
        ctx = AttributeDict(
            {
                'window': {'pending': [], 'running': ['a', 'b', 'c']},
                'window_child_a': ended,
                'window_child_b': placeholder,
            }
        )

    window = Reloaded()
    assert window._window_child('a').pk == ended.pk
    assert window._window_child('b').pk == running.pk
    assert window._window_child('c') is None
