"""Benchmark ``label_cost``: seconds per QE label of the random cells the loop labels, per setting (issue 18, 24).

Random cells of ``--element`` (default Si) as the loop makes them
(:func:`aiida_gaprss.rss.generation.generate_random_cells`, narrow volumes, 1-8 symmetry operations) of several
sizes are labelled by single-rank pw.x SCFs (two side by side, as the protocols run them) at each setting: the
ReferenceWorkChain's own parameters (``_qe.pw_input``, protocol ``accurate`` as the base) with the cut-off, k
spacing (Å⁻¹ with 2π) and smearing of the setting. Recorded per label: atoms, irreducible k-points, wall seconds;
per setting: the median and total, and the energy change against the first (tightest) setting on the same cells
(eV/atom) — what a cheaper setting costs in accuracy on the data the GAP is fitted to.

Usage::

    python benchmarks/label_cost.py --natoms 4 6 8 10 12 --per-size 2 --settings 44:0.15:0.01 44:0.2:0.01 35:0.2:0.02
    python benchmarks/label_cost.py --element C --natoms 4 8 12 --per-size 1 --settings 45:0.2:0.01 --tag C

Ends by printing ONE JSON line, written to benchmarks/results/label_cost.json (``--tag T``: label_cost.T.json).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _qe import run_scfs  # noqa: E402
from _record import write_results  # noqa: E402
from qe_convergence import BASE_PROTOCOL, name_of, setting  # noqa: E402


def parse_setting(text: str) -> dict:
    """``ECUT:KSPACING:DEGAUSS`` (Ry, Å⁻¹ with 2π, Ry) -> a setting of :func:`qe_convergence.setting`."""
    try:
        ecut, kspacing, degauss = (float(value) for value in text.split(':'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected ECUT:KSPACING:DEGAUSS, got {text!r}') from None
    return setting(ecut, kspacing, degauss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--element', default='Si', help='element of the random cells')
    parser.add_argument('--natoms', type=int, nargs='+', default=[4, 6, 8, 10, 12])
    parser.add_argument('--per-size', type=int, default=2, help='cells of each size')
    parser.add_argument('--settings', type=parse_setting, nargs='+', required=True,
                        help='ECUT:KSPACING:DEGAUSS; the first is the reference of the accuracy column')  # fmt: skip
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--tag', default='')
    args = parser.parse_args()

    from aiida_gaprss.rss.generation import generate_random_cells

    cells = []
    for natoms in args.natoms:
        cells += generate_random_cells(args.per_size, args.element, seed=args.seed + natoms, natoms=(natoms, natoms))
    settings = {name_of(values): values for values in args.settings}
    load_start = os.getloadavg()
    start = time.perf_counter()
    done = run_scfs({(name, index): (atoms, values) for name, values in settings.items()
                     for index, atoms in enumerate(cells)}, BASE_PROTOCOL, args.workers)  # fmt: skip
    rows = {name: [done[(name, index)] for index in range(len(cells))] for name in settings}
    reference = next(iter(settings))
    summary = {}
    for name, results in rows.items():
        changes = [(row['energy_per_atom'] - ref['energy_per_atom']) for row, ref in
                   zip(results, rows[reference], strict=True)]  # fmt: skip
        walls = [row['wall_seconds'] for row in results]
        summary[name] = {
            'settings': settings[name],
            'median_seconds': statistics.median(walls),
            'total_seconds': round(sum(walls), 1),
            'seconds_per_atom': round(sum(walls) / sum(row['natoms'] for row in results), 2),
            'max_abs_energy_change': max(abs(value) for value in changes),
            'rms_energy_change': (sum(value**2 for value in changes) / len(changes)) ** 0.5,
            'labels': [
                {
                    key: row[key]
                    for key in (
                        'natoms',
                        'irreducible_kpoints',
                        'kpoints',
                        'wall_seconds',
                        'energy_per_atom',
                        'converged',
                    )
                }
                for row in results
            ],  # fmt: skip
        }
        row = summary[name]
        print(f'{name:22s} median {row["median_seconds"]:6.1f} s, total {row["total_seconds"]:7.1f} s, '
              f'{row["seconds_per_atom"]:5.2f} s/atom; vs {reference}: max |ΔE| '
              f'{row["max_abs_energy_change"] * 1000:.2f} meV/atom')  # fmt: skip
    figures = {
        'benchmark': 'label_cost',
        'element': args.element,
        'cells': {'natoms': args.natoms, 'per_size': args.per_size, 'seed': args.seed, 'volume_mode': 'narrow'},
        'reference_setting': reference,
        'settings': summary,
        'units': {'seconds': 'wall, one core per pw.x', 'energy': 'eV/atom'},
        'workers': args.workers,
        'benchmark_wall_seconds': round(time.perf_counter() - start, 1),
        'loadavg_start': load_start,
    }
    write_results('label_cost', figures, args.tag)


if __name__ == '__main__':
    main()
