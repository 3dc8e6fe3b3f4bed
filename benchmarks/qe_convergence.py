"""Benchmark ``qe_convergence``: are the QE reference settings converged for GAP-RSS of an element? (issues 18, 25)

The energies of the validation phases relative to the ground state (Si: diamond, Ti: hcp; E_phase/N − E_ground/N,
eV/atom) are computed with pw.x
single points for a grid of plane-wave cut-offs and k-point spacings, at fixed geometries (the literature structures
of :mod:`aiida_gaprss.rss.phases`, in the cell the QE validation relaxes:
:func:`aiida_gaprss.rss.phases.cheapest_cell`), with the ReferenceWorkChain's own settings (:func:`_qe.pw_input`,
protocol ``accurate`` as the base: the embedded PBE family's pseudopotential, Debian's
``Si.pbe-nl-rrkjus_psl.1.0.0.UPF`` or the Ti generated with ld1.x, Marzari–Vanderbilt smearing, conv_thr per atom).
Every setting is compared with the tightest one (Si ``reference``: 60 Ry / 240 Ry, k spacing 0.10 Å⁻¹ with 2π; Ti:
60 Ry / 660 Ry, 0.2 Å⁻¹); a setting is *converged for the job* when no relative energy moves by more than 3
meV/atom on tightening to the reference (the issue's criterion).

Also recorded per SCF: the wall time on one core and the irreducible k-points (what a label costs).

Usage::

    python benchmarks/qe_convergence.py                 # the whole grid, two pw.x side by side (about 30-60 min)
    python benchmarks/qe_convergence.py --phases diamond beta_sn --quick   # a smoke run
    python benchmarks/qe_convergence.py --extra 35:0.25:0.02 40:0.2:0.02  # more settings, same reference
    python benchmarks/qe_convergence.py --grid 60:0.1:0.01 40:0.2:0.01 --phases diamond sh  # first = reference
    python benchmarks/qe_convergence.py --element Ti        # Ti hcp, bcc, fcc, omega on a small grid
    python benchmarks/qe_convergence.py --element Ti --extra 52:0.15:0.01:575  # ECUTRHO 4th

A setting is ``ECUT:KSPACING:DEGAUSS[:ECUTRHO]`` (Ry, 1/Å with 2π, Ry, Ry); without ECUTRHO it is the element's
dual times ECUT (Si 4, as its pseudopotential's 44/175; Ti 11, as the generated PAW's 52/575).

Every finished SCF is appended to ``benchmarks/results/qe_convergence.scf.jsonl`` (Ti: ``qe_convergence.Ti.scf.jsonl``)
and not run again by a later call with the same structure and settings (the grid takes hours on two cores).

Ends by printing ONE JSON line, written to benchmarks/results/qe_convergence.json (Si) or
qe_convergence.<element>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _qe import pw_input, run_scfs  # noqa: E402
from _record import provenance  # noqa: E402
from ase import Atoms  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / 'results' / 'qe_convergence.json'
#: Every finished SCF, appended as it ends (the grid takes hours; an interrupted run goes on from here).
CHECKPOINT = RESULTS.with_suffix('.scf.jsonl')
PHASES = ('diamond', 'lonsdaleite', 'beta_sn', 'imma', 'sh', 'bc8', 'st12', 'oS24')
CRITERION_EV = 0.003
GROUND = 'diamond'
#: Per element: its phases (the first is the ground state the energies are relative to), ecutrho / ecutwfc when a
#: setting does not give it, and the default grid (the first setting is the reference).
ELEMENTS = {
    'Si': {'phases': PHASES, 'dual': 4.0},
    'Ti': {
        'phases': ('hcp', 'bcc', 'fcc', 'omega'),
        'dual': 11.0,
        'grid': ('60:0.2:0.01:660', '52:0.2:0.01:575', '40:0.25:0.02:440', '40:0.25:0.02:320'),
    },
}


def results_path(element: str) -> pathlib.Path:
    """The results file of ``element`` (Si keeps the historical ``qe_convergence.json``)."""
    return RESULTS if element == 'Si' else RESULTS.with_name(f'qe_convergence.{element}.json')


#: The cell of each phase is the one the QE validation relaxes (:func:`aiida_gaprss.rss.phases.cheapest_cell`), chosen
#: once at this spacing so that every setting computes the same cells.
CELL_SPACING = 0.2
BASE_PROTOCOL = 'accurate'


def setting(ecutwfc: float, kspacing: float, degauss: float = 0.01, ecutrho: float | None = None) -> dict:
    """One point of the grid: cut-offs (Ry; ecutrho 4 ecutwfc unless given, as Si's pseudopotential's 44/175)."""
    ecutrho = 4.0 * ecutwfc if ecutrho is None else ecutrho
    return {'ecutwfc': ecutwfc, 'ecutrho': ecutrho, 'kpoints_spacing': kspacing, 'degauss': degauss}


def name_of(values: dict) -> str:
    """``40Ry_k0.2_dg0.01`` (ecutrho 4 ecutwfc), else ``45Ry_rho360_k0.2_dg0.01``."""
    rho = '' if values['ecutrho'] == 4.0 * values['ecutwfc'] else f'_rho{values["ecutrho"]:g}'
    return f'{values["ecutwfc"]:g}Ry{rho}_k{values["kpoints_spacing"]:g}_dg{values["degauss"]:g}'


def grid(quick: bool) -> dict[str, dict]:
    """The settings: the reference, a cut-off scan at k 0.15, a k scan at 44 Ry, and the protocols' candidates."""
    points = [setting(60.0, 0.1)]
    if quick:
        points += [setting(30.0, 0.3, 0.02), setting(44.0, 0.25)]
    else:
        points += [setting(ecut, 0.15) for ecut in (30.0, 35.0, 40.0, 44.0, 52.0, 60.0)]
        points += [setting(44.0, k) for k in (0.35, 0.3, 0.25, 0.2, 0.1)]
        points += [setting(30.0, 0.3, 0.02), setting(30.0, 0.25), setting(35.0, 0.25), setting(35.0, 0.2),
                   setting(40.0, 0.25), setting(44.0, 0.25, 0.02), setting(40.0, 0.2)]  # fmt: skip
    return {name_of(point): point for point in points}


