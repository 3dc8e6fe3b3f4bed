"""Benchmark ``data_ablation``: which RSS data make a GAP's E(V) and dense phases right? (issue 18, no DFT)

The ``moderate`` GAP-RSS protocol is run through the daemon of a throwaway embedded profile with Stillinger–Weber
as the reference (the ASE engine: real labels, no DFT), once per variant of the data it generates, everything else
equal (seed, pool, sizes, fit, budget):

* ``paper`` — the paper's Eq. 5 pressures only (mean 0.2 GPa), the flat histogram on each frame's own enthalpy, no
  strained copies;
* ``pressures`` — half the relaxations at 0–20 GPa (``relax.pressure.uniform``) with the enthalpy above the hull at
  each frame's pressure (``selection.enthalpy = above_hull``), no strained copies;
* ``strained`` — the paper's pressures with ``selection.strained`` (12 of each later iteration's 60);
* ``moderate`` — both (the protocol as shipped).

Every iteration's GAP is validated by the run itself against SW (all Si phases relaxed at 0 GPa, E(V) ±8 % of
diamond and β-Sn, Birch–Murnaghan): read from each run's ``validation_XX`` outputs. Printed per variant and
iteration: the mean |phase error| (meV/atom) and the V0 / B0 deviations of diamond and β-Sn from SW's; ratios against
``paper`` at the last common point.

Usage::

    python benchmarks/data_ablation.py --budget 250 --variants paper moderate

Ends by printing ONE JSON line, written to benchmarks/results/data_ablation.json (``--tag T``: data_ablation.T.json).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _profile import bench_profile, is_terminated  # noqa: E402
from _record import write_results  # noqa: E402

PAPER_PRESSURE = {'p0': 1.0, 'beta': 0.2}
#: Overrides of each variant; the variants marked in PAPER_PRESSURE_VARIANTS also drop the uniform pressure range.
VARIANTS = {
    'paper': {'parameters': {'selection': {'enthalpy': 'own', 'strained': {'n': 0}}}},
    'pressures': {'parameters': {'selection': {'strained': {'n': 0}}}},
    'strained': {'parameters': {'selection': {'enthalpy': 'own'}}},
    'moderate': {},
}
PAPER_PRESSURE_VARIANTS = ('paper', 'strained')


def overrides(variant: str, budget: int, seed: int) -> dict:
    """The protocol overrides of one variant (without the pressure change, see :func:`submit`)."""
    from aiida_gaprss.common.merge import deep_merge

    base = {'budget': budget, 'parameters': {'seed': seed}}
    return deep_merge(base, VARIANTS[variant])


def submit(variant: str, budget: int, seed: int):
    from aiida import orm
    from aiida.engine import submit as submit_process

    from aiida_gaprss.workflows.rss import GapRssWorkChain

    codes = {'python': orm.load_code('gaprss-python@localhost'), 'gap_fit': orm.load_code('gap_fit@localhost')}
    builder = GapRssWorkChain.get_builder_from_protocol('Si', codes=codes, engine='ase', protocol='moderate',
                                                        overrides=overrides(variant, budget, seed))  # fmt: skip
    if variant in PAPER_PRESSURE_VARIANTS:  # overrides deep-merge: the protocol's uniform range is removed here
        parameters = builder.parameters.get_dict()
        parameters['relax']['pressure'] = dict(PAPER_PRESSURE)
        builder.parameters = type(builder.parameters)(parameters)
    node = submit_process(builder)
    node.base.extras.set('data_ablation_variant', variant)
    return node


def curve(node) -> list[dict]:
    """Per validated iteration: evaluations, mean |phase error|, V0 / B0 deviations of the E(V) phases (vs SW)."""
    evaluations, rows = 0, []
    links = {link.link_label: link.node for link in node.base.links.get_outgoing().all()}
    for label in sorted(links):
        if not label.startswith('iteration_'):
            continue
        child = links[label]
        if 'selected' in child.outputs:
            evaluations += len(child.outputs.selected)
        validation = links.get(label.replace('iteration', 'validation'))
        if validation is None or not validation.is_finished_ok or 'phase_errors' not in validation.outputs:
            continue
        errors = {name: row['error'] for name, row in validation.outputs.phase_errors['phases'].items()}
        eos = {}
        for name, pair in validation.outputs.energy_volume['phases'].items():
            potential, reference = (pair.get('potential') or {}).get('fit'), (pair.get('reference') or {}).get('fit')
            if potential and reference:
                eos[name] = {'v0': potential['v0'] / reference['v0'] - 1.0,
                             'b0': potential['b0'] / reference['b0'] - 1.0,
                             'gap_b0': potential['b0'], 'reference_b0': reference['b0']}  # fmt: skip
        rows.append({
            'iteration': int(label.split('_')[1]),
            'reference_evaluations': evaluations,
            'errors': errors,
            'mean_abs_error': sum(abs(value) for value in errors.values()) / len(errors),
            'eos': eos,
        })  # fmt: skip
    return rows


def _at(rows: list, evaluations: int) -> dict:
    """The last row at or below ``evaluations``."""
    return [row for row in rows if row['reference_evaluations'] <= evaluations][-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--budget', type=int, default=250)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--folder', default=None, help='keep the private AIIDA_PATH here')
    parser.add_argument('--tag', default='')
    args = parser.parse_args()

    start = time.perf_counter()
    load_start = os.getloadavg()
    with bench_profile('ablation', folder=args.folder, keep=args.folder is not None):
        nodes = {variant: submit(variant, args.budget, args.seed) for variant in args.variants}
        print('submitted ' + ', '.join(f'{variant} <{node.pk}>' for variant, node in nodes.items()), flush=True)
        while not all(is_terminated(node) for node in nodes.values()):
            time.sleep(30)
        curves = {variant: curve(node) for variant, node in nodes.items()}
        runs = {variant: {'pk': node.pk, 'uuid': node.uuid, 'exit_status': node.exit_status,
                          'wall_seconds': (node.mtime - node.ctime).total_seconds()}
                for variant, node in nodes.items()}  # fmt: skip

    print('\nvariant      evals  mean|phase err| meV/atom   diamond V0 %  B0 %    beta_sn V0 %  B0 %')
    for variant, rows in curves.items():
        for row in rows:
            eos = row['eos']
            cells = '   '.join(f'{eos[name]["v0"] * 100:+6.2f} {eos[name]["b0"] * 100:+6.1f}' if name in eos else
                               '     n/a     ' for name in ('diamond', 'beta_sn'))  # fmt: skip
            print(f'{variant:10s} {row["reference_evaluations"]:6d} {row["mean_abs_error"] * 1000:14.1f}   {cells}')
    common = min(rows[-1]['reference_evaluations'] for rows in curves.values()) if all(curves.values()) else None
    ratios = {}
    if common and 'paper' in curves:
        paper = _at(curves['paper'], common)
        for variant, rows in curves.items():
            row = _at(rows, common)
            ratios[variant] = {'mean_abs_error': row['mean_abs_error'] / paper['mean_abs_error']}
            for name in ('diamond', 'beta_sn'):
                if name in row['eos'] and name in paper['eos']:
                    ratios[variant][f'{name}_b0_deviation'] = abs(row['eos'][name]['b0']) / max(
                        abs(paper['eos'][name]['b0']), 1e-9)  # fmt: skip
        print(f'ratios to paper at {common} evaluations: {json.dumps(ratios)}')
    figures = {
        'benchmark': 'data_ablation',
        'reference': 'Stillinger-Weber (ASE engine)',
        'protocol': 'moderate',
        'budget': args.budget,
        'seed': args.seed,
        'variants': {variant: VARIANTS[variant] for variant in args.variants},
        'runs': runs,
        'curves': curves,
        'common_evaluations': common,
        'ratios_to_paper': ratios,
        'units': {'errors': 'eV/atom', 'v0, b0': 'relative deviation from SW'},
        'benchmark_wall_seconds': round(time.perf_counter() - start, 1),
        'loadavg_start': load_start,
    }
    write_results('data_ablation', figures, args.tag)


if __name__ == '__main__':
    main()
