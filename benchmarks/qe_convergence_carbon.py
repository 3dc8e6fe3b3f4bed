"""Benchmark ``qe_convergence_carbon``: are the QE reference settings converged for C GAP-RSS? (issue 25)

The carbon counterpart of :mod:`qe_convergence` (Si, issue 18), with its criterion: the energies of the validation
phases relative to diamond (E_phase/N − E_diamond/N, eV/atom) are computed with pw.x single points at fixed
geometries with the ReferenceWorkChain's own settings (:func:`_qe.pw_input`, protocol ``accurate`` as the base:
Debian's ``C.pbe-n-kjpaw_psl.0.1.UPF``, Marzari–Vanderbilt smearing, conv_thr per atom, ecutrho = 4 ecutwfc), and a
setting is *converged for the job* when no relative energy of the **validation phases** (diamond, graphite,
lonsdaleite) moves by more than 3 meV/atom on tightening.

Two scans instead of Si's full grid (2 cores shared with a production run): k spacings at 37 Ry (the
pseudopotential's suggested minimum; a first try at 30 Ry, below it, had SCFs oscillating after 10-25 iterations and
was stopped) against 0.15 Å⁻¹, and cut-offs at 0.4 Å⁻¹ against 60 Ry. The cut-off and k-point errors of a relative
energy add to first order, so every (cut-off, k) pair gets the estimate |Δ_cutoff| + |Δ_k| per phase (``pairs``) and
is converged when the largest is below 3 meV/atom.

Besides the validation phases, ``sc`` (simple cubic C, a = 1.75 Å, a metal like many random cells) shows what
metallic labels need; its changes are reported (``max_abs_change_all``) but do not decide the verdict.

The geometries are the literature structures of :mod:`aiida_gaprss.rss.phases` (graphite at the experimental
c = 6.711 Å) in the cell the QE validation relaxes (:func:`aiida_gaprss.rss.phases.cheapest_cell` at 0.2 1/Å).
Recorded per SCF: wall seconds on one core (nice 10, beside a production run on the same 2 cores: several times an
idle core's) and irreducible k-points.

Usage::

    python benchmarks/qe_convergence_carbon.py --workers 2

Every finished SCF is appended to ``benchmarks/results/qe_convergence.C.scf.jsonl`` and not run again.
Ends by printing ONE JSON line, written to benchmarks/results/qe_convergence.C.json.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _qe import pw_input, run_scfs  # noqa: E402
from _record import write_results  # noqa: E402
from ase import Atoms  # noqa: E402
from qe_convergence import CRITERION_EV, compare_with_reference, name_of, parse_settings  # noqa: E402

ELEMENT = 'C'
RESULTS = pathlib.Path(__file__).parent / 'results' / 'qe_convergence.C.json'
CHECKPOINT = RESULTS.with_suffix('.scf.jsonl')
#: The validation phases (they decide the verdict) and a metallic label-like cell (reported only).
PHASES = ('diamond', 'graphite', 'lonsdaleite')
EXTRA_CELLS = ('sc',)
GROUND = 'diamond'
CELL_SPACING = 0.2
BASE_PROTOCOL = 'accurate'
SC_LATTICE = 1.75
#: The two scans, each with its reference first: cut-offs at a fixed k spacing, k spacings at a fixed cut-off.
SCANS = {
    'cutoff': ['60:0.4:0.01', '37:0.4:0.01', '45:0.4:0.01'],
    'kpoints': ['37:0.15:0.01', '37:0.2:0.01', '37:0.25:0.01', '37:0.4:0.01'],
}  # fmt: skip


def structures(names) -> dict[str, Atoms]:
    """The fixed geometries: known phases in their cheapest cell and simple cubic C."""
    from aiida_gaprss.rss.phases import cheapest_cell

    cells = {}
    for name in names:
        if name == 'sc':
            cells[name] = Atoms(ELEMENT, cell=[SC_LATTICE] * 3, pbc=True)
        else:
            cells[name] = cheapest_cell(ELEMENT, name, CELL_SPACING)
    return cells


def run_scans(scans: dict[str, dict], names: list, workers: int) -> dict[str, dict]:
    """Single points of every structure at every setting of every scan (one pool of pw.x); scan -> table rows."""
    cells = structures(names)
    jobs = {(name, cell): (cells[cell], values) for settings in scans.values() for name, values in settings.items()
            for cell in names}  # fmt: skip
    done = run_scfs(jobs, BASE_PROTOCOL, workers, CHECKPOINT)
    tables = {}
    for scan, settings in scans.items():
        table = {}
        for name in settings:
            rows = {cell: done[(name, cell)] for cell in names}
            ground = rows[GROUND]['energy_per_atom']
            table[name] = {
                'settings': settings[name],
                'energy_per_atom': {cell: rows[cell]['energy_per_atom'] for cell in names},
                'relative_energy': {cell: rows[cell]['energy_per_atom'] - ground for cell in names},
                'wall_seconds': {cell: rows[cell]['wall_seconds'] for cell in names},
                'irreducible_kpoints': {cell: rows[cell]['irreducible_kpoints'] for cell in names},
                'natoms': {cell: rows[cell]['natoms'] for cell in names},
                'scf_converged': all(rows[cell]['converged'] for cell in names),
            }
        tables[scan] = table
    return tables


def combined(tables: dict, phases: list) -> dict:
    """Every (cut-off, k spacing) pair of the two scans: the estimated change against the tight corner.

    The cut-off error and the k-point error of a relative energy add (the basis and the Brillouin-zone sampling are
    independent to first order), so the estimate per phase is |Δ_cutoff| + |Δ_k|, and a pair is converged for the
    job when its largest estimate over the validation phases is below the criterion.
    """
    pairs = {}
    for cut in tables['cutoff'].values():
        for kpoints in tables['kpoints'].values():
            values = {'ecutwfc': cut['settings']['ecutwfc'], 'ecutrho': cut['settings']['ecutrho'],
                      'kpoints_spacing': kpoints['settings']['kpoints_spacing'],
                      'degauss': kpoints['settings']['degauss']}  # fmt: skip
            estimate = {phase: abs(cut['change_vs_reference'][phase]) + abs(kpoints['change_vs_reference'][phase])
                        for phase in phases}  # fmt: skip
            pairs[name_of(values)] = {'settings': values, 'estimated_change': estimate,
                                      'max_estimated_change': max(estimate.values()),
                                      'converged_for_job': max(estimate.values()) < CRITERION_EV}  # fmt: skip
    return pairs


def seconds_per_scf(tables: dict) -> dict:
    """Wall seconds of each single point of the k scan, per structure and k spacing (the cost of a label)."""
    rows = {}
    for name, row in tables['kpoints'].items():
        rows[name] = {cell: {'seconds': row['wall_seconds'][cell], 'irreducible_kpoints': row['irreducible_kpoints'][
            cell], 'natoms': row['natoms'][cell]} for cell in row['wall_seconds']}  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workers', type=int, default=2, help='one-core pw.x runs side by side')
    args = parser.parse_args()

    names = [*PHASES, *EXTRA_CELLS]
    load_start = os.getloadavg()
    start = time.perf_counter()
    scans = {scan: parse_settings(texts) for scan, texts in SCANS.items()}
    tables = run_scans(scans, names, args.workers)
    for table in tables.values():
        compare_with_reference(table, next(iter(table)), list(PHASES), names)
    pairs = combined(tables, list(PHASES))
    figures = {
        'benchmark': 'qe_convergence_carbon',
        'element': ELEMENT,
        'pseudopotential': pw_input(Atoms(ELEMENT, cell=[5, 5, 5], pbc=True), BASE_PROTOCOL)[2][ELEMENT],
        'base_protocol': BASE_PROTOCOL,
        'geometry': f'fixed: literature structures, rss.phases.cheapest_cell at {CELL_SPACING} 1/Å; sc a = '
        f'{SC_LATTICE} Å',
        'criterion_ev_per_atom': CRITERION_EV,
        'ground_state': GROUND,
        'phases': list(PHASES),
        'label_like_cells': list(EXTRA_CELLS),
        'scans': {scan: {'reference_setting': next(iter(table)), 'settings': table} for scan, table in tables.items()},
        'pairs': pairs,
        'converged_pairs': sorted(name for name, row in pairs.items() if row['converged_for_job']),
        'seconds_per_scf': seconds_per_scf(tables),
        'units': {
            'energy': 'eV/atom',
            'cutoff': 'Ry',
            'kpoints_spacing': '1/Å with 2π',
            'degauss': 'Ry',
            'wall_seconds': 'one core per pw.x, nice 10, beside a 2-core production run',
        },  # fmt: skip
        'workers': args.workers,
        'loadavg_start': load_start,
        'loadavg_end': os.getloadavg(),
        'wall_seconds': round(time.perf_counter() - start, 1),
    }
    write_results('qe_convergence', figures, tag='C')


if __name__ == '__main__':
    main()