def parse_settings(texts: list[str], dual: float = 4.0) -> dict[str, dict]:
    """``ECUT:KSPACING:DEGAUSS[:ECUTRHO]`` strings (Ry, 1/Å with 2π, Ry, Ry) as settings, in order; without ECUTRHO
    it is ``dual`` ECUT."""
    settings = {}
    for text in texts:
        fields = [float(value) for value in text.split(':')]
        if len(fields) not in (3, 4):
            raise ValueError(f'field `setting`: expected ECUT:KSPACING:DEGAUSS[:ECUTRHO], got {text!r}')
        ecut, kspacing, degauss = fields[:3]
        values = setting(ecut, kspacing, degauss, fields[3] if len(fields) == 4 else dual * ecut)
        settings[name_of(values)] = values
    return settings


def run_settings(settings: dict, phases: list, workers: int, checkpoint=CHECKPOINT, element: str = 'Si') -> dict:
    """Single points of every phase at every setting (``workers`` one-core pw.x side by side); the table rows.

    Energies are relative to the first phase of ``phases`` (the ground state)."""
    from aiida_gaprss.rss.phases import cheapest_cell

    ground = phases[0]
    cells = {phase: cheapest_cell(element, phase, CELL_SPACING) for phase in phases}
    jobs = {(name, phase): (cells[phase], settings[name]) for name in settings for phase in phases}
    done = run_scfs(jobs, BASE_PROTOCOL, workers, checkpoint)
    missing = [key for key in jobs if key not in done]
    if missing:
        raise SystemExit(f'{len(missing)} SCFs failed ({missing}): run the command again (the rest is checkpointed)')
    results: dict[str, dict] = {name: {phase: done[(name, phase)] for phase in phases} for name in settings}
    table = {}
    for name, rows in results.items():
        table[name] = {
            'settings': settings[name],
            'energy_per_atom': {phase: rows[phase]['energy_per_atom'] for phase in phases},
            'relative_energy': {
                phase: rows[phase]['energy_per_atom'] - rows[ground]['energy_per_atom'] for phase in phases
            },  # fmt: skip
            'wall_seconds': {phase: rows[phase]['wall_seconds'] for phase in phases},
            'irreducible_kpoints': {phase: rows[phase]['irreducible_kpoints'] for phase in phases},
            'scf_converged': all(rows[phase]['converged'] for phase in phases),
        }
    return table


