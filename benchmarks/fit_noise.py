"""Benchmark ``fit_noise``: how much of a GAP's known-phase error comes from the fit rather than from the data.

One finished ``gaprss.gap_fit`` job is refitted on its own training set with other ``gap_fit`` random seeds (they
pick the sparse points) and, optionally, other settings, and every refit is scored like ``si_learning_curve``
(``benchmarks/_scoring.py``: the validated phases relaxed at 0 GPa, E(V) of the ``eos.phases``, with the validation's
own parameters) against the reference side of a run, read from its ``si_learning_curve`` results file (``--reference``:
the ``reference`` and ``validation_parameters`` the benchmark read from the run's provenance). The spread over seeds
is the noise of the fit itself on a point of the learning curve; it is printed as a ratio to the learning-curve goal
(10 meV/atom). Baseline, measured in the same run: the job's own command line (its ``rnd_seed``), which must give the
errors the iteration was scored with.

Input: the job's repository, dumped with ``verdi node repo dump <GapFitCalculation pk> DIR`` (``train.xyz`` and
``_aiidasubmit.sh``). No profile is opened, so it runs beside a live daemon. The deltas stay those of the job (the
delta automation of GapFitWorkChain is redone only for an ``e0`` variant). Usage::

    verdi node repo dump 3198 /tmp/fit3
    python benchmarks/fit_noise.py /tmp/fit3 --reference benchmarks/results/si_learning_curve.fast400.json \
        --seeds 2 3 4 \
        --variant soap_n_sparse=500 --variant soap_nl=8 --variant e0=-133.902,dimer_energy_sigma=0.01

A variant is one or more comma-separated SETTING=VALUE: ``soap_n_sparse``, ``soap_nl`` (n_max = l_max of the SOAP),
``e0`` (eV per isolated atom instead of ``e0_method=average``; the delta automation is then redone: 2b-only fit ->
delta_3b, 2b+3b fit -> delta_SOAP, each the training energy RMSE per atom of the previous stage) and
``dimer_energy_sigma`` (eV/atom, the dimers' energy sigma in train.xyz). Variants of the training data (the hull
sigmas are recomputed by the fit's own rule on what is left; the δ stay the job's): ``drop_config_type`` (leave out
the structures of one config_type, e.g. ``rss_strained``), ``max_pressure`` (GPa: leave out relaxation frames and
strained copies of relaxations run above it), ``virial_sigma_factor`` (every structure's virial sigma times this) and
``no_virials=1`` (no virial enters the fit).

Ends by printing ONE JSON line, written to benchmarks/results/fit_noise.json (``--tag T``: fit_noise.T.json).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _record import provenance  # noqa: E402
from _scoring import PHASE_GOAL as GOAL_EV  # noqa: E402
from _scoring import compare, job_command, score_calculator  # noqa: E402

from aiida_gaprss.rss.gap_hyper import delta_from_error  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / 'results' / 'fit_noise.json'


def with_setting(argv: list[str], name: str, value: str) -> list[str]:
    """``argv`` with one change: ``seed``, ``soap_n_sparse``, ``soap_nl`` or ``e0``."""
    if name == 'seed':
        return [f'rnd_seed={value}' if word.startswith('rnd_seed=') else word for word in argv]
    if name == 'e0':
        return [word for word in argv if not word.startswith(('e0_method=', 'e0='))] + [f'e0={{Si:{float(value)}}}']
    if name not in ('soap_n_sparse', 'soap_nl'):
        raise ValueError(f'--variant: unknown setting {name!r} (soap_n_sparse, soap_nl, e0, dimer_energy_sigma)')
    parts = [part if not part.startswith('soap ') else _soap(part, name, int(value)) for part in _descriptors(argv)]
    return _with_descriptors(argv, parts)


def _soap(part: str, name: str, value: int) -> str:
    if name == 'soap_n_sparse':
        return re.sub(r'n_sparse=\d+', f'n_sparse={value}', part)
    return re.sub(r'n_max=\d+ l_max=\d+', f'n_max={value} l_max={value}', part)


def _descriptors(argv: list[str]) -> list[str]:
    word = next(word for word in argv if word.startswith('gap='))
    return word[len('gap={') : -1].split(' : ')


def _with_descriptors(argv: list[str], parts: list[str]) -> list[str]:
    return [('gap={' + ' : '.join(parts) + '}') if word.startswith('gap=') else word for word in argv]


def _with_delta(part: str, delta: float) -> str:
    return re.sub(r'delta=\S+', f'delta={delta}', part)


def _energy_rmse_per_atom(gap_file: pathlib.Path, train: pathlib.Path) -> float:
    """Training energy RMSE (eV/atom) of a fitted potential over every structure of ``train``: the number the
    GapFitCalculation's own error step (:func:`aiida_gaprss.jobs.gap_errors.training_errors`) reports."""
    from quippy.potential import Potential

    from aiida_gaprss.data.extxyz import read_frames
    from aiida_gaprss.jobs.gap_errors import training_errors

    with open(train, encoding='utf-8') as handle:
        return training_errors(read_frames(handle), Potential(param_filename=str(gap_file)))['energy_rmse']


