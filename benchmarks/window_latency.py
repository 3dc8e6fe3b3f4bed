"""Benchmark ``window_latency``: how long a freed slot of the rolling window stays empty, with aiida-core's private
awaitable hooks overridden (the window up to issue 21) and with public API only (``WaitForAny``).

The same small window (``--children`` ``core.arithmetic.add`` jobs of ``bash``, each sleeping ``--sleep`` s, at most
``--size`` at a time) runs in-process, alternately with each implementation, ``--repeats`` times each, in one
temporary profile (``gaprss setup``: localhost polled every 1 s). The earlier implementation is read from the commit
``--old-commit`` with ``git show`` and imported from a temporary file. Refill latency of the i-th submitted child
(i >= size): its creation time minus the termination (last modification) of the child whose end freed its slot,
i.e. the (i - size + 1)-th to end among those submitted before it. Prints the medians, ends with one JSON line,
writes benchmarks/results/window_latency.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _profile import bench_profile  # noqa: E402
from _record import write_results  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def old_mixin(commit: str):
    """``ChildWindowMixin`` of ``workflows/window.py`` at ``commit``."""
    source = subprocess.run(['git', 'show', f'{commit}:aiida_gaprss/workflows/window.py'], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    path = pathlib.Path(tempfile.mkdtemp(prefix='gaprss-window-')) / 'window_override.py'
    path.write_bytes(source.encode('utf-8'))  # (write_results adds the provenance block to the result)
    spec = importlib.util.spec_from_file_location('window_override', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ChildWindowMixin


def window_class(mixin, name: str):
    """A work chain of ``sleeps`` children, ``size`` at a time, on ``mixin``."""
    from aiida import orm
    from aiida.engine import WorkChain, while_
    from aiida.plugins import CalculationFactory

    add = CalculationFactory('core.arithmetic.add')

    class _Window(mixin, WorkChain):
        @classmethod
        def define(cls, spec):
            super().define(spec)
            spec.input('code', valid_type=orm.AbstractCode)
            spec.input('sleep', valid_type=orm.Float)
            spec.input('children', valid_type=orm.Int)
            spec.input('size', valid_type=orm.Int)
            spec.outline(cls.setup, while_(cls.window_has_work)(cls.window_submit, cls.window_collect))

        def setup(self):
            self.window_open(f'job_{k:03d}' for k in range(self.inputs.children.value))

        def window_size(self):
            return self.inputs.size.value

        def window_launch(self, tag):
            options = {'prepend_text': f'sleep {self.inputs.sleep.value}', 'resources': {'num_machines': 1}}
            return self.submit(add, code=self.inputs.code, x=orm.Int(1), y=orm.Int(2),
                               metadata={'call_link_label': tag, 'options': options})  # fmt: skip

        def window_finished(self, tag, node):
            if not node.is_finished_ok:
                raise RuntimeError(f'{tag}: [{node.exit_status}] {node.exit_message}')

    cls = type(name, (_Window,), {'__module__': __name__})
    globals()[name] = cls  # found by name when the engine saves the process's checkpoint
    return cls


def refill_latencies(node, size: int) -> tuple[list[float], float, int]:
    """Refill latencies (s), makespan (s) and number of ``WaitForAny`` children of a finished window ``node``."""
    from aiida import orm

    children = sorted(node.called, key=lambda child: child.ctime)
    jobs = [child for child in children if isinstance(child, orm.CalcJobNode)]
    waits = len(children) - len(jobs)
    latencies = []
    for i in range(size, len(jobs)):
        ends = sorted(job.mtime for job in jobs[:i])
        latencies.append((jobs[i].ctime - ends[i - size]).total_seconds())
    return latencies, (node.mtime - node.ctime).total_seconds(), waits


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--children', type=int, default=8)
    parser.add_argument('--size', type=int, default=2)
    parser.add_argument('--sleep', type=float, default=1.0)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--old-commit', default='244b402')
    args = parser.parse_args(argv)
    with bench_profile('bench-window'):
        from aiida import orm
        from aiida.engine import run_get_node

        from aiida_gaprss.workflows.window import ChildWindowMixin

        code = orm.InstalledCode(computer=orm.load_computer('localhost'), filepath_executable='/bin/bash',
                                 label='bash-add', default_calc_job_plugin='core.arithmetic.add').store()  # fmt: skip
        classes = {'override': window_class(old_mixin(args.old_commit), 'OverrideWindow'),
                   'public': window_class(ChildWindowMixin, 'PublicWindow')}  # fmt: skip
        runs = {name: [] for name in classes}
        for _ in range(args.repeats):
            for name, cls in classes.items():
                inputs = {'code': code, 'sleep': orm.Float(args.sleep), 'children': orm.Int(args.children),
                          'size': orm.Int(args.size)}  # fmt: skip
                _, node = run_get_node(cls, **inputs)
                if not node.is_finished_ok:
                    raise RuntimeError(f'{name}: [{node.exit_status}] {node.exit_message}')
                latencies, makespan, waits = refill_latencies(node, args.size)
                runs[name].append({'latencies_s': latencies, 'makespan_s': makespan, 'wait_for_any': waits})
    summary = {}
    for name, records in runs.items():
        latencies = [value for record in records for value in record['latencies_s']]
        summary[name] = {
            'median_refill_latency_s': statistics.median(latencies),
            'mean_refill_latency_s': statistics.fmean(latencies),
            'median_makespan_s': statistics.median(record['makespan_s'] for record in records),
            'wait_for_any_per_run': records[0]['wait_for_any'],
        }
        row = summary[name]
        sys.stdout.write(
            f'{name}: refill latency median {row["median_refill_latency_s"]:.2f} s, mean '
            f'{row["mean_refill_latency_s"]:.2f} s; makespan median {row["median_makespan_s"]:.1f} s\n'
        )
    figures = {
        'benchmark': 'window_latency',
        'children': args.children,
        'size': args.size,
        'sleep_s': args.sleep,
        'repeats': args.repeats,
        'old_commit': args.old_commit,
        'summary': summary,
        'extra_refill_latency_s': summary['public']['median_refill_latency_s']
        - summary['override']['median_refill_latency_s'],
        'runs': runs,
    }
    write_results('window_latency', figures)
    return figures


if __name__ == '__main__':
    main()
