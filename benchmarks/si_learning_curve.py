"""Benchmark ``si_learning_curve``: a GAP-RSS run on QE, its learning curve refitted over gap_fit seeds (issue 18).

Written for Si (issue 18) and taking any element with known phases (``--element C``, issue 25): the phases, the
E(V) phases and the validation settings are those of the run's own validation, relative energies refer to the
element's ground state (its first known phase: diamond for Si and C), and the files are named after the element
(``si_learning_curve*.json`` for Si as before, ``c_learning_curve*.json`` for C).

A GAP-RSS run, ``GapRssWorkChain.get_builder_from_protocol(ELEMENT, engine='qe', protocol=P, overrides=...)``, is
submitted to the daemon of an embedded profile (or an existing run is taken with ``--resume PK``). Everything on the
reference side is **read from the run's own provenance**: the QE vc-relaxed phases and their E(V) fits are the
``reference_results`` of the run's first validation (``validation_00``, PwRelaxWorkChains with the run's own QE
settings), so nothing is typed in and the QE numbers are exactly those the run compared against.

For every iteration, the run's own validation (``validation_XX``: the phases relaxed at 0 GPa with that iteration's
GAP, E(V) of ``eos.phases``) gives one learning-curve point. For the last ``--points`` iterations, the final
``gap_fit`` job of the iteration (the creator of its potential: ``train.xyz`` and the exact command line) is refitted
with each of ``--seeds`` (``rnd_seed``: the CUR sparse points) and every refit is scored exactly like the
validation job (:func:`aiida_gaprss.jobs.validate_potential.validate_phase` with the validation's own ``relax`` /
``eos`` parameters; ``benchmarks/_scoring.py``). The goal of issue 18, per point, over the refits:

1. every validated phase within 10 meV/atom of QE as the mean over seeds, no seed beyond 20 meV/atom; the energies
   relative to the ground state likewise;
2. V0 within 1 % and B0 within 10 % of QE's Birch–Murnaghan fit for the ``eos.phases`` (mean over seeds; whether
   every seed is inside is reported too);
3. settled: 1 and 2 hold at each of the last three points.

Usage::

    python benchmarks/si_learning_curve.py --protocol moderate --folder /work/runs/si --keep-daemon   # submit, wait
    python benchmarks/si_learning_curve.py --resume PK --folder /work/runs/si                          # score a run
    python benchmarks/si_learning_curve.py --resume PK --folder /work/runs/si --no-wait --points 2     # so far
    python benchmarks/si_learning_curve.py --element C --protocol moderate --folder /work/runs/c --keep-daemon
    python benchmarks/si_learning_curve.py --resume PK --folder /work/runs/si --complete-reference

A phase whose reference relaxation failed in the run's first validation (e.g. a pw.x killed with its machine) is
taken from a later validation's reference side when one has it; ``--complete-reference`` computes the phases still
missing with the run's own reference inputs (a ValidationWorkChain submitted to the profile's daemon, found again
through its extra ``gaprss_reference_supplement_of``); without them the goal cannot count as met.

Ends by printing ONE JSON line, written to ``benchmarks/results/si_learning_curve.json`` (``--tag T``:
``si_learning_curve.T.json``; ``--element C``: ``c_learning_curve.json``), with the plots ``…png`` (phase errors
over seeds) and ``….energy_volume.png`` (the final point's E(V): every seed solid, QE dashed), and the last point in
the schema of ``gaprss potentials export --evaluation`` as ``si_potential_evaluation.json`` (``c_…`` for C; the
shipped potential's model card).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import pathlib
import shutil
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _profile import add_run_arguments, bench_profile, is_terminated  # noqa: E402
from _record import provenance  # noqa: E402
from _scoring import (  # noqa: E402
    B0_GOAL,
    PHASE_GOAL,
    PHASE_SEED_LIMIT,
    V0_GOAL,
    compare,
    ground_state,
    over_seeds,
    refit,
    score_calculator,
    scratch,
)

RESULTS_DIR = pathlib.Path(__file__).parent / 'results'
DEFAULT_SEEDS = (11, 12, 13, 14, 15)
DEFAULT_ELEMENT = 'Si'
#: What the model card says a potential is for, and not for, per element (the evaluation JSON's lists); an element
#: not listed gets the card's general text (aiida_gaprss/potentials/card.py DEFAULT_INTENDED_USE, DEFAULT_NOT_FOR).
INTENDED_USE = {
    'Si': [
        'relative energies, volumes and E(V) of crystalline Si phases at 0-20 GPa: diamond, lonsdaleite, beta-Sn, '
        'Imma, simple hexagonal, bc8, st12, oS24 (the validated set)',
        'random structure searching and relaxations of bulk Si at pressures up to about 20 GPa',
        'a teacher for cheaper potentials (indirect learning) on the same kinds of structures',
    ],
}
NOT_FOR = {
    'Si': [
        'surfaces, clusters, point defects, amorphous or liquid Si: the training data are small periodic bulk cells',
        'pressures far beyond 20 GPa or strongly expanded cells (beyond about +12 % in volume)',
        'properties beyond the PBE functional of the reference '
        '(PBE: a = 5.47 Å for diamond Si against 5.431 Å measured)',
        'molecular dynamics at high temperature without checking: few thermally disordered structures were fitted',
    ],
}


def results_name(element: str, tag: str = '', kind: str = 'learning_curve') -> str:
    """A result file name: ``si_learning_curve.json``, ``c_learning_curve.T.json``, ``c_potential_evaluation.json``."""
    return f'{element.lower()}_{kind}{f".{tag}" if tag else ""}.json'


def profile_name(element: str) -> str:
    """Name of the private embedded profile of a run of ``element`` (``bench-si`` for Si, as the issue-18 run)."""
    return f'bench-{element.lower()}'


# -- the run -------------------------------------------------------------------------------------------------------
def submit_run(protocol: str, overrides: dict, element: str = DEFAULT_ELEMENT):
    """Submit the QE run of ``element`` with ``protocol`` and ``overrides`` to the daemon of the loaded profile."""
    from aiida import orm
    from aiida.engine import submit

    from aiida_gaprss.workflows.rss import GapRssWorkChain

    codes = {label: orm.load_code(f'{code}@localhost') for label, code in
             (('python', 'gaprss-python'), ('gap_fit', 'gap_fit'), ('pw', 'pw'))}  # fmt: skip
    builder = GapRssWorkChain.get_builder_from_protocol(element, codes=codes, engine='qe', protocol=protocol,
                                                        overrides=overrides)  # fmt: skip
    node = submit(builder)
    node.base.extras.set_many({'gaprss_protocol': protocol, 'gaprss_overrides': overrides})
    return node


def wait(node, poll: float = 60.0) -> None:
    from aiida_gaprss.provenance import run_status

    last = None
    start = time.time()
    while not is_terminated(node):
        time.sleep(poll)
        try:
            lines = [str(row.get('last_message', '')) for row in run_status(node)['iterations']]
        except Exception:  # noqa: BLE001 - progress display only
            lines = []
        if lines and lines[-1] != last:
            last = lines[-1]
            print(f'[{time.time() - start:6.0f} s] {last}', flush=True)


def _children(node, prefix: str) -> dict:
    return {link.link_label: link.node for link in node.base.links.get_outgoing().all()
            if link.link_label.startswith(prefix)}  # fmt: skip


def run_points(node) -> list[dict]:
    """One row per iteration with a potential: evaluations so far, sizes, the potential, its validation."""
    from aiida_gaprss.jobs.gap_errors import energy_rmse_of_cells

    offset = 0
    for link in node.base.links.get_incoming(link_label_filter='restart__reference_evaluations').all():
        offset = link.node.value
    validations = _children(node, 'validation_')
    rows, evaluations = [], offset
    for label, child in sorted(_children(node, 'iteration_').items()):
        if 'selected' in child.outputs:
            evaluations += len(child.outputs.selected)
        if 'potential' not in child.outputs:
            continue
        k = int(label.split('_')[1])
        metrics = child.outputs.fit_parameters.get_dict() if 'fit_parameters' in child.outputs else {}
        validation = validations.get(f'validation_{k:02d}')
        rows.append({
            'iteration': k,
            'reference_evaluations': evaluations,
            'database_size': len(child.outputs.database),
            'training_energy_rmse': metrics.get('energy_rmse'),
            'training_energy_rmse_cells': energy_rmse_of_cells(metrics.get('training_errors') or {}),
            'potential': child.outputs.potential,
            'validation': validation if validation is not None and validation.is_finished_ok else None,
        })  # fmt: skip
    return rows


#: Extra of a validation that completes a run's reference side (its value: the run's uuid), ``--complete-reference``.
SUPPLEMENT_EXTRA = 'gaprss_reference_supplement_of'


def _reference_inputs(validation) -> dict:
    """What fixes a validation's reference numbers: its ``reference`` input nodes and its ``relax`` settings."""
    inputs = {link.link_label: link.node.uuid for link in validation.base.links.get_incoming().all()
              if link.link_label.startswith('reference__')}  # fmt: skip
    parameters = validation.inputs.parameters.get_dict() if 'parameters' in validation.inputs else {}
    return {'inputs': inputs, 'relax': parameters.get('relax')}


