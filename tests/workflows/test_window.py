"""ChildWindowMixin: at most N children at once, the next submitted as soon as one ends (not in waves)."""

from __future__ import annotations

import datetime

from aiida import orm
from aiida.engine import WorkChain, run_get_node, while_
from aiida.plugins import CalculationFactory

from aiida_gaprss.workflows.window import ChildWindowMixin

ArithmeticAdd = CalculationFactory('core.arithmetic.add')


class SleepWindow(ChildWindowMixin, WorkChain):
    """Children ``core.arithmetic.add`` that sleep ``sleeps[i]`` seconds first, ``size`` at a time."""

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
        spec.output('sums', valid_type=orm.List)

    def setup(self):
        self.ctx.order = []
        self.ctx.sums = {}
        self.window_open(f'job_{k}' for k in range(len(self.inputs.sleeps)))

    def window_size(self) -> int:
        return self.inputs.size.value

    def window_launch(self, tag):
        k = int(tag.split('_')[1])
        options = {'prepend_text': f'sleep {self.inputs.sleeps[k]}', 'resources': {'num_machines': 1}}
        return self.submit(
            ArithmeticAdd,
            code=self.inputs.code,
            x=orm.Int(k),
            y=orm.Int(100),
            metadata={'call_link_label': tag, 'options': options},
        )

    def window_finished(self, tag, node):
        self.ctx.order.append(tag)
        self.ctx.sums[tag] = node.outputs.sum.value

    def results(self):
        self.out('order', orm.List(self.ctx.order).store())
        self.out('sums', orm.List([self.ctx.sums[f'job_{k}'] for k in range(len(self.ctx.sums))]).store())


def _max_overlap(intervals) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_rolling_window_refills_before_the_slow_child_ends(aiida_code_installed):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    sleeps = [12, 0, 0, 0]
    results, node = run_get_node(SleepWindow, code=code, sleeps=orm.List(sleeps), size=orm.Int(2))
    assert node.is_finished_ok, node.exit_message
    links = node.base.links.get_outgoing().all()
    jobs = {link.link_label: link.node for link in links if link.link_label.startswith('job_')}
    assert sorted(jobs) == [f'job_{k}' for k in range(4)]
    assert all(job.is_finished_ok for job in jobs.values())
    # every child read exactly once, its result kept
    assert sorted(results['order'].get_list()) == sorted(jobs)
    assert results['sums'].get_list() == [k + 100 for k in range(4)]
    # never more than two alive at once (creation to termination)
    intervals = [(job.ctime, job.mtime) for job in jobs.values()]
    assert _max_overlap(intervals) <= 2
    # rolling, not waves: each short child (about 3 s of daemon work each) is followed by the next while the slow one
    # (12 s asleep) still runs; in waves of two, job_2 would start only after job_0
    slow = jobs['job_0']
    assert jobs['job_2'].ctime < slow.mtime and jobs['job_3'].ctime < slow.mtime
    assert jobs['job_2'].mtime < slow.mtime
    assert results['order'].get_list().index('job_2') < results['order'].get_list().index('job_0')


def test_window_of_one_runs_in_order(aiida_code_installed):
    code = aiida_code_installed(default_calc_job_plugin='core.arithmetic.add', filepath_executable='/bin/bash')
    results, node = run_get_node(SleepWindow, code=code, sleeps=orm.List([1, 0, 0]), size=orm.Int(1))
    assert node.is_finished_ok, node.exit_message
    assert results['order'].get_list() == ['job_0', 'job_1', 'job_2']
    jobs = sorted(node.called, key=lambda child: child.ctime)
    assert len(jobs) == 3
    for before, after in zip(jobs, jobs[1:], strict=False):  # each created once the one before had terminated
        assert after.ctime > before.mtime - datetime.timedelta(seconds=0.5)
