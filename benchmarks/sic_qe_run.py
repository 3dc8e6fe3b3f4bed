"""Benchmark ``sic_qe_run``: a Si–C GAP-RSS run on QE through the daemon, scored as issue 23's goal asks.

The run is ``GapRssWorkChain.get_builder_from_protocol(['Si', 'C'], engine='qe', protocol=P)`` (every composition of
Si and C, the embedded QE default) submitted to the daemon of a private embedded profile (``bench-sic``), or an
existing run taken with ``--resume PK``. Each iteration's validation (``validation_XX``: the system's phases relaxed
with that iteration's GAP and, once, with QE — the reference side is computed by the first validation and reused by
the later ones) gives one learning-curve point; nothing on the QE side is typed in. Per point:

* the formation energy of every SiC phase against the elements' ground states (eV/atom), GAP minus QE;
* ``ordered``: rock-salt SiC lies above every tetrahedral polytype (3C, 2H, 4H, 6H) for the GAP as it does for QE;
* 3C SiC's cubic lattice constant from each side's Birch–Murnaghan V0 (``a = (8 V0)^(1/3)``, V0 per atom).

Goal (issue 23): at the last point, ``ordered``, |3C formation-energy error| ≤ 30 meV/atom and |3C lattice-constant
error| ≤ 1 %.

Usage::

    python benchmarks/sic_qe_run.py --protocol fast --folder /work/runs/sic --keep-daemon   # submit, wait, score
    python benchmarks/sic_qe_run.py --protocol fast --folder /work/runs/sic --keep-daemon --submit-only
    python benchmarks/sic_qe_run.py --resume PK --folder /work/runs/sic [--no-wait]         # score (so far)

Ends by printing ONE JSON line, written to ``benchmarks/results/sic_qe_run.json`` (``--tag T``:
``sic_qe_run.T.json``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _profile import add_run_arguments, bench_profile  # noqa: E402
from _record import write_results  # noqa: E402

ELEMENTS = ['Si', 'C']
PROFILE = 'bench-sic'
TETRAHEDRAL = ('SiC_3C', 'SiC_2H', 'SiC_4H', 'SiC_6H')
#: Issue 23's goal at the last learning-curve point.
GOAL = {'max_abs_3c_formation_error': 0.030, 'max_abs_3c_lattice_error': 0.01}


def lattice_constant_3c(v0_per_atom: float) -> float:
    """Cubic lattice constant (Å) of 3C SiC (8 atoms in the cubic cell) from its volume per atom (Å³)."""
    return (8.0 * float(v0_per_atom)) ** (1.0 / 3.0)


def score_point(formation: dict, energy_volume: dict | None) -> dict:
    """One learning-curve point from a validation's ``formation_energies`` and ``energy_volume`` contents.

    Returns the formation energies of both sides and their errors (eV/atom), ``ordered`` (rock salt above every
    tetrahedral polytype on both sides; None without rock salt or a polytype), the 3C lattice constants (Å) and the
    relative error, and ``goal`` (each condition and ``all``; None where the data lack it).
    """
    sides = {}
    for side in ('potential', 'reference'):
        phases = (formation.get(side) or {}).get('phases') or {}
        sides[side] = {name: row['formation_energy'] for name, row in phases.items() if name.startswith('SiC_')}
    common = sorted(set(sides['potential']) & set(sides['reference']))
    errors = {name: sides['potential'][name] - sides['reference'][name] for name in common}

    def rocksalt_above(values):
        polytypes = [values[name] for name in TETRAHEDRAL if name in values]
        if 'SiC_rocksalt' not in values or not polytypes:
            return None
        return values['SiC_rocksalt'] > max(polytypes)

    above = {side: rocksalt_above(values) for side, values in sides.items()}
    ordered = None if None in above.values() else above['potential'] == above['reference']
    lattice = {}
    curve = ((energy_volume or {}).get('phases') or {}).get('SiC_3C') or {}
    for side in ('potential', 'reference'):
        fit = (curve.get(side) or {}).get('fit') or {}
        lattice[side] = lattice_constant_3c(fit['v0']) if fit.get('v0') else None
    lattice_error = (
        lattice['potential'] / lattice['reference'] - 1.0 if lattice['potential'] and lattice['reference'] else None
    )
    goal = {
        'ordered': ordered,
        'formation_3c': abs(errors['SiC_3C']) <= GOAL['max_abs_3c_formation_error'] if 'SiC_3C' in errors else None,
        'lattice_3c': abs(lattice_error) <= GOAL['max_abs_3c_lattice_error'] if lattice_error is not None else None,
    }
    goal['all'] = all(value is True for value in goal.values())
    return {
        'formation_energies': sides,
        'formation_errors': errors,
        'rocksalt_above_tetrahedral': above,
        'ordered': ordered,
        'lattice_constant_3c': lattice,
        'lattice_error_3c': lattice_error,
        'goal': goal,
    }


def run_points(node) -> list[dict]:
    """Per iteration: reference evaluations used, database size and the score of its validation (None if none)."""
    links = {link.link_label: link.node for link in node.base.links.get_outgoing().all()}
    curve = node.outputs.learning_curve.get_dict()['iterations'] if 'learning_curve' in node.outputs else []
    points = []
    for row in curve:
        k = row['iteration']
        validation = links.get(f'validation_{k:02d}')
        point = {key: row.get(key) for key in ('iteration', 'reference_evaluations', 'database_size')}
        point['validation'] = validation.pk if validation is not None else None
        if validation is not None and validation.is_finished_ok and 'formation_energies' in validation.outputs:
            energy_volume = (
                validation.outputs.energy_volume.get_dict() if 'energy_volume' in validation.outputs else None
            )
            point.update(score_point(validation.outputs.formation_energies.get_dict(), energy_volume))
        points.append(point)
    return points


def main() -> None:
    from si_learning_curve import submit_run, wait

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser, 'fast')
    parser.add_argument('--tag', default='')
    args = parser.parse_args()

    with bench_profile(PROFILE, profile=args.profile, folder=args.folder, keep=args.folder is not None,
                       stop=not args.keep_daemon):  # fmt: skip
        from aiida import orm

        if args.resume is not None:
            node = orm.load_node(args.resume)
        else:
            node = submit_run(args.protocol, json.loads(args.overrides), ELEMENTS)
            print(f'submitted GapRssWorkChain<{node.pk}> (Si-C, QE, {args.protocol})', flush=True)
            if args.submit_only:
                return
        if not args.no_wait:
            wait(node)
        points = run_points(node)
        run = {
            'pk': node.pk,
            'uuid': node.uuid,
            'state': node.process_state.value if node.process_state else None,
            'exit_status': node.exit_status,
            'protocol': node.base.extras.get('gaprss_protocol', None),
            'wall_seconds': (node.mtime - node.ctime).total_seconds() if node.is_terminated else None,
        }
    scored = [point for point in points if 'goal' in point]
    for point in scored:
        error = point['formation_errors'].get('SiC_3C')
        lattice = point['lattice_error_3c']
        print(f'iteration {point["iteration"]:2d} ({point["reference_evaluations"]} evaluations): 3C formation '
              f'{"n/a" if error is None else f"{1000 * error:+.1f} meV/atom"}, lattice '
              f'{"n/a" if lattice is None else f"{100 * lattice:+.2f} %"}, ordered {point["ordered"]}')  # fmt: skip
    figures = {
        'benchmark': 'sic_qe_run',
        'elements': ELEMENTS,
        'run': run,
        'goal': GOAL,
        'points': points,
        'goal_met_at_last_point': bool(scored) and scored[-1]['goal']['all'],
        'units': {'formation_energies': 'eV/atom', 'lattice_constant_3c': 'Å', 'lattice_error_3c': 'relative'},
    }
    write_results('sic_qe_run', figures, args.tag)


if __name__ == '__main__':
    main()