DATA_SETTINGS = ('dimer_energy_sigma', 'drop_config_type', 'max_pressure', 'virial_sigma_factor', 'no_virials')


def _change_data(train: pathlib.Path, settings: dict) -> None:
    """Apply the data variants of ``settings`` to a training file (see the module docstring), sigmas recomputed."""
    from aiida_gaprss.data.extxyz import read_frames, write_frames
    from aiida_gaprss.rss.hull import SIGMA_TABLE, set_sigmas

    with open(train, encoding='utf-8') as handle:
        frames = list(read_frames(handle))
    if 'drop_config_type' in settings:
        frames = [atoms for atoms in frames if atoms.info.get('config_type') != settings['drop_config_type']]
    if 'max_pressure' in settings:
        limit = float(settings['max_pressure'])
        frames = [atoms for atoms in frames if float(atoms.info.get('pressure', 0.0)) <= limit]
    special = None
    if 'dimer_energy_sigma' in settings:
        loosest_force, loosest_virial = SIGMA_TABLE[1][2:]
        special = {'dimer': (float(settings['dimer_energy_sigma']), loosest_force, loosest_virial)}
    set_sigmas(frames, special_sigmas=special)
    for atoms in frames:
        if 'virial_sigma_factor' in settings and 'virial_sigma' in atoms.info:
            atoms.info['virial_sigma'] = atoms.info['virial_sigma'] * float(settings['virial_sigma_factor'])
        if settings.get('no_virials'):
            atoms.info.pop('virial', None)
    with open(train, 'w', encoding='utf-8') as handle:
        write_frames(handle, frames)