def compare_with_reference(table: dict, reference_name: str, phases: list, cells: list | None = None) -> None:
    """Add each setting's change against the reference setting (eV/atom) and the verdict; print the table.

    The verdict (``converged_for_job``) is over ``phases``; ``cells`` (default: ``phases``) are the columns shown and
    recorded, e.g. with cells outside the criterion, whose largest change goes to ``max_abs_change_all``.
    """
    cells = list(phases) if cells is None else list(cells)
    reference = table[reference_name]['relative_energy']
    print(f'\nrelative energies (meV/atom above {phases[0]}) and their change against {reference_name}')
    print(f'{"setting":24s} ' + ' '.join(f'{cell:>14s}' for cell in cells) + '   max|Δ|  seconds')
    for name, row in table.items():
        deltas = {cell: row['relative_energy'][cell] - reference[cell] for cell in cells}
        row['change_vs_reference'] = deltas
        row['max_abs_change'] = max(abs(deltas[phase]) for phase in phases)
        if cells != list(phases):
            row['max_abs_change_all'] = max(abs(value) for value in deltas.values())
        row['converged_for_job'] = row['max_abs_change'] < CRITERION_EV
        shown = ' '.join(f'{row["relative_energy"][c] * 1000:7.1f}({deltas[c] * 1000:+5.1f})' for c in cells)
        print(f'{name:24s} {shown}   {row["max_abs_change"] * 1000:5.2f}  {sum(row["wall_seconds"].values()):7.1f}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--element', default='Si', choices=sorted(ELEMENTS))
    parser.add_argument('--phases', nargs='+', default=None, help='default: every phase of the element')
    parser.add_argument('--quick', action='store_true', help='three settings only (a smoke run)')
    parser.add_argument(
        '--extra',
        nargs='+',
        default=None,
        metavar='ECUT:KSPACING:DEGAUSS[:ECUTRHO]',
        help='run only these settings and add them to the existing results file (same reference)',
    )
    parser.add_argument(
        '--grid',
        nargs='+',
        default=None,
        metavar='ECUT:KSPACING:DEGAUSS[:ECUTRHO]',
        help='these settings instead of the default grid; the first is the reference',
    )
    parser.add_argument('--workers', type=int, default=2, help='one-core pw.x runs side by side')
    args = parser.parse_args()

    element, spec = args.element, ELEMENTS[args.element]
    phases = list(args.phases or spec['phases'])
    unknown = sorted(set(phases) - set(spec['phases']))
    if unknown:
        parser.error(f'--phases: {unknown} are not phases of {element} (known: {list(spec["phases"])})')
    if spec['phases'][0] not in phases:
        phases.insert(0, spec['phases'][0])  # energies are relative to the ground state
    phases.sort(key=list(spec['phases']).index)
    results = results_path(element)
    checkpoint = results.with_suffix('.scf.jsonl')
    target = results.with_suffix('.quick.json') if args.quick else results
    load_start = os.getloadavg()
    start = time.perf_counter()
    if args.extra:
        previous = json.loads(results.read_text())
        phases = previous['phases']
        extra = parse_settings(args.extra, spec['dual'])
        table = {**previous['settings'], **run_settings(extra, phases, args.workers, checkpoint, element)}
        reference_name = previous['reference_setting']
        runs = [*previous.get('runs', []), {'settings': sorted(extra)}]
    else:
        if args.grid:
            settings = parse_settings(args.grid, spec['dual'])
        elif 'grid' in spec:
            settings = parse_settings(list(spec['grid'])[: 3 if args.quick else None], spec['dual'])
        else:
            settings = grid(args.quick)
        reference_name = next(iter(settings))
        table = run_settings(settings, phases, args.workers, checkpoint, element)
        runs = [{'settings': sorted(settings)}]
    compare_with_reference(table, reference_name, phases)

    runs[-1].update(provenance=provenance(), loadavg_start=load_start, workers=args.workers,
                    wall_seconds=round(time.perf_counter() - start, 1))  # fmt: skip
    figures = {
        'benchmark': 'qe_convergence',
        'element': element,
        'pseudopotential': pw_input(Atoms(element, cell=[5, 5, 5], pbc=True), BASE_PROTOCOL)[2][element],
        'base_protocol': BASE_PROTOCOL,
        'geometry': f'fixed: literature structures, rss.phases.cheapest_cell at {CELL_SPACING} 1/Å',
        'reference_setting': reference_name,
        'criterion_ev_per_atom': CRITERION_EV,
        'ground_state': phases[0],
        'phases': phases,
        'settings': table,
        'converged_settings': sorted(name for name, row in table.items() if row['converged_for_job']),
        'units': {
            'energy': 'eV/atom',
            'cutoff': 'Ry',
            'kpoints_spacing': '1/Å with 2π',
            'degauss': 'Ry',
            'wall_seconds': 'one core per pw.x',
        },  # fmt: skip
        'runs': runs,
        'quick': args.quick,
        'provenance': provenance(),
    }
    results.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(figures) + '\n')
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
