"""Benchmark ``pseudo_lattice``: the lattice constants of the generated PBE Ti against all-electron PBE (issue 25).

The Ti of the embedded family is generated on the machine with ld1.x (:mod:`aiida_gaprss.pseudo_generation`), so it
is validated here the way pseudopotential libraries are: E(V) of fcc and of hcp (at the c/a of the delta test's
WIEN2k structure, 1.5841) by pw.x single points at five volumes (±6 %), fitted with Birch–Murnaghan
(:func:`aiida_gaprss.rss.eos.fit_birch_murnaghan`), compared with all-electron PBE:

* hcp: WIEN2k 13.1, V0 = 17.390 Å³/atom, B0 = 112.2 GPa (the delta test, Lejaeghere et al., Science 351, aad3000
  (2016), its ``WIEN2k.txt``; structure a = 2.9366, c = 4.6519 Å);
* fcc: V0 = 17.3946 Å³/atom (a = 4.1114 Å), the all-electron reference of the ACWF verification (Bosoni et al.,
  Nat. Rev. Phys. 6, 45 (2024), ``Ti-X/FCC``).

Experiment (α-Ti, ambient): a = 2.9506 Å, c/a = 1.587 (:mod:`aiida_gaprss.rss.phases`).

Usage::

    python benchmarks/pseudo_lattice.py                      # Ti, protocol accurate, two pw.x side by side

Every SCF is checkpointed in ``benchmarks/results/pseudo_lattice.Ti.scf.jsonl``. Ends by printing ONE JSON line,
written to ``benchmarks/results/pseudo_lattice.Ti.json``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import numpy as np  # noqa: E402
from _qe import pw_input, run_scfs  # noqa: E402
from _record import write_results  # noqa: E402
from ase.build import bulk  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / 'results'
#: Volume factors of the scan (5 points, ±6 %).
FACTORS = tuple(np.round(np.linspace(0.94, 1.06, 5), 4))
#: Per element and phase: the structure at the reference volume, the reference V0 (Å³/atom) and where it comes from.
REFERENCES = {
    'Ti': {
        'fcc': {
            'v0': 17.3946,
            'source': 'ACWF all-electron PBE (Bosoni et al., Nat. Rev. Phys. 6, 45 (2024)), Ti-X/FCC',
        },
        'hcp': {
            'v0': 17.390,
            'b0': 112.213,
            'c_over_a': 4.651928 / 2.936639,
            'source': 'WIEN2k PBE, delta test (Lejaeghere et al., Science 351, aad3000 (2016)), WIEN2k.txt',
        },
    },
}
EXPERIMENT = {'Ti': {'hcp': {'a': 2.9506, 'c_over_a': 4.6835 / 2.9506, 'source': 'alpha-Ti, ambient (rss.phases)'}}}


def structure(element: str, phase: str, volume: float):
    """``phase`` of ``element`` at ``volume`` Å³/atom (hcp at the reference c/a)."""
    if phase == 'fcc':
        return bulk(element, 'fcc', a=(4.0 * volume) ** (1.0 / 3.0))
    if phase == 'hcp':
        ratio = REFERENCES[element]['hcp']['c_over_a']
        a = (4.0 * volume / (np.sqrt(3.0) * ratio)) ** (1.0 / 3.0)
        return bulk(element, 'hcp', a=a, c=ratio * a)
    raise ValueError(f'field `phase`: expected fcc or hcp, got {phase!r}')


def lattice_constant(phase: str, volume: float, c_over_a: float | None = None) -> float:
    """The conventional a (Å) of ``phase`` at ``volume`` Å³/atom."""
    if phase == 'fcc':
        return (4.0 * volume) ** (1.0 / 3.0)
    return (4.0 * volume / (np.sqrt(3.0) * c_over_a)) ** (1.0 / 3.0)


def generation_checks(element: str) -> dict:
    """ld1.x's checks of the generated pseudopotential of ``element`` (from its cached output), and the file's MD5."""
    import hashlib

    from aiida_gaprss.pseudo_generation import INPUTS, check_generation
    from aiida_gaprss.pseudos import pseudo_path

    path = pseudo_path(element)
    output = (path.parent / f'{path.name}.ld1.out').read_text()
    checks = check_generation(output, path.read_text(), element, INPUTS[path.name]['functional'])
    return {**checks, 'file': path.name, 'md5': hashlib.md5(path.read_bytes()).hexdigest()}


def main() -> None:
    from aiida_gaprss.rss.eos import fit_birch_murnaghan
    from aiida_gaprss.workflows.reference.protocols import (
        load_protocol,
        qe_cutoffs,
        qe_plugin_inputs,
        settings_for_species,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--element', default='Ti', choices=sorted(REFERENCES))
    parser.add_argument('--protocol', default='accurate')
    parser.add_argument('--workers', type=int, default=2, help='one-core pw.x runs side by side')
    args = parser.parse_args()

    element = args.element
    protocol = load_protocol('qe', args.protocol)
    values = qe_cutoffs(protocol, [element], protocol['pseudo_family'], always=True)
    values['kpoints_spacing'] = settings_for_species(protocol, [element], 'qe')['kpoints_spacing']
    values['degauss'] = qe_plugin_inputs(protocol)['pw']['parameters']['SYSTEM']['degauss']
    results_file = RESULTS / f'pseudo_lattice.{element}.json'
    checkpoint = results_file.with_suffix('.scf.jsonl')
    load_start = os.getloadavg()
    start = time.perf_counter()
    jobs = {}
    for phase, reference in REFERENCES[element].items():
        for factor in FACTORS:
            jobs[(phase, float(factor))] = (structure(element, phase, reference['v0'] * factor), values)
    done = run_scfs(jobs, args.protocol, args.workers, checkpoint)
    missing = [key for key in jobs if key not in done]
    if missing:
        raise SystemExit(f'{len(missing)} SCFs failed ({missing}): run the command again (the rest is checkpointed)')

    phases = {}
    for phase, reference in REFERENCES[element].items():
        rows = [done[(phase, float(factor))] for factor in FACTORS]
        fit = fit_birch_murnaghan([row['volume_per_atom'] for row in rows], [row['energy_per_atom'] for row in rows])
        ratio = reference.get('c_over_a')
        a = lattice_constant(phase, fit.v0, ratio)
        a_reference = lattice_constant(phase, reference['v0'], ratio)
        phases[phase] = {
            'eos': fit.as_dict(),
            'a': a,
            'c_over_a': ratio,
            'reference': reference,
            'reference_a': a_reference,
            'a_error_percent': 100.0 * (a - a_reference) / a_reference,
            'v0_error_percent': 100.0 * (fit.v0 - reference['v0']) / reference['v0'],
            'points': [
                {
                    k: row[k]
                    for k in ('volume_per_atom', 'energy_per_atom', 'irreducible_kpoints', 'wall_seconds', 'converged')
                }
                for row in rows
            ],  # fmt: skip
            'mean_wall_seconds': float(np.mean([row['wall_seconds'] for row in rows])),
        }
        error = phases[phase]['a_error_percent']
        print(f'{phase}: V0 {fit.v0:.3f} Å³/atom (reference {reference["v0"]:.3f}), a {a:.4f} Å (reference '
              f'{a_reference:.4f}, {error:+.2f} %), B0 {fit.b0:.1f} GPa', flush=True)  # fmt: skip

    figures = {
        'benchmark': 'pseudo_lattice',
        'generation': generation_checks(element),
        'element': element,
        'pseudopotential': pw_input(bulk(element, 'fcc', a=4.1), args.protocol)[2][element],
        'protocol': args.protocol,
        'settings': values,
        'volume_factors': list(FACTORS),
        'phases': phases,
        'experiment': EXPERIMENT.get(element, {}),
        'units': {'volume': 'Å³/atom', 'energy': 'eV/atom', 'a': 'Å', 'b0': 'GPa', 'wall_seconds': 'one core per pw.x'},
        'workers': args.workers,
        'loadavg_start': load_start,
        'wall_seconds': round(time.perf_counter() - start, 1),
    }
    write_results('pseudo_lattice', figures, tag=element)


if __name__ == '__main__':
    main()
