"""Benchmark: where the averaged-SOAP time of the initial pool goes, and the backends side by side (issue 24).

The selection descriptor of the paper (averaged SOAP, n = l = 12, r_cut 10.5 Å, σ 0.5 Å) on a sample of the initial
pool's cells. Every figure is CPU time (``time.process_time`` in this process, ``RUSAGE_CHILDREN`` for worker
processes), so that it means something on a shared machine; the methods are timed interleaved, in blocks of
``--block`` cells, so that they see the same load. Wall time is not recorded: on a loaded machine it measures the
other users.

Factors, each in isolation (CPU ms per cell):

* cells: our pool's cells vs plain random P1 cells of the same atom counts at 20 Å³/atom (volume per atom,
  neighbours within r_cut and within dscribe's padded cut-off r_cut + 3.7 σ, smallest cell height);
* dscribe: one ``create`` on a list vs one call per cell (per-call overhead); inner vs outer averaging; the
  construction of a calculator (its ``sqrtm`` orthonormalisation); ours through ``averaged_soap`` vs the bare call;
* numpy backend: BLAS threads unlimited vs 1; two worker processes (``averaged_soap(processes=2)``) vs one;
* backends: ``numpy`` (ours), ``dscribe``, featomic 0.6 (SphericalExpansion, one Rayon thread, mean over atoms, power
  spectrum by hand; skipped if not installed) and quippy ``average=T`` (on a subsample);
* σ = 0.0875 Å (the paper's printed value) beside 0.5 Å for numpy and dscribe.

Agreement: numpy vs dscribe (max abs difference of the normalised rows); for the other bases the correlation of the
off-diagonal kernel ``(P Pᵀ)^4`` and the overlap of the top-``--top`` deterministic kernel-CUR picks.

Prints one JSON line and writes ``benchmarks/results/soap_backends.json`` (``soap_backends.n<N>.json`` for other
``--n``).

Usage: ``python benchmarks/soap_backends.py [--n 200] [--quippy-sample 40] [--block 10] [--seed 0]``
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import sys
import time
import warnings

os.environ.setdefault('RAYON_NUM_THREADS', '1')  # featomic: one thread, like one worker process

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _record import write_results  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / 'results' / 'soap_backends.json'
SOAP = {'n_max': 12, 'l_max': 12, 'r_cut': 10.5, 'sigma': 0.5}
PAPER_SIGMA = 0.0875


def plain_cells(counts, volume_per_atom: float, seed: int):
    from ase import Atoms

    rng = np.random.default_rng(seed)
    cells = []
    for n in counts:
        a = (n * volume_per_atom) ** (1 / 3)
        cells.append(Atoms(f'Si{n}', scaled_positions=rng.random((n, 3)), cell=[a, a, a], pbc=True))
    return cells


def cell_statistics(cells, r_cut: float, padded: float) -> dict:
    from matscipy.neighbours import neighbour_list

    heights = [min(c.cell.volume / np.linalg.norm(np.cross(c.cell[(i + 1) % 3], c.cell[(i + 2) % 3])) for i in range(3))
               for c in cells]  # fmt: skip
    return {
        'atoms_per_cell': round(float(np.mean([len(c) for c in cells])), 2),
        'volume_per_atom': round(float(np.mean([c.get_volume() / len(c) for c in cells])), 2),
        'neighbours_within_r_cut': round(
            float(np.mean([len(neighbour_list('i', c, r_cut)) / len(c) for c in cells])), 1
        ),
        'neighbours_within_padded_cutoff': round(
            float(np.mean([len(neighbour_list('i', c, padded)) / len(c) for c in cells])), 1
        ),
        'smallest_height_mean': round(float(np.mean(heights)), 2),
        'smallest_height_min': round(float(np.min(heights)), 2),
    }


def time_interleaved(methods: dict, cells, block: int) -> dict:
    """CPU ms per cell of each ``method(cells_block)``, the methods taking turns block by block."""
    spent = dict.fromkeys(methods, 0.0)
    for start in range(0, len(cells), block):
        part = cells[start : start + block]
        for name, method in methods.items():
            begin = time.process_time()
            method(part)
            spent[name] += time.process_time() - begin
    return {name: round(1e3 * seconds / len(cells), 2) for name, seconds in spent.items()}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def featomic_rows(cells, calculator, n_max: int, l_max: int) -> np.ndarray:
    """Mean over atoms of featomic's expansion, then the power spectrum (n <= n', per l), one species."""
    tensor = calculator.compute(cells)
    n = len(cells)
    spectrum = np.zeros((n, l_max + 1, n_max, n_max))
    for key, block in tensor.items():
        ell = int(key['o3_lambda'])
        system = block.samples.column('system')
        values = np.asarray(block.values)  # (samples, 2l+1, n)
        mean = np.zeros((n, *values.shape[1:]))
        np.add.at(mean, system, values)
        mean /= np.bincount(system, minlength=n)[:, None, None]
        spectrum[:, ell] += np.einsum('smn,smk->snk', mean, mean)
    iu = np.triu_indices(n_max)
    weights = np.where(iu[0] == iu[1], 1.0, np.sqrt(2.0))
    return (spectrum[:, :, iu[0], iu[1]] * weights).reshape(n, -1)


def normalised(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1)[:, None]


def compare(reference: np.ndarray, other: np.ndarray, top: int) -> dict:
    from aiida_gaprss.rss.selection import kernel_cur

    k_ref = (reference @ reference.T) ** 4
    k_other = (other @ other.T) ** 4
    off = ~np.eye(len(reference), dtype=bool)
    picks_ref = set(kernel_cur(reference, top, stochastic=False).tolist())
    picks_other = set(kernel_cur(other, top, stochastic=False).tolist())
    return {
        'kernel_correlation': round(float(np.corrcoef(k_ref[off], k_other[off])[0, 1]), 4),
        f'top{top}_cur_overlap': len(picks_ref & picks_other),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=200, help='cells of the initial pool to time')
    parser.add_argument('--quippy-sample', type=int, default=40)
    parser.add_argument('--block', type=int, default=10)
    parser.add_argument('--top', type=int, default=30, help='CUR picks compared between backends')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--output', type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = RESULTS if args.n == 200 else RESULTS.with_name(f'soap_backends.n{args.n}.json')

    from dscribe import descriptors as dscribe_descriptors

    from aiida_gaprss.rss.generation import initial_pool
    from aiida_gaprss.rss.soap import _dscribe_pair_weights, averaged_soap
    from aiida_gaprss.rss.soap_gto import GtoSoap

    warnings.simplefilter('ignore')  # dscribe's sqrtm conditioning warning at n_max 12
    figures = {
        'benchmark': 'soap_backends',
        'clock': 'CPU time (process_time / RUSAGE_CHILDREN); methods interleaved block by block',
        'n_cells': args.n,
        'soap_parameters': SOAP,
        'load_average_start': [round(x, 2) for x in os.getloadavg()],
    }
    cells = initial_pool('Si', args.n, seed=args.seed, processes=1)
    # the pool is ordered narrow-even, narrow-odd, wide: interleave so that every block is a fair sample
    order = np.random.default_rng(args.seed).permutation(len(cells))
    cells = [cells[i] for i in order]
    plain = plain_cells([len(c) for c in cells], 20.0, args.seed)
    padded = SOAP['r_cut'] + SOAP['sigma'] * np.sqrt(-2 * np.log(1e-3))
    figures['padded_cutoff'] = round(float(padded), 3)
    figures['cells'] = {
        'pool': cell_statistics(cells, SOAP['r_cut'], padded),
        'plain_p1_20A3': cell_statistics(plain, SOAP['r_cut'], padded),
    }

    def dscribe(average='inner', **overrides):
        return dscribe_descriptors.SOAP(
            species=['Si'], periodic=True, average=average, rbf='gto', **{**SOAP, **overrides}
        )

    begin = time.process_time()
    inner = dscribe()
    construct = time.process_time() - begin
    outer = dscribe('outer')
    ours = GtoSoap(species=['Si'], **SOAP)
    begin = time.process_time()
    GtoSoap(species=['Si'], **SOAP)
    construct_numpy = time.process_time() - begin
    figures['construct_cpu_seconds'] = {'dscribe': round(construct, 3), 'numpy': round(construct_numpy, 3)}

    # 1. dscribe's own factors, and the numpy backend beside it
    from threadpoolctl import threadpool_limits

    def numpy_one_thread(part):
        with threadpool_limits(limits=1):
            ours.create(part)

    plain_of = {id(c): p for c, p in zip(cells, plain, strict=True)}
    methods = {
        'dscribe_list': lambda part: inner.create(part),
        'dscribe_per_cell_calls': lambda part: [inner.create(c) for c in part],
        'dscribe_outer': lambda part: outer.create(part),
        'dscribe_plain_cells': lambda part: inner.create([plain_of[id(c)] for c in part]),
        'ours_averaged_soap_dscribe': lambda part: averaged_soap(part, backend='dscribe', processes=1, **SOAP),
        'numpy': lambda part: ours.create(part),
        'numpy_blas_1_thread': numpy_one_thread,
        'numpy_plain_cells': lambda part: ours.create([plain_of[id(c)] for c in part]),
        'ours_averaged_soap_numpy': lambda part: averaged_soap(part, backend='numpy', processes=1, **SOAP),
    }
    try:
        from featomic import SphericalExpansion

        featomic = SphericalExpansion(
            cutoff={'radius': SOAP['r_cut'], 'smoothing': {'type': 'ShiftedCosine', 'width': 0.5}},
            density={'type': 'Gaussian', 'width': SOAP['sigma']},
            basis={
                'type': 'TensorProduct',
                'max_angular': SOAP['l_max'],
                'radial': {'type': 'Gto', 'max_radial': SOAP['n_max'] - 1},
            },
        )
        methods['featomic'] = lambda part: featomic_rows(part, featomic, SOAP['n_max'], SOAP['l_max'])
        import featomic as featomic_module

        figures['featomic_version'] = featomic_module.__version__
    except ImportError:
        featomic = None
        figures['featomic_version'] = None
    figures['cpu_ms_per_cell'] = time_interleaved(methods, cells, args.block)
    ms = figures['cpu_ms_per_cell']
    figures['ratios'] = {
        'dscribe_over_numpy': round(ms['dscribe_list'] / ms['numpy'], 2),
        'dscribe_pool_over_plain_cells': round(ms['dscribe_list'] / ms['dscribe_plain_cells'], 3),
        'dscribe_per_cell_calls_over_list': round(ms['dscribe_per_cell_calls'] / ms['dscribe_list'], 3),
        'dscribe_outer_over_inner': round(ms['dscribe_outer'] / ms['dscribe_list'], 3),
        'averaged_soap_dscribe_over_bare': round(ms['ours_averaged_soap_dscribe'] / ms['dscribe_list'], 3),
        'numpy_blas_default_over_1_thread': round(ms['numpy'] / ms['numpy_blas_1_thread'], 3),
        'averaged_soap_numpy_over_bare': round(ms['ours_averaged_soap_numpy'] / ms['numpy'], 3),
    }
    if featomic is not None:
        figures['ratios']['featomic_over_numpy'] = round(ms['featomic'] / ms['numpy'], 2)
        figures['ratios']['featomic_over_dscribe'] = round(ms['featomic'] / ms['dscribe_list'], 2)

    # 2. σ = 0.0875 Å (paper) beside 0.5 Å
    narrow_dscribe = dscribe(sigma=PAPER_SIGMA)
    narrow_numpy = GtoSoap(species=['Si'], **{**SOAP, 'sigma': PAPER_SIGMA})
    sigma_cells = cells[: max(args.block, args.n // 2)]
    figures['sigma_cpu_ms_per_cell'] = time_interleaved(
        {
            'numpy_0.5': lambda part: ours.create(part),
            f'numpy_{PAPER_SIGMA}': lambda part: narrow_numpy.create(part),
            'dscribe_0.5': lambda part: inner.create(part),
            f'dscribe_{PAPER_SIGMA}': lambda part: narrow_dscribe.create(part),
        },
        sigma_cells,
        args.block,
    )
    figures['sigma_cells'] = len(sigma_cells)

    # 3. two worker processes vs one (CPU of the workers, RUSAGE_CHILDREN)
    workers = {}
    for backend in ('numpy', 'dscribe'):
        for processes in (1, 2):
            before_self, before_children = time.process_time(), children_cpu()
            averaged_soap(cells, backend=backend, processes=processes, chunk_size=max(1, args.n // 8), **SOAP)
            cpu = time.process_time() - before_self + children_cpu() - before_children
            workers[f'{backend}_{processes}_process'] = round(1e3 * cpu / len(cells), 2)
    figures['averaged_soap_cpu_ms_per_cell'] = workers

    # 4. agreement
    rows_numpy = normalised(ours.create(cells) * _dscribe_pair_weights(12, 12, 1))
    rows_dscribe = normalised(np.asarray(inner.create(cells)) * _dscribe_pair_weights(12, 12, 1))
    figures['numpy_vs_dscribe_max_abs_difference'] = float(np.abs(rows_numpy - rows_dscribe).max())
    agreement = {}
    if featomic is not None:
        agreement['featomic_vs_numpy'] = compare(rows_numpy, normalised(methods['featomic'](cells)), args.top)
    from quippy.descriptors import Descriptor

    from aiida_gaprss.rss.soap import SoapParameters

    quippy = Descriptor(SoapParameters(species=['Si'], backend='quippy', **SOAP).quippy_string())
    sample = cells[: args.quippy_sample]
    begin = time.process_time()
    rows_quippy = np.asarray([np.asarray(quippy.calc(c)['data'])[0, :-1] for c in sample])
    figures['quippy_cpu_ms_per_cell'] = round(1e3 * (time.process_time() - begin) / len(sample), 2)
    begin = time.process_time()
    ours.create(sample)
    figures['numpy_cpu_ms_per_cell_quippy_sample'] = round(1e3 * (time.process_time() - begin) / len(sample), 2)
    figures['quippy_sample'] = len(sample)
    top = min(args.top, len(sample) // 2)
    agreement['quippy_vs_numpy_on_quippy_sample'] = compare(rows_numpy[: len(sample)], normalised(rows_quippy), top)
    narrow = normalised(narrow_numpy.create(cells) * _dscribe_pair_weights(12, 12, 1))
    agreement['numpy_sigma_0.0875_vs_0.5'] = compare(rows_numpy, narrow, args.top)
    figures['agreement'] = agreement

    figures['load_average_end'] = [round(x, 2) for x in os.getloadavg()]
    write_results('soap_backends', figures, path=args.output)
    return figures


if __name__ == '__main__':
    main()
