"""Benchmark ``run_cost``: where the wall time of a GAP-RSS run goes, per iteration and stage (issue 18).

Read from the provenance of a finished (or running) ``GapRssWorkChain``: for every ``iteration_XX`` the wall time
(ctime → mtime of the process node) of each stage — pool generation, relaxation batches, selection, reference
(the ReferenceWorkChain: every SCF), the fit (GapFitWorkChain: its three gap_fit stages), and the validation that ran
beside the next iteration — with the database size after the iteration, the number of labels, the summed pw.x job
times (ctime → mtime of each PwCalculation), their median per label and the median and largest number of irreducible
k-points of those jobs. The stage times of one iteration overlap only with the validation of the previous one (the
loop itself is sequential); a run stopped and resumed across sessions has the pause inside its stage wall times, not
inside the pw.x job times.

Usage::

    python benchmarks/run_cost.py PK --profile NAME            # or --folder AIIDA_PATH of a benchmark profile

Ends by printing ONE JSON line, written to benchmarks/results/run_cost.json (``--tag T``: run_cost.T.json).
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _profile import bench_profile  # noqa: E402
from _record import write_results  # noqa: E402

#: Stage of an iteration -> the call-link labels (prefixes) of its children.
STAGES = {
    'pool': ('generate_pool',),
    'relaxation': ('relax_',),
    'selection': ('select',),
    'reference': ('reference',),
    'fit': ('fit',),
}


def wall(node) -> float:
    return (node.mtime - node.ctime).total_seconds()


def span(nodes) -> float | None:
    """Wall time from the first start to the last end of ``nodes`` (they may run side by side)."""
    if not nodes:
        return None
    return (max(node.mtime for node in nodes) - min(node.ctime for node in nodes)).total_seconds()


def iteration_cost(iteration) -> dict:
    from aiida import orm

    children = [(link.link_label, link.node) for link in iteration.base.links.get_outgoing().all()
                if isinstance(link.node, orm.ProcessNode)]  # fmt: skip
    row = {'wall_seconds': wall(iteration)}
    for stage, prefixes in STAGES.items():
        nodes = [node for label, node in children if label.startswith(prefixes) and not label.startswith('fit_')]
        if stage == 'selection':
            nodes = [node for label, node in children if label == 'select']
        row[f'{stage}_seconds'] = span(nodes)
    reference = [node for label, node in children if label == 'reference']
    pw_jobs = []
    if reference:
        pw_jobs = [node for node in reference[0].called_descendants
                   if node.process_label == 'PwCalculation' and node.is_finished_ok]  # fmt: skip
    row['labels'] = len(iteration.outputs.labelled) if 'labelled' in iteration.outputs else None
    row['pw_jobs'] = len(pw_jobs)
    row['pw_job_seconds_total'] = round(sum(wall(node) for node in pw_jobs), 1)
    row['pw_job_seconds_median'] = statistics.median(wall(node) for node in pw_jobs) if pw_jobs else None
    kpoints = [node.outputs.output_parameters.get('number_of_k_points') for node in pw_jobs
               if 'output_parameters' in node.outputs]  # fmt: skip
    kpoints = [value for value in kpoints if value]
    row['pw_kpoints_median'] = statistics.median(kpoints) if kpoints else None
    row['pw_kpoints_max'] = max(kpoints) if kpoints else None
    fits = [node for label, node in children if label == 'fit']
    gap_fits = (
        [node for node in fits[0].called_descendants if node.process_label == 'GapFitCalculation'] if fits else []
    )
    row['gap_fit_job_seconds'] = [round(wall(node), 1) for node in sorted(gap_fits, key=lambda node: node.ctime)]
    row['database_size'] = len(iteration.outputs.database) if 'database' in iteration.outputs else None
    if 'database' in iteration.outputs:
        frames = iteration.outputs.database.get_atoms()
        row['database_atoms'] = int(sum(len(atoms) for atoms in frames))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pk', type=int, help='a GapRssWorkChain')
    parser.add_argument('--profile', default=None)
    parser.add_argument('--folder', default=None, help='AIIDA_PATH of a benchmark profile (its profile: --name)')
    parser.add_argument('--name', default='bench-si', help='profile name inside --folder')
    parser.add_argument('--tag', default='')
    args = parser.parse_args()

    with bench_profile(args.name, profile=args.profile, folder=args.folder, keep=True, stop=False):
        from aiida import orm

        node = orm.load_node(args.pk)
        rows = []
        validations = {}
        for link in node.base.links.get_outgoing().all():
            if link.link_label.startswith('validation_'):
                validations[int(link.link_label.split('_')[1])] = link.node
        for link in sorted(node.base.links.get_outgoing().all(), key=lambda link: link.link_label):
            if not link.link_label.startswith('iteration_'):
                continue
            k = int(link.link_label.split('_')[1])
            row = {'iteration': k, **iteration_cost(link.node)}
            if k in validations:
                row['validation_seconds'] = wall(validations[k])
            rows.append(row)
        run = {'pk': node.pk, 'uuid': node.uuid, 'state': node.process_state.value if node.process_state else None,
               'wall_seconds': wall(node)}  # fmt: skip

    print(f'run <{run["pk"]}>: {run["state"]}, {run["wall_seconds"] / 3600:.2f} h so far')
    print(' k  labels  db   pool  relax   select  reference (pw.x median)  fit (gap_fit jobs)  validation  total')
    for row in rows:

        def fmt(value):
            return f'{value:7.0f}' if value is not None else '    n/a'

        print(f'{row["iteration"]:2d} {row["labels"] or 0:6d} {row["database_size"] or 0:4d} {fmt(row["pool_seconds"])}'
              f'{fmt(row["relaxation_seconds"])} {fmt(row["selection_seconds"])} {fmt(row["reference_seconds"])} '
              f'({fmt(row["pw_job_seconds_median"])}) {fmt(row["fit_seconds"])} {row["gap_fit_job_seconds"]} '
              f'{fmt(row.get("validation_seconds"))} {fmt(row["wall_seconds"])}')  # fmt: skip
    figures = {
        'benchmark': 'run_cost',
        'run': run,
        'iterations': rows,
        'units': {'time': 'wall seconds (ctime to mtime of the process nodes)'},
    }
    write_results('run_cost', figures, args.tag)


if __name__ == '__main__':
    main()
