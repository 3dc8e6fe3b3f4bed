"""Benchmark ``fit_cost``: gap_fit's wall time and peak memory against the database size, per protocol (issue 24).

What a 2,500-evaluation run needs from its last fit, and how the fit grows with the data. For each protocol
(``--protocols``: its Table 1 descriptors with the protocol's ``fit`` overrides, e.g. moderate's 1,000 SOAP sparse
points) and each database size (``--sizes``), a database of that many random Si cells of the protocol's pool sizes
(``parameters.pool.natoms``; ``rss.generation.initial_pool``), labelled by Stillinger–Weber (the label values do not
change a fit's cost) and given the loop's hull sigmas (``rss.training_sigmas.set_training_sigmas``), is fitted once
with the full 2b+3b+SOAP model (the last stage of the fit work chain, the costliest) by the real ``gap_fit``
(``OMP_NUM_THREADS`` as given, default 1: one core, as a job of the embedded default runs it). Recorded per fit: wall
and CPU seconds, peak resident memory of gap_fit (sampled every 50 ms, this script's own memory taken off), atoms,
and per protocol the exponent of a power law fitted to time and to memory against the number of atoms.

``--sparse-factors`` (default 1.0 0.5) also fits the largest database with every descriptor's ``n_sparse`` scaled by
each factor: what the fit work chain's out-of-memory restart (``GapFitBaseWorkChain.SPARSE_FACTOR``, 0.5) buys.

Usage::

    python benchmarks/fit_cost.py [--protocols fast moderate precise] [--sizes 100 250 500 1000 2500] [--threads 1]

Ends by printing ONE JSON line, written to ``benchmarks/results/fit_cost.json`` (``--tag T``: ``fit_cost.T.json``).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import psutil

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _record import write_results  # noqa: E402
from initial_pool import PeakMemory  # noqa: E402

ELEMENT = 'Si'


def database(n: int, natoms, seed: int) -> list:
    """``n`` random Si cells of ``natoms`` atoms, labelled by Stillinger–Weber, with the loop's hull sigmas."""
    from aiida_gaprss.jobs.ase_batch import label_structure
    from aiida_gaprss.rss.generation import initial_pool
    from aiida_gaprss.rss.potentials import stillinger_weber_si
    from aiida_gaprss.rss.training_sigmas import set_training_sigmas

    calculator = stillinger_weber_si()
    cells = initial_pool(ELEMENT, n, seed=seed, natoms=tuple(natoms), processes=1)
    frames = [label_structure(atoms, calculator) for atoms in cells]
    for atoms in frames:
        atoms.info['config_type'] = 'rss_initial'
    set_training_sigmas(frames)
    return frames


def protocol_parameters(name: str, sparse_factor: float = 1.0) -> dict:
    """The fit parameters of protocol ``name`` for Si, every ``n_sparse`` scaled by ``sparse_factor``."""
    from aiida_gaprss.protocols import load_gaprss_protocol
    from aiida_gaprss.rss.gap_parameters import table1_parameters

    parameters = table1_parameters(ELEMENT, overrides=load_gaprss_protocol(name).get('fit') or {})
    for descriptor in parameters['descriptors']:
        descriptor['n_sparse'] = max(10, int(descriptor['n_sparse'] * sparse_factor))
    return parameters


def fit_once(frames: list, parameters: dict, threads: int) -> dict:
    """Run gap_fit on ``frames`` with ``parameters`` in a temporary folder; time, CPU and peak memory."""
    from aiida_gaprss.data.extxyz import frames_to_string
    from aiida_gaprss.rss.gap_parameters import build_gap_fit_command

    environment = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'OPENBLAS_NUM_THREADS': str(threads)}
    with tempfile.TemporaryDirectory(prefix='gaprss-fit-cost-') as folder:
        with open(pathlib.Path(folder) / 'train.xyz', 'w', encoding='utf-8') as handle:  # the training file
            handle.write(frames_to_string(frames))
        argv = build_gap_fit_command(parameters, at_file='train.xyz', gp_file='gap.xml')
        own = psutil.Process().memory_info().rss  # this process holds the frames: not gap_fit's memory
        with PeakMemory() as memory:
            result = subprocess.run(['gap_fit', *argv], cwd=folder, capture_output=True, text=True, env=environment)
        if result.returncode != 0:
            return {'failed': (result.stderr or result.stdout)[-500:], 'seconds': round(memory.seconds, 2)}
    return {
        'seconds': round(memory.seconds, 2),
        'cpu_seconds': round(memory.cpu_seconds, 2),
        'peak_gb': round(memory.peak_gb - own / 1e9, 3),
    }


def power_law_exponent(x, y) -> float | None:
    """Slope of log y against log x (None with fewer than two points)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = (x > 0) & (y > 0)
    if keep.sum() < 2:
        return None
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def main() -> None:
    from aiida_gaprss.protocols import load_gaprss_protocol

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--protocols', nargs='+', default=['fast', 'moderate', 'precise'])
    parser.add_argument('--sizes', nargs='+', type=int, default=[100, 250, 500, 1000, 2500])
    parser.add_argument('--sparse-factors', nargs='+', type=float, default=[1.0, 0.5])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--tag', default='')
    args = parser.parse_args()

    figures = {
        'benchmark': 'fit_cost',
        'element': ELEMENT,
        'threads': args.threads,
        'sizes': args.sizes,
        'load_average_start': [round(value, 2) for value in os.getloadavg()],
        'protocols': {},
    }
    for name in args.protocols:
        natoms = load_gaprss_protocol(name)['parameters']['pool']['natoms']
        frames = database(max(args.sizes), natoms, args.seed)
        parameters = protocol_parameters(name)
        rows = []
        for size in sorted(args.sizes):
            subset = frames[:size]
            row = {'structures': size, 'atoms': int(sum(len(atoms) for atoms in subset))}
            row.update(fit_once(subset, parameters, args.threads))
            print(f'{name} {size:5d} structures ({row["atoms"]} atoms): {row["seconds"]} s, '
                  f'{row.get("peak_gb")} GB', flush=True)  # fmt: skip
            rows.append(row)
        sparse = {}
        for factor in args.sparse_factors:
            row = fit_once(frames, protocol_parameters(name, factor), args.threads)
            sparse[str(factor)] = {
                'n_sparse': {d['type']: d['n_sparse'] for d in protocol_parameters(name, factor)['descriptors']},
                **row,
            }
        done = [row for row in rows if 'failed' not in row]
        figures['protocols'][name] = {
            'pool_natoms': natoms,
            'n_sparse': {d['type']: d['n_sparse'] for d in parameters['descriptors']},
            'fits': rows,
            'time_exponent_vs_atoms': power_law_exponent([r['atoms'] for r in done], [r['seconds'] for r in done]),
            'memory_exponent_vs_atoms': power_law_exponent([r['atoms'] for r in done], [r['peak_gb'] for r in done]),
            'largest_database_sparse_factors': sparse,
        }
    figures['load_average_end'] = [round(value, 2) for value in os.getloadavg()]
    write_results('fit_cost', figures, args.tag)


if __name__ == '__main__':
    main()