def reference_validation(node):
    """The run's validation that computed the reference side (the first one given ``reference`` inputs)."""
    for _, child in sorted(_children(node, 'validation_').items()):
        if _reference_inputs(child)['inputs']:
            return child
    return None


def supplements(node) -> list:
    """Finished reference-only validations that complete ``node``'s reference side with the same reference inputs."""
    from aiida import orm

    source = reference_validation(node)
    query = orm.QueryBuilder().append(orm.WorkflowNode, filters={f'extras.{SUPPLEMENT_EXTRA}': node.uuid})
    found = query.all(flat=True)
    kept = []
    for child in sorted(found, key=lambda item: item.pk):
        if not (child.is_finished_ok and 'reference_results' in child.outputs):
            continue
        if source is None or _reference_inputs(child) != _reference_inputs(source):
            print(f'WARNING: validation <{child.pk}> is not a reference supplement of run <{node.pk}> with its own '
                  'reference inputs: ignored', flush=True)  # fmt: skip
            continue
        kept.append(child)
    return kept


def reference_side(node) -> tuple[dict, dict]:
    """The run's reference side and the validation job parameters.

    ``reference_results`` of the run's first validation (or the run's ``validation_reference``), completed with the
    phases of any later validation's reference side and of reference supplements (:func:`complete_reference`) that it
    lacks: a reference relaxation that failed (e.g. a pw.x killed with its machine) leaves its phase out of the first.
    """
    from aiida_gaprss.rss.validation import complete_reference_side

    if 'validation_reference' in node.outputs:
        reference = node.outputs.validation_reference.get_dict()
    else:
        reference = None
    for _, child in sorted(_children(node, 'validation_').items()):
        if 'reference_results' in child.outputs:
            content = child.outputs.reference_results.get_dict()
            reference = content if reference is None else complete_reference_side(reference, content)
    if reference is None:
        raise RuntimeError(f'run <{node.pk}> has no finished validation with a reference side yet')
    for child in supplements(node):
        reference = complete_reference_side(reference, child.outputs.reference_results.get_dict())
        reference.setdefault('supplements', []).append(child.uuid)
    for _, child in sorted(_children(node, 'validation_').items()):
        jobs = _children(child, 'potential')
        if 'potential' in jobs:
            return reference, jobs['potential'].inputs.parameters.get_dict()
    raise RuntimeError(f'run <{node.pk}>: no validation job found')