def _fit(argv: list[str], folder: str) -> float:
    start = time.perf_counter()
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    subprocess.run(argv, cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def refit_and_score(folder: pathlib.Path, argv: list[str], scoring: dict, settings: dict | None = None) -> dict:
    """Fit in a scratch copy of the job folder (``settings`` applied) and return the phase errors (eV/atom).

    ``scoring``: ``reference`` (the run's reference side), ``phases``, ``eos_phases`` and ``parameters`` (the
    validation's relax / eos settings).
    """
    from quippy.potential import Potential

    settings = dict(settings or {})
    with tempfile.TemporaryDirectory(prefix='fit-noise-') as tmp:
        train = pathlib.Path(tmp) / 'train.xyz'
        shutil.copy(folder / 'train.xyz', train)
        data = {key: settings.pop(key) for key in DATA_SETTINGS if key in settings}
        if data:
            _change_data(train, data)
        for name, value in settings.items():
            argv = with_setting(argv, name, value)
        gap_file = pathlib.Path(tmp) / next(word.split('=', 1)[1] for word in argv if word.startswith('gp_file='))
        seconds, deltas = 0.0, None
        if 'e0' in settings:  # the delta automation with the new zero: 2b -> delta_3b, 2b+3b -> delta_SOAP
            parts = _descriptors(argv)
            deltas = [float(re.search(r'delta=(\S+)', parts[0]).group(1))]
            for stage in (1, 2):
                seconds += _fit(_with_descriptors(argv, parts[:stage]), tmp)
                deltas.append(delta_from_error(_energy_rmse_per_atom(gap_file, train)))
                parts[stage] = _with_delta(parts[stage], deltas[-1])
            argv = _with_descriptors(argv, parts)
        seconds += _fit(argv, tmp)
        calculator = Potential(param_filename=str(gap_file))
        scored = score_calculator(calculator, scoring['phases'], scoring['eos_phases'], scoring['parameters'])
        rmse = _energy_rmse_per_atom(gap_file, train)
    comparison = compare(scored, scoring['reference'])
    return {**comparison, 'training_energy_rmse': rmse, 'deltas': deltas, 'fit_seconds': round(seconds, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('folder', type=pathlib.Path, help='verdi node repo dump of a GapFitCalculation')
    parser.add_argument('--reference', type=pathlib.Path, required=True,
                        help='a si_learning_curve results JSON of the same run (its reference side)')  # fmt: skip
    parser.add_argument('--seeds', type=int, nargs='+', default=[2, 3, 4], help='gap_fit rnd_seed values to refit')
    parser.add_argument('--variant', action='append', default=[], help='SETTING=VALUE[,SETTING=VALUE] (see above)')
    parser.add_argument('--note', default='')
    parser.add_argument('--tag', default='', help='write results/fit_noise.<tag>.json instead of fit_noise.json')
    args = parser.parse_args()

    curve = json.loads(args.reference.read_text())
    parameters = curve['validation_parameters']
    scoring = {'reference': curve['reference'], 'phases': curve['phases'], 'eos_phases': curve['eos_phases'],
               'parameters': parameters}  # fmt: skip
    PHASES = curve['phases']  # noqa: N806 - the run's validated phases
    argv = job_command(args.folder)
    job_seed = next((int(w.split('=')[1]) for w in argv if w.startswith('rnd_seed=')), None)
    n_structures = (args.folder / 'train.xyz').read_text().count('Lattice=')
    start = time.perf_counter()
    baseline = refit_and_score(args.folder, argv, scoring)
    seeds = [{'seed': seed, **refit_and_score(args.folder, with_setting(argv, 'seed', seed), scoring)}
             for seed in args.seeds if seed != job_seed]  # fmt: skip
    variants = []
    for text in args.variant:
        settings = dict(item.split('=', 1) for item in text.split(','))
        variants.append({'variant': text, **refit_and_score(args.folder, argv, scoring, settings)})

    errors_by_seed = [baseline['errors'], *(row['errors'] for row in seeds)]
    spread = {name: max(e[name] for e in errors_by_seed) - min(e[name] for e in errors_by_seed) for name in PHASES}
    print(f'{args.folder}: {n_structures} structures, job seed {job_seed}')
    print(f'{"fit":>40s} ' + ' '.join(f'{name:>9s}' for name in PHASES) + '  train RMSE (meV/atom)')
    rows = [(f'job (seed {job_seed})', baseline)] + [(f'seed {row["seed"]}', row) for row in seeds]
    rows += [(row['variant'], row) for row in variants]
    for label, row in rows:
        errors = ' '.join(f'{row["errors"][name] * 1000:9.1f}' for name in PHASES)
        print(f'{label:>40s} {errors} {row["training_energy_rmse"] * 1000:11.1f}')
    print(f'{"spread over seeds":>40s} ' + ' '.join(f'{spread[name] * 1000:9.1f}' for name in PHASES))
    figures = {
        'benchmark': 'fit_noise',
        'note': args.note,
        'input': str(args.folder),
        'n_structures': n_structures,
        'job_seed': job_seed,
        'baseline': baseline,
        'seeds': seeds,
        'variants': variants,
        'spread_over_seeds': spread,
        'spread_over_seeds_ratio_to_goal': {name: round(spread[name] / GOAL_EV, 2) for name in PHASES},
        'goal_ev_per_atom': GOAL_EV,
        'units': 'eV/atom',
        'reference_run': {key: curve.get(key) for key in ('run_pk', 'run_uuid')},
        'benchmark_wall_seconds': round(time.perf_counter() - start, 1),
        'provenance': provenance(),
    }
    path = RESULTS.with_name(f'fit_noise.{args.tag}.json') if args.tag else RESULTS
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(figures) + '\n')
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
