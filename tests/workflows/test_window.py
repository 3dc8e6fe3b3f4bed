"""ChildWindowMixin: at most N children at once, topped up whenever the oldest running one ends (public API only)."""

from __future__ import annotations

import datetime

from aiida import orm
from aiida.engine import WorkChain, run_get_node, while_
from aiida.plugins import CalculationFactory

from aiida_gaprss.workflows.window import ChildWindowMixin

ArithmeticAdd = CalculationFactory('core.arithmetic.add')


class SleepWindow(ChildWindowMixin, WorkChain):
    """Children ``core.arithmetic.add`` that sleep ``sleeps[i]`` seconds first (a negative one fails), ``size`` at a
    time."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('code', valid_type=orm.AbstractCode)
        spec.input('sleeps', valid_type=orm.List)
        spec.input('size', valid_type=orm.Int)
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

    def window_size(self) -> int:
        return self.inputs.size.value

    def window_launch(self, tag):
        k = int(tag.split('_')[1])
        sleep = self.inputs.sleeps[k]
        prepend = f'sleep {sleep}' if sleep >= 0 else 'exit 7'  # exit: no output file, the parser fails the job
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

    def results(self):
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
    links = node.base.links.get_outgoing().all()
    return {link.link_label: link.node for link in links if link.link_label.startswith('job_')}


def _run(code, sleeps, size):
    results, node = run_get_node(SleepWindow, code=code, sleeps=orm.List(sleeps), size=orm.Int(size))
    assert node.is_finished_ok, node.exit_message
    jobs = _jobs(node)
    assert sorted(jobs) == [f'job_{k}' for k in range(len(sleeps))]  # each submitted once
    assert sorted(results['order'].get_list()) == sorted(jobs)  # each read exactly once
    assert _max_overlap([(job.ctime, job.mtime) for job in jobs.values()]) <= size  # creation to termination
    return results, jobs


def test_window_refills_when_the_oldest_child_ends(aiida_code_installed):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    results, jobs = _run(code, [0, 10, 0, 0], 2)
    assert results['sums'].get_dict() == {f'job_{k}': k + 100 for k in range(4)}
    assert results['failed'].get_dict() == {}
    slow = jobs['job_1']
    # the oldest (job_0) ends first: job_2 takes its slot while the slow job_1 still runs (not waves of two)
    assert jobs['job_2'].ctime < slow.mtime and jobs['job_2'].mtime < slow.mtime
    # what public API costs: the slot job_2 frees is refilled only once the oldest running child (job_1) has ended
    assert jobs['job_3'].ctime > slow.mtime
    assert results['order'].get_list() == ['job_0', 'job_1', 'job_2', 'job_3']


def test_failed_child_is_read_once_and_the_window_goes_on(aiida_code_installed):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    results, jobs = _run(code, [0, -1, 0, 0, 0], 3)
    assert results['failed'].get_dict() == {'job_1': jobs['job_1'].exit_status}
    assert jobs['job_1'].is_failed
    assert results['sums'].get_dict() == {f'job_{k}': k + 100 for k in (0, 2, 3, 4)}


def test_window_of_one_runs_in_order(aiida_code_installed):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    results, jobs = _run(code, [1, 0, 0], 1)
    assert results['order'].get_list() == ['job_0', 'job_1', 'job_2']
    ordered = sorted(jobs.values(), key=lambda child: child.ctime)
    for before, after in zip(ordered, ordered[1:], strict=False):  # each created once the one before had terminated
        assert after.ctime > before.mtime - datetime.timedelta(seconds=0.5)