def complete_reference(node, missing: list, potential):
    """Submit (to the profile's daemon) and wait for a validation computing the reference side of ``missing`` phases.

    It is the restart builder of the run's reference validation — the same reference inputs (code, QE parameters,
    pseudopotentials, k-point spacing) and ``relax`` settings — for ``missing`` only and without E(V) curves; the
    run's uuid in its extra :data:`SUPPLEMENT_EXTRA` lets :func:`reference_side` find it.
    """
    from aiida import orm
    from aiida.engine import submit

    source = reference_validation(node)
    if source is None:
        raise RuntimeError(f'run <{node.pk}>: no validation computed a reference side to complete')
    builder = source.get_builder_restart()
    builder.phases = orm.List(list(missing))
    builder.potential = potential
    parameters = source.inputs.parameters.get_dict() if 'parameters' in source.inputs else {}
    builder.parameters = orm.Dict({**parameters, 'eos': None})
    builder.metadata.label = f'reference supplement of run {node.pk}: {", ".join(missing)}'
    child = submit(builder)
    child.base.extras.set(SUPPLEMENT_EXTRA, node.uuid)
    print(f'submitted ValidationWorkChain<{child.pk}> for the reference side of {missing}', flush=True)
    wait(child)
    if not child.is_finished_ok:
        raise RuntimeError(f'reference supplement <{child.pk}> failed: {child.exit_status} {child.exit_message}')
    return child


