"""Benchmark ``selection_ablation``: the paper's Fig. 2 — kernel CUR vs descriptor CUR vs random selection.

The same GAP-RSS run (``GapRssWorkChain.get_builder_from_protocol('Si', engine='ase', protocol='fast')``, the
reference is Stillinger–Weber through the ASE engine, cheap and real) is submitted three times per seed to the daemon
of a throwaway embedded profile, identical except for the selection:

* ``kernel_cur`` — the paper's method: leverage-score CUR on the kernel ``K = (P Pᵀ)^ζ`` of configuration-averaged
  SOAP, on the initial pool (iteration 0) and, after the Boltzmann-biased flat histogram, on the relaxation frames;
* ``descriptor_cur`` — the same CUR on the rectangular descriptor matrix ``P`` (iteration-0 method and second step);
* ``random`` — uniform random choice (iteration 0 from the pool; later among the flat-histogram frames).

(``parameters.selection.initial_method`` and ``parameters.selection.diversity``; the flat-histogram step and every
other setting — seed, pool, relaxations, fit, budget — are the same in the three runs, so the initial pool is the
same one.) Every iteration's GAP is scored, as soon as it exists, on

* **known phases**: diamond, β-Sn, simple hexagonal and bc8, each relaxed (variable cell, 0 GPa) with the GAP and with
  SW, error = E_GAP(min_GAP)/N − E_SW(min_SW)/N (:func:`aiida_gaprss.rss.validation.phase_energy_errors`); the curve
  is the mean |error| over the four phases;
* **a held-out test set**: random cells (the run's generator, another seed, 2–8 atoms) relaxed with SW at 0 GPa;
  the final frame and the frame a third of the way along each trajectory, labelled with SW; energy-per-atom RMSE.

Both are plotted against the reference evaluations used (dimers included), one curve per method (mean over seeds,
the band spans the seeds), in benchmarks/results/selection_ablation.png. Ratios printed: error(random) /
error(kernel_cur) and error(descriptor_cur) / error(kernel_cur) at equal budget (the largest evaluation count
reached by every run, and averaged over all common iterations after the first).

Usage::

    python benchmarks/selection_ablation.py --seeds 1 2 --budget 78 --deadline 20:00

``--deadline HH:MM`` (UTC): stop waiting then, kill the runs still going (their finished iterations count) and
report. ``--resume METHOD:SEED:PK ...`` with ``--profile NAME`` (and ``AIIDA_PATH`` of that profile) scores runs
already submitted instead of submitting new ones (that profile's daemon is left running). The potentials are scored
in ``--processes`` worker processes while the runs go on. Ends by printing ONE JSON line, written to
benchmarks/results/selection_ablation.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import multiprocessing
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _profile import bench_profile, is_terminated  # noqa: E402
from _record import provenance  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / 'results' / 'selection_ablation.json'
PLOT = RESULTS.with_suffix('.png')
METHODS = ('kernel_cur', 'descriptor_cur', 'random')
COLOURS = {'kernel_cur': 'tab:purple', 'descriptor_cur': 'tab:green', 'random': 'tab:gray'}  # the paper's colours
PHASES = ('diamond', 'beta_sn', 'sh', 'bc8')
TEST_SEED = 987_654
#: Variable-cell relaxation of the known phases, the same for SW and the GAPs (0 GPa).
PHASE_RELAX = {'fmax': 0.01, 'steps': 300, 'smax': 0.05}
ROW_KEYS = (
    'iteration',
    'evaluations',
    'database_size',
    'mean_abs_phase_error',
    'test_rmse',
    'test_mae',
    'test_median_abs',
    'phase_errors',
)


def overrides(method: str, seed: int, budget: int, max_iterations: int, n_relax: int, steps: int) -> dict:
    """The fast protocol, one process per job (several runs share 2 cores), no validation workchain, ``method``."""
    return {
        'validation': False,
        'budget': budget,
        'max_iterations': max_iterations,
        'parameters': {
            'seed': seed,
            'pool': {'processes': 1, 'n_relax': n_relax},
            'relax': {'processes': 1, 'steps': steps},
            'selection': {'processes': 1, 'initial_method': method, 'diversity': method},
        },
    }


# -- the scores ------------------------------------------------------------------------------------------------------
def reference_phases() -> dict:
    from aiida_gaprss.rss.phases import build_phase
    from aiida_gaprss.rss.potentials import stillinger_weber_si
    from aiida_gaprss.rss.validation import relax_phase

    results = {}
    for name in PHASES:
        final = relax_phase(build_phase('Si', name), stillinger_weber_si(), **PHASE_RELAX)
        results[name] = {key: final.info[key] for key in ('energy_per_atom', 'volume_per_atom')}
    return results


def test_set(n_cells: int, processes: int = 2) -> list:
    """Held-out structures: random cells relaxed with SW at 0 GPa, final frame and the frame 1/3 along, SW labels."""
    from aiida_gaprss.rss.generation import generate_random_cells
    from aiida_gaprss.rss.potentials import stillinger_weber_si
    from aiida_gaprss.rss.relax import relax_structures, split_trajectories

    cells = generate_random_cells(n_cells, 'Si', seed=TEST_SEED, natoms=(2, 8))
    frames = relax_structures(cells, {'type': 'sw_si'}, 0.0, fmax=0.05, steps=80, processes=processes)
    structures = []
    for trajectory in split_trajectories(frames).values():
        picks = {len(trajectory) - 1, len(trajectory) // 3}
        structures.extend(trajectory[i].copy() for i in sorted(picks))
    calculator = stillinger_weber_si()
    for atoms in structures:
        atoms.info = {}
        atoms.calc = calculator
        atoms.info['sw_energy_per_atom'] = atoms.get_potential_energy() / len(atoms)
        atoms.calc = None
    return structures


def score(xml: str, reference: dict, structures: list) -> dict:
    """Known-phase errors and held-out RMSE (eV/atom) of the GAP in ``xml`` (run in a worker process)."""
    from aiida_gaprss.rss.phases import build_phase
    from aiida_gaprss.rss.potentials import calculator_from_spec
    from aiida_gaprss.rss.validation import phase_energy_errors, relax_phase

    calculator = calculator_from_spec({'type': 'gap', 'xml': xml})
    gap = {}
    for name in PHASES:
        try:
            final = relax_phase(build_phase('Si', name), calculator, **PHASE_RELAX)
            gap[name] = {'energy_per_atom': final.info['energy_per_atom']}
        except Exception as exception:  # noqa: BLE001 - a GAP that explodes a phase is a result, not a crash
            print(f'  relaxing {name} with the GAP failed: {exception}', flush=True)
    errors = phase_energy_errors(gap, reference, ground_state='diamond' if 'diamond' in gap else None) if gap else None
    deviations = []
    for atoms in structures:
        work = atoms.copy()
        work.calc = calculator
        deviations.append(work.get_potential_energy() / len(work) - atoms.info['sw_energy_per_atom'])
    deviations = np.asarray(deviations)
    return {
        'phase_errors': {name: entry['error'] for name, entry in errors['phases'].items()} if errors else {},
        'mean_abs_phase_error': errors['mean_abs_error'] if errors and not errors['missing'] else None,
        'test_rmse': float(np.sqrt(np.mean(deviations**2))),
        'test_mae': float(np.mean(np.abs(deviations))),
        'test_median_abs': float(np.median(np.abs(deviations))),
    }


# -- the runs --------------------------------------------------------------------------------------------------------
def finished_iterations(node) -> list[dict]:
    """(iteration, evaluations so far, potential) of every iteration of ``node`` that has a potential."""
    children = sorted(
        (link.link_label, link.node)
        for link in node.base.links.get_outgoing().all()
        if link.link_label.startswith('iteration_')
    )
    rows, evaluations = [], 0
    for label, child in children:
        if 'selected' in child.outputs:
            evaluations += len(child.outputs.selected)
        if 'potential' in child.outputs:
            iteration = int(label.split('_')[1])
            size = len(child.outputs.database)
            rows.append({'iteration': iteration, 'evaluations': evaluations, 'database_size': size,
                         'potential': child.outputs.potential})  # fmt: skip
    return rows


def deadline_timestamp(text: str | None) -> float:
    if not text:
        return float('inf')
    now = datetime.datetime.now(datetime.UTC)
    hour, minute = (int(part) for part in text.split(':'))
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target < now:
        target += datetime.timedelta(days=1)
    return target.timestamp()


def summarise(curves: dict, key: str) -> dict:
    """Ratios of ``key`` (method / kernel_cur) at equal budget, per seed and as mean ± spread."""
    out = {}
    seeds = sorted({seed for method in curves for seed in curves[method]})
    for method in METHODS:
        if method == 'kernel_cur' or method not in curves:
            continue
        final, averaged = [], []
        for seed in seeds:
            base = {row['evaluations']: row[key] for row in curves['kernel_cur'].get(seed, []) if row[key] is not None}
            other = {row['evaluations']: row[key] for row in curves[method].get(seed, []) if row[key] is not None}
            common = sorted(set(base) & set(other))
            if not common:
                continue
            final.append(other[common[-1]] / base[common[-1]])
            later = [x for x in common if x != common[0]] or common
            averaged.append(statistics.fmean(other[x] / base[x] for x in later))
        if final:
            out[f'{method}/kernel_cur'] = {
                'at_largest_common_budget': [round(value, 3) for value in final],
                'at_largest_common_budget_mean': round(statistics.fmean(final), 3),
                'mean_over_iterations_after_the_first': [round(value, 3) for value in averaged],
                'mean_over_iterations_after_the_first_mean': round(statistics.fmean(averaged), 3),
            }
    return out


def plot(curves: dict, path: pathlib.Path, title: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    panels = (('mean_abs_phase_error', 'known phases: mean |E_GAP − E_SW| (meV/atom)'),
              ('test_rmse', 'held-out test set: energy RMSE (meV/atom)'))  # fmt: skip
    for axis, (key, label) in zip(axes, panels, strict=True):
        for method in METHODS:
            by_x: dict[int, list[float]] = {}
            for rows in curves.get(method, {}).values():
                for row in rows:
                    if row[key] is not None:
                        by_x.setdefault(row['evaluations'], []).append(row[key] * 1000)
            if not by_x:
                continue
            xs = sorted(by_x)
            mean = [statistics.fmean(by_x[x]) for x in xs]
            axis.plot(xs, mean, 'o-', color=COLOURS[method], label=method.replace('_', ' '))
            if any(len(by_x[x]) > 1 for x in xs):
                axis.fill_between(xs, [min(by_x[x]) for x in xs], [max(by_x[x]) for x in xs],
                                  color=COLOURS[method], alpha=0.2)  # fmt: skip
        axis.set_yscale('log')
        axis.set_xlabel('reference evaluations (SW)')
        axis.set_ylabel(label)
        axis.grid(True, which='both', alpha=0.3)
    axes[0].legend()
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[1])
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    parser.add_argument('--budget', type=int, default=78, help='reference evaluations per run (dimers included)')
    parser.add_argument('--max-iterations', type=int, default=8)
    parser.add_argument('--n-relax', type=int, default=16, help='cells relaxed with the GAP per iteration')
    parser.add_argument('--steps', type=int, default=60, help='relaxation steps per cell')
    parser.add_argument('--test-cells', type=int, default=40, help='random cells in the held-out test set')
    parser.add_argument('--deadline', default=None, help='HH:MM UTC: stop waiting, kill what still runs, report')
    parser.add_argument('--profile', default=None, help='an existing profile (default: a private embedded one)')
    parser.add_argument('--folder', default=None, help='keep the private AIIDA_PATH here')
    parser.add_argument('--processes', type=int, default=2, help='worker processes scoring the potentials')
    parser.add_argument('--resume', nargs='+', default=None, help='METHOD:SEED:PK of runs already submitted')
    parser.add_argument('--note', default='')
    args = parser.parse_args()

    load_start = os.getloadavg()
    start = time.perf_counter()
    deadline = deadline_timestamp(args.deadline)
    curves: dict[str, dict[int, list[dict]]] = {}
    with bench_profile('bench-ablation', profile=args.profile, folder=args.folder, keep=args.folder is not None):
        from aiida import orm
        from aiida.engine import submit

        from aiida_gaprss.workflows.rss import GapRssWorkChain

        runs = {}
        if args.resume:
            for entry in args.resume:
                method, seed, pk = entry.split(':')
                runs[method, int(seed)] = orm.load_node(int(pk))
        else:
            codes = {'python': orm.load_code('gaprss-python@localhost'), 'gap_fit': orm.load_code('gap_fit@localhost')}
            for seed in args.seeds:
                for method in args.methods:
                    builder = GapRssWorkChain.get_builder_from_protocol(
                        'Si', codes=codes, engine='ase', protocol='fast',
                        overrides=overrides(method, seed, args.budget, args.max_iterations, args.n_relax, args.steps),
                    )  # fmt: skip
                    runs[method, seed] = submit(builder)
        for (method, seed), node in runs.items():
            curves.setdefault(method, {})[seed] = []
            print(f'{method:15s} seed {seed}: GapRssWorkChain<{node.pk}>', flush=True)
        t0 = time.perf_counter()
        reference = reference_phases()
        print('SW phases (eV/atom): ' + ', '.join(f'{k} {v["energy_per_atom"]:.4f}' for k, v in reference.items()))
        structures = test_set(args.test_cells, args.processes)
        spread = np.std([atoms.info['sw_energy_per_atom'] for atoms in structures])
        print(f'held-out test set: {len(structures)} structures, SW energy spread {spread * 1000:.0f} meV/atom '
              f'({time.perf_counter() - t0:.0f} s)', flush=True)  # fmt: skip

        folders = pathlib.Path(tempfile.mkdtemp(prefix='gaprss-ablation-gaps-'))
        futures: dict = {}
        stopped_at_deadline = []
        context = multiprocessing.get_context('spawn')  # no fork of a process holding the daemon's broker thread
        with concurrent.futures.ProcessPoolExecutor(args.processes, mp_context=context) as pool:
            while True:
                pending = False
                for (method, seed), node in runs.items():
                    terminated = is_terminated(node)
                    for row in finished_iterations(node):
                        key = (method, seed, row['iteration'])
                        if key in futures:
                            continue
                        xml = row.pop('potential').write_folder(folders / '_'.join(map(str, key)))
                        futures[key] = (row, pool.submit(score, str(xml), reference, structures))
                    pending = pending or not terminated
                for (method, seed, iteration), (row, future) in futures.items():
                    if future.done() and 'test_rmse' not in row:
                        row.update(future.result())
                        curves[method][seed].append(row)
                        phase = row['mean_abs_phase_error']
                        phase = f'{phase * 1000:8.1f}' if phase is not None else '     n/a'
                        print(f'[{time.perf_counter() - start:6.0f} s] {method:15s} seed {seed} it {iteration} '
                              f'evals {row["evaluations"]:3d}: phases {phase}, test RMSE '
                              f'{row["test_rmse"] * 1000:7.1f} meV/atom', flush=True)  # fmt: skip
                if not pending:
                    break
                if time.time() > deadline:
                    from aiida.engine.processes import control

                    alive = [node for node in runs.values() if not is_terminated(node)]
                    stopped_at_deadline = [node.pk for node in alive]
                    print(f'deadline reached: killing {stopped_at_deadline}', flush=True)
                    control.kill_processes(alive, all_entries=False, timeout=120)
                    break
                time.sleep(15)
            for (method, seed, _), (row, future) in futures.items():
                if 'test_rmse' not in row:
                    row.update(future.result())
                    curves[method][seed].append(row)
        shutil.rmtree(folders, ignore_errors=True)
        states = {f'{method}/{seed}': f'{node.process_state.value} [{node.exit_status}]' for (method, seed), node in
                  runs.items()}  # fmt: skip
        pks = {f'{method}/{seed}': node.pk for (method, seed), node in runs.items()}
        seeds = sorted({seed for _, seed in runs})
    load_end = os.getloadavg()

    for rows in (rows for per_seed in curves.values() for rows in per_seed.values()):
        rows.sort(key=lambda row: row['evaluations'])
    ratios = {'known_phases': summarise(curves, 'mean_abs_phase_error'), 'test_rmse': summarise(curves, 'test_rmse')}
    print()
    for key, values in ratios.items():
        for name, entry in values.items():
            print(f'{key:13s} {name:26s}: at the largest common budget {entry["at_largest_common_budget"]} '
                  f'(mean {entry["at_largest_common_budget_mean"]}); mean over iterations >= 1 '
                  f'{entry["mean_over_iterations_after_the_first"]}')  # fmt: skip
    title = (f'Si GAP-RSS, SW reference, fast protocol, budget {args.budget}, seeds {seeds} '
             '(line: mean, band: min–max over seeds)')  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    plot(curves, PLOT, title)
    figures = {
        'benchmark': 'selection_ablation',
        'note': args.note,
        'engine': 'ase (Stillinger-Weber)',
        'protocol': 'fast',
        'budget': args.budget,
        'max_iterations': args.max_iterations,
        'n_relax': args.n_relax,
        'relax_steps': args.steps,
        'seeds': seeds,
        'methods': sorted(curves, key=METHODS.index),
        'run_pks': pks,
        'run_states': states,
        'killed_at_deadline': stopped_at_deadline,
        'ratios': ratios,
        'curves': {
            method: {
                str(seed): [{key: row[key] for key in ROW_KEYS} for row in rows] for seed, rows in per_seed.items()
            }
            for method, per_seed in curves.items()
        },
        'reference_phases': reference,
        'test_set': {'structures': len(structures), 'seed': TEST_SEED, 'cells': args.test_cells},
        'units': 'eV/atom',
        'benchmark_wall_seconds': round(time.perf_counter() - start, 1),
        'loadavg_start': load_start,
        'loadavg_end': load_end,
        'nproc': os.cpu_count(),
        'provenance': provenance(),
    }
    RESULTS.write_text(json.dumps(figures) + '\n')
    print(f'plot: {PLOT}')
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