def own_validation(row: dict, reference: dict, ground: str | None = None) -> dict | None:
    """The comparison of the run's own validation of an iteration (its own seed), from provenance."""
    validation = row['validation']
    if validation is None or 'potential_results' not in validation.outputs:
        return None
    results = validation.outputs.potential_results.get_dict()
    scored = {'phases': results['phases'], 'energy_volume': results.get('energy_volume', {})}
    return compare(scored, reference, ground)


def dump_fit_job(potential, folder: pathlib.Path) -> pathlib.Path:
    """The repository of the gap_fit job that made ``potential`` (train.xyz, _aiidasubmit.sh) into ``folder``."""
    job = potential.creator
    if job is None or job.process_type is None or 'gap_fit' not in job.process_type:
        raise RuntimeError(f'potential <{potential.pk}> was not made by a gap_fit job')
    folder.mkdir(parents=True, exist_ok=True)
    job.base.repository.copy_tree(folder)
    if not (folder / 'train.xyz').is_file():
        raise RuntimeError(f'gap_fit job <{job.pk}> has no train.xyz in its repository')
    return folder


# -- refits (worker processes: no AiiDA) -----------------------------------------------------------------------------
def refit_and_score(task: tuple) -> dict:
    """Worker: refit one job with one seed, score it; the fit's cost with the errors."""
    job_folder, seed, workdir, phases, eos_phases, parameters, reference, ground = task
    from quippy.potential import Potential
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        fitted = refit(pathlib.Path(job_folder), seed, pathlib.Path(workdir))
        scored = score_calculator(Potential(param_filename=fitted['gap_xml']), phases, eos_phases, parameters)
    shutil.rmtree(workdir, ignore_errors=True)
    return {'seed': seed, 'fit_seconds': fitted['fit_seconds'], 'fit_peak_mb': fitted['fit_peak_mb'],
            'scored': scored, **compare(scored, reference, ground)}  # fmt: skip


def main() -> None:  # noqa: PLR0915 - one script, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--element', default=DEFAULT_ELEMENT, help='element (also to find a resumed run: profile bench-<element>)'
    )
    add_run_arguments(parser, 'moderate')
    parser.add_argument('--seeds', type=int, nargs='+', default=list(DEFAULT_SEEDS), help='gap_fit rnd_seed values')
    parser.add_argument('--points', type=int, default=3, help='last learning-curve points refitted over seeds')
    parser.add_argument('--workers', type=int, default=2, help='refits side by side')
    parser.add_argument('--tag', default='', help='write <element>_learning_curve.<tag>.json instead')
    parser.add_argument('--note', default='', help='free text stored in the JSON')
    parser.add_argument(
        '--complete-reference', action='store_true', help="compute the reference phases the run's validation lacks"
    )
    args = parser.parse_args()
    if len(args.seeds) < 5:
        parser.error('--seeds: the goal is judged over at least 5 gap_fit seeds')

    load_start = os.getloadavg()
    start = time.perf_counter()
    keep = args.folder is not None
    element = args.element
    with bench_profile(
        profile_name(element), profile=args.profile, folder=args.folder, keep=keep, stop=not args.keep_daemon
    ):
        from aiida import orm

        if args.resume is not None:
            node = orm.load_node(args.resume)
            element = node.inputs.element.value
        else:
            node = submit_run(args.protocol, json.loads(args.overrides), element)
            print(f'submitted GapRssWorkChain<{node.pk}> ({element}, QE, {args.protocol}, {args.overrides})',
                  flush=True)  # fmt: skip
            if args.submit_only:
                return
        if not args.no_wait:
            wait(node)
        rows = run_points(node)
        reference, parameters = reference_side(node)
        missing = [name for name in parameters['phases'] if name not in reference['phases']]
        if missing and args.complete_reference:
            complete_reference(node, missing, rows[-1]['potential'])
            reference, parameters = reference_side(node)
            missing = [name for name in parameters['phases'] if name not in reference['phases']]
        if missing:
            print(f'WARNING: no reference for {missing} (failed relaxations): the goal cannot be met without them; '
                  '--complete-reference computes them with the run\'s own reference inputs', flush=True)  # fmt: skip
        phases = list(parameters['phases'])
        eos_phases = list((parameters.get('eos') or {}).get('phases', phases))
        parameters.setdefault('element', element)
        ground = ground_state(element) if ground_state(element) in phases else phases[0]
        scored_rows = [row for row in rows if row['validation'] is not None] or rows
        chosen = scored_rows[-args.points :]
        work = scratch(f'gaprss-{element.lower()}-refits-')
        tasks = []
        for row in chosen:
            job_folder = dump_fit_job(row['potential'], work / f'job_{row["iteration"]:02d}')
            row['fit_job'] = row['potential'].creator.pk
            row['gap_fit_command'] = ' '.join(_scoring_command(job_folder))
            for seed in args.seeds:
                tasks.append((str(job_folder), seed, str(work / f'fit_{row["iteration"]:02d}_{seed}'), phases,
                              eos_phases, parameters, reference, ground))  # fmt: skip
        run_info = {
            'run_pk': node.pk,
            'run_uuid': node.uuid,
            'run_state': node.process_state.value if node.process_state else 'unknown',
            'run_exit_status': node.exit_status,
            'budget': node.inputs.budget.value,
            'protocol': node.base.extras.get('gaprss_protocol', None),
            'overrides': node.base.extras.get('gaprss_overrides', None),
            'run_wall_seconds': (node.mtime - node.ctime).total_seconds() if node.is_terminated else None,
        }
        own = {row['iteration']: own_validation(row, reference, ground) for row in rows}

    refits: dict[int, list] = {row['iteration']: [] for row in chosen}
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        futures = {pool.submit(refit_and_score, task): task for task in tasks}
        for future in concurrent.futures.as_completed(futures):
            task = futures[future]
            iteration = int(pathlib.Path(task[2]).name.split('_')[1])
            result = future.result()
            refits[iteration].append(result)
            worst = max(abs(value) for value in result['errors'].values()) * 1000
            print(f'iteration {iteration} seed {result["seed"]}: worst phase {worst:.1f} meV/atom, '
                  f'fit {result["fit_seconds"]:.0f} s {result["fit_peak_mb"]} MB', flush=True)  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)

    points = []
    for row in rows:
        point = {key: row[key] for key in ('iteration', 'reference_evaluations', 'database_size',
                                           'training_energy_rmse', 'training_energy_rmse_cells')}  # fmt: skip
        point['own_seed'] = own[row['iteration']]
        if row['iteration'] in refits:
            results = sorted(refits[row['iteration']], key=lambda item: item['seed'])
            point['fit_job'] = row['fit_job']
            point['gap_fit_command'] = row['gap_fit_command']
            point['seeds'] = [{key: item[key] for key in ('seed', 'errors', 'relative_errors', 'eos', 'fit_seconds',
                                                          'fit_peak_mb')} for item in results]  # fmt: skip
            point['energy_volume'] = {str(item['seed']): item['scored']['energy_volume'] for item in results}
            point['over_seeds'] = over_seeds(results, phases, eos_phases)
        points.append(point)
    scored = [point for point in points if 'over_seeds' in point]
    settled = len(scored) >= 3 and all(point['over_seeds']['goal']['all'] for point in scored[-3:])
    last = scored[-1] if scored else None

    _print_table(points, phases, eos_phases)
    results_path = RESULTS_DIR / results_name(element, args.tag)
    plot_path = results_path.with_suffix('.png')
    eos_plot_path = results_path.with_suffix('.energy_volume.png')
    if scored:
        _plots(scored, reference, phases, eos_phases, plot_path, eos_plot_path, {**run_info, 'element': element})
    figures = {
        'benchmark': 'si_learning_curve',
        'note': args.note,
        **run_info,
        'element': element,
        'ground_state': ground,
        'engine': 'qe',
        'goal': {
            'phases': f'|mean over seeds| < {PHASE_GOAL * 1000:g} meV/atom and every seed < '
            f'{PHASE_SEED_LIMIT * 1000:g} meV/atom, each phase at its own 0 GPa minimum; relative to {ground} likewise',
            'eos': 'V0 within 1 %, B0 within 10 % of the reference Birch-Murnaghan fit (mean over seeds)',
            'settled': 'both at each of the last three learning-curve points',
        },
        'phases': phases,
        'eos_phases': eos_phases,
        'seeds': list(args.seeds),
        'goal_met_settled': settled,
        'goal_at_last_point': last['over_seeds']['goal'] if last else None,
        'final_evaluations': last['reference_evaluations'] if last else None,
        'points': points,
        'reference': reference,
        'validation_parameters': parameters,
        'units': {'energy': 'eV/atom', 'volume': 'Å³/atom', 'b0': 'GPa', 'v0/b0 deviations': 'fraction'},
        'benchmark_wall_seconds': round(time.perf_counter() - start, 1),
        'loadavg_start': load_start,
        'provenance': provenance(),
        'plots': {'phase_errors': plot_path.name, 'energy_volume': eos_plot_path.name} if scored else {},
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    results_path.write_text(json.dumps(figures) + '\n')
    if last is not None:
        evaluation = evaluation_of(figures, last, scored, plot_path, eos_plot_path)
        evaluation_path = results_path.with_name(results_name(element, args.tag, 'potential_evaluation'))
        evaluation_path.write_text(json.dumps(evaluation, indent=1) + '\n')
    print(json.dumps(figures))


def evaluation_of(figures: dict, last: dict, scored: list, plot_path, eos_plot_path) -> dict:
    """The last point over seeds in the evaluation schema of ``gaprss potentials export --evaluation``."""
    seeds = [row['seed'] for row in last['seeds']]
    phases = {name: {'errors': [row['errors'][name] for row in last['seeds']],
                     'relative_errors': [row['relative_errors'][name] for row in last['seeds']]}
              for name in figures['phases']}  # fmt: skip
    eos = {}
    for name in figures['eos_phases']:
        rows = [row['eos'][name] for row in last['seeds'] if name in row['eos']]
        if rows:
            eos[name] = {'reference': {'v0': rows[0]['reference_v0'], 'b0': rows[0]['reference_b0']},
                         'potential': [{'v0': row['gap_v0'], 'b0': row['gap_b0']} for row in rows]}  # fmt: skip
    reference = {
        name: {'energy_per_atom': row['energy_per_atom']} for name, row in figures['reference']['phases'].items()
    }
    curve = [{'reference_evaluations': point['reference_evaluations'],
              'phases': {name: value['mean'] for name, value in point['over_seeds']['phases'].items()}}
             for point in scored]  # fmt: skip
    return {
        'seeds': seeds,
        'phases': phases,
        'eos': eos,
        'plots': {'learning_curve': plot_path.name, 'energy_volume': eos_plot_path.name},
        'reference': reference,
        'reference_source': (
            f"QE vc-relax at 0 GPa and fixed-volume relaxations with the run's own settings: the "
            f'reference side of validation_00 of run {figures["run_uuid"]} '
            '(benchmarks/si_learning_curve.py, read from provenance)'
        ),
        'reference_evaluations': last['reference_evaluations'],
        'learning_curve': curve,
        'goal': {
            'phase_error': PHASE_GOAL,
            'max_seed_error': PHASE_SEED_LIMIT,
            'relative_error': PHASE_GOAL,
            'v0_relative': V0_GOAL,
            'b0_relative': B0_GOAL,
        },
        'notes': (
            f'{len(seeds)} refits of the final database with other gap_fit seeds (rnd_seed), each scored like '
            "the run's validation; the shipped potential is the run's own fit."
        ),
        **uses_of(figures.get('element', DEFAULT_ELEMENT)),
    }


def uses_of(element: str) -> dict:
    """``intended_use`` and ``not_for`` of the evaluation JSON for ``element`` (none: the card's general text)."""
    uses = {'intended_use': INTENDED_USE.get(element), 'not_for': NOT_FOR.get(element)}
    return {key: list(value) for key, value in uses.items() if value}


def _scoring_command(job_folder: pathlib.Path) -> list[str]:
    from _scoring import job_command

    return job_command(job_folder)


def _print_table(points: list, phases: list, eos_phases: list) -> None:
    print("\nmeV/atom, GAP - QE at each phase's own minimum: own seed | mean [min, max] over refitted seeds")
    print('evals  ' + ' '.join(f'{name:>22s}' for name in phases))
    for point in points:
        own = point.get('own_seed') or {'errors': {}}
        cells = []
        for name in phases:
            text = f'{own["errors"][name] * 1000:6.1f}' if name in own['errors'] else '   n/a'
            summary = point.get('over_seeds', {}).get('phases', {}).get(name)
            if summary:
                text += f'|{summary["mean"] * 1000:5.1f}[{summary["min"] * 1000:.0f},{summary["max"] * 1000:.0f}]'
            cells.append(f'{text:>22s}')
        print(f'{point["reference_evaluations"]:5d}  ' + ' '.join(cells))
        if 'over_seeds' in point:
            eos = point['over_seeds']['eos']
            text = '; '.join(f'{name}: V0 {row["v0_mean"] * 100:+.2f} %, B0 {row["gap_b0_mean"]:.0f} vs '
                             f'{row["reference_b0"]:.0f} GPa ({row["b0_mean"] * 100:+.1f} %)'
                             for name, row in eos.items())  # fmt: skip
            print(f'       E(V) over seeds: {text}; goal {point["over_seeds"]["goal"]}')


def _plots(scored, reference, phases, eos_phases, plot_path, eos_plot_path, run_info) -> None:
    from aiida_gaprss.plots import plot_energy_volume_over_seeds, plot_phase_errors_over_seeds

    series = {name: [(point['reference_evaluations'], [row['errors'][name] for row in point['seeds']])
                     for point in scored] for name in phases}  # fmt: skip
    element = run_info.get('element', DEFAULT_ELEMENT)
    title = f'{element} GAP-RSS on QE, run {run_info["run_pk"]}: {len(scored[-1]["seeds"])} gap_fit seeds per point'
    plot_phase_errors_over_seeds(series, plot_path, goal=PHASE_GOAL, limit=PHASE_SEED_LIMIT, title=title)
    last = scored[-1]
    curves = {}
    for name in eos_phases:
        seeds = [(per_phase[name]['volumes'], per_phase[name]['energies'])
                 for _, per_phase in sorted(last['energy_volume'].items()) if name in per_phase]  # fmt: skip
        ref = reference['energy_volume'].get(name)
        curves[name] = {'seeds': seeds, 'reference': (ref['volumes'], ref['energies']) if ref else None}
    evaluations, seeds = last['reference_evaluations'], len(last['seeds'])
    title = f'{element} E(V) at {evaluations} evaluations: GAP, {seeds} seeds (solid); QE (dashed)'
    plot_energy_volume_over_seeds(curves, eos_plot_path, title=title)


if __name__ == '__main__':
    main()
