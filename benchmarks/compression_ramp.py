"""Benchmark ``compression_ramp``: does a validation preset's compression ramp reach 20 GPa, and what does it cost?

For each validation preset given (:data:`aiida_gaprss.calculations.student_validation.PRESETS`: its MD protocol with
its overrides, its similarity grid and pressure window), the teacher GAP runs the preset's compression MD
(:func:`aiida_gaprss.rss.md.compression_md`: NVT thermalisation at 500 K, then the constant-rate NPT ramp to
``p_max``) from the protocol's random start, or, with ``--start quenched``, from the preset's melt--quench relaxed at
0 GPa (what the validation job compresses). Recorded per preset:

* **pressure tracking**: target and instantaneous pressure (virial + kinetic) of every ramp snapshot; the *lag*
  (target minus the instantaneous pressure averaged over the preset's ``pressure_window`` snapshots) along the ramp,
  its mean and maximum; the mean target and mean instantaneous pressure over the last 10 % of the ramp's snapshots.
  The criterion of a ramp that reaches the physics: the last 10 % within 2 GPa of the target (``tracks``);
* the **SOAP similarity to sh Si** at the snapshot's pressure
  (:func:`aiida_gaprss.students.validation.similarity_curve`, the sh grid relaxed with the teacher) and the
  **transition pressure** where it crosses half-way between its low- and high-pressure ends
  (:func:`aiida_gaprss.students.validation.transition_pressure`);
* **cost**: wall and CPU seconds per MD step, the MD's total wall time, the reference grid's and the similarity's;
  and, on the preset's start cell, 10 NPT steps with the stress computed in the same quippy call as the forces
  (what :func:`aiida_gaprss.rss.md.run_schedule` does) against separate calls (what it did before).

Ratios are against the first preset (the baseline, ``fast``), measured in the same run. With ``--estimate-sparse N``
a GAP with the Table 1 descriptors and N SOAP sparse points (the ``moderate`` GAP-RSS protocol's teacher has 1000)
is fitted with ``gap_fit`` to teacher-labelled ramp snapshots of the last preset (its coefficients do not matter for
the cost) and timed against the teacher on the last preset's cell, rounds alternating: the ratio scales the measured
MD time to that teacher's.

Run with ``OMP_NUM_THREADS=1`` (set here by default): figures are per core. Prints the figures, ends with ONE JSON
line and writes ``benchmarks/results/compression_ramp.json`` (``compression_ramp.<tag>.json`` with ``--tag``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _record import write_results  # noqa: E402

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402

from aiida_gaprss.calculations.student_validation import get_validation_parameters  # noqa: E402
from aiida_gaprss.data.extxyz import write_frames  # noqa: E402
from aiida_gaprss.rss import md  # noqa: E402
from aiida_gaprss.students.validation import (  # noqa: E402
    pressure_reference_grid,
    relax_symmetric,
    similarity_curve,
    snapshot_pressures,
    transition_level,
    transition_pressure,
)

DEMO_TEACHER = pathlib.Path('/work/scratch/teacher-demo/gap.xml')
GAP_FIT = os.environ.get('GAP_FIT', 'gap_fit')
#: The tracking criterion: mean instantaneous pressure over the last 10 % of the ramp within this of the target.
TOLERANCE_GPA = 2.0


def teacher_calculator(xml: pathlib.Path):
    from quippy.potential import Potential

    return Potential(param_filename=str(xml))


def describe_teacher(xml: pathlib.Path) -> dict:
    """Path, SHA-256 and the descriptor lines (type and n_sparse) of a gap.xml."""
    import re

    text = xml.read_text(encoding='utf-8')
    descriptors = [
        {'type': line.split()[0], 'n_sparse': int(match.group(1)) if (match := re.search(r'n_sparse=(\d+)', line))
         else None}
        for line in re.findall(r'<descriptor>\s*([^<]+)', text)
    ]  # fmt: skip
    return {'path': str(xml), 'sha256': hashlib.sha256(xml.read_bytes()).hexdigest(), 'descriptors': descriptors}


def quenched_start(calculator, protocol: dict, parameters: dict, seed: int):
    """The validation job's compression start: the preset's melt--quench, relaxed at 0 GPa (variable cell)."""
    final, _ = md.melt_quench(calculator, protocol, element=parameters['element'], seed=seed)
    quench = parameters.get('quench') or {}
    return relax_symmetric(final, calculator, fmax=float(quench.get('fmax', 0.02)), steps=int(quench.get('steps', 200)),
                           symmetry=False)  # fmt: skip


def tracking(ramp: list, window: int) -> dict:
    """Lag of the instantaneous pressure behind the target along the ramp and the last-10 % criterion (GPa)."""
    target = np.array([atoms.info['pressure_target'] for atoms in ramp])
    instantaneous = np.array([atoms.info['pressure_instantaneous'] for atoms in ramp])
    lag = target - snapshot_pressures(ramp, window)
    tail = max(1, int(round(0.1 * len(ramp))))
    last_target, last_instantaneous = float(target[-tail:].mean()), float(instantaneous[-tail:].mean())
    return {
        'snapshots': len(ramp),
        'last10_snapshots': tail,
        'last10_target': last_target,
        'last10_instantaneous': last_instantaneous,
        'last10_instantaneous_sd': float(instantaneous[-tail:].std()),
        'last10_difference': last_target - last_instantaneous,
        'lag_mean': float(lag.mean()),
        'lag_max': float(lag.max()),
        'lag_window_snapshots': window,
        'max_instantaneous': float(instantaneous.max()),
        'tracks': bool(abs(last_target - last_instantaneous) <= TOLERANCE_GPA),
    }


@contextlib.contextmanager
def _separate_stress_calls():
    original = md._stress_with_forces  # noqa: SLF001
    md._stress_with_forces = lambda calculator, atoms: contextlib.nullcontext()  # noqa: SLF001
    try:
        yield
    finally:
        md._stress_with_forces = original  # noqa: SLF001


def npt_step_seconds(calculator, atoms, protocol: dict, steps: int = 10) -> dict:
    """Wall seconds per NPT step on ``atoms``: the stress in the forces' call (now) vs a call of its own (before)."""
    stage = [{'name': 'npt', 'steps': steps, 't_start': 500.0, 't_end': 500.0, 'p_start': 0.0, 'p_end': 0.0}]
    kwargs = {'timestep_fs': protocol['timestep_fs'], 'update_every': steps, 'snapshot_every': steps,
              'taup_fs': protocol['taup_fs'], 'compressibility': protocol['compressibility'], 'seed': 1}  # fmt: skip
    seconds = {}
    for name in ('combined', 'separate', 'combined_again', 'separate_again'):
        with _separate_stress_calls() if name.startswith('separate') else contextlib.nullcontext():
            begin = time.perf_counter()
            md.run_schedule(atoms, calculator, stage, **kwargs)
            seconds[name] = (time.perf_counter() - begin) / steps
    combined = min(seconds['combined'], seconds['combined_again'])
    separate = min(seconds['separate'], seconds['separate_again'])
    return {'steps': steps, 'combined': combined, 'separate': separate, 'speedup': separate / combined}


def run_preset(calculator, preset: str, seed: int, start_kind: str, natoms: int | None) -> tuple[dict, list]:
    parameters = get_validation_parameters(preset, seed=seed)
    overrides = dict(parameters['overrides'])
    if natoms:
        overrides['natoms'] = natoms
    protocol = md.get_protocol(parameters['protocol'], overrides)
    similarity = parameters['similarity']
    window = int(similarity.get('pressure_window', 1))
    result = {'protocol': protocol, 'similarity_settings': similarity, 'start': start_kind}
    begin_total = time.perf_counter()
    atoms = None
    if start_kind == 'quenched':
        begin = time.perf_counter()
        atoms = quenched_start(calculator, protocol, parameters, seed)
        result['start_seconds'] = time.perf_counter() - begin
    start_cell = atoms if atoms is not None else md.random_start(
        protocol['natoms'], parameters['element'], volume_per_atom=protocol['volume_per_atom'],
        min_distance=protocol['min_distance'], seed=seed)  # fmt: skip
    result['npt_step_seconds'] = npt_step_seconds(calculator, start_cell, protocol, steps=5)
    steps = sum(stage['steps'] for stage in md.compression_schedule(protocol))
    begin, cpu = time.perf_counter(), time.process_time()
    _, snapshots = md.compression_md(calculator, protocol, element=parameters['element'], seed=seed, atoms=atoms)
    md_seconds, md_cpu = time.perf_counter() - begin, time.process_time() - cpu
    ramp = [atoms for atoms in snapshots if 'pressure_target' in atoms.info]
    result['tracking'] = tracking(ramp, window)
    result['ramp'] = {
        key: [float(atoms.info[name]) for atoms in ramp]
        for key, name in (('time_ps', 'time_ps'), ('pressure_target', 'pressure_target'),
                          ('pressure_instantaneous', 'pressure_instantaneous'), ('temperature', 'temperature'))
    }  # fmt: skip
    result['ramp']['volume_per_atom'] = [float(atoms.get_volume() / len(atoms)) for atoms in ramp]
    begin = time.perf_counter()
    pressures = similarity.get('pressures') or np.arange(0.0, protocol['compression']['p_max'] + 1e-9, 2.5).tolist()
    grid = pressure_reference_grid(calculator, pressures, element=parameters['element'],
                                   phase=similarity.get('phase', 'sh'))  # fmt: skip
    grid_seconds = time.perf_counter() - begin
    begin = time.perf_counter()
    curve = similarity_curve(snapshots, grid, pressure_window=window, soap=similarity.get('soap') or None)
    similarity_seconds = time.perf_counter() - begin
    result['similarity'] = {key: curve[key] for key in ('pressure', 'similarity', 'similarity_fixed')}
    result['transition'] = {
        'level': transition_level(curve['pressure'], curve['similarity']),
        'pressure': transition_pressure(curve['pressure'], curve['similarity']),
    }
    result['timing'] = {
        'natoms': protocol['natoms'],
        'steps': steps,
        'md_seconds': md_seconds,
        'md_cpu_seconds': md_cpu,
        'seconds_per_step': md_seconds / steps,
        'cpu_seconds_per_step': md_cpu / steps,
        'seconds_per_atom_step': md_seconds / steps / protocol['natoms'],
        'reference_grid_seconds': grid_seconds,
        'similarity_seconds': similarity_seconds,
        'total_seconds': time.perf_counter() - begin_total,
    }
    return result, ramp


def fit_sparse_teacher(frames: list, n_sparse: int, folder: pathlib.Path) -> pathlib.Path:
    """A GAP with the Table 1 descriptors and ``n_sparse`` SOAP sparse points fitted to the energies of ``frames``.

    Energies only (forces and virials dropped) keep ``gap_fit`` cheap: the cost of a prediction depends on the
    descriptors and the number of sparse points, not on the coefficients.
    """
    from ase import Atoms

    from aiida_gaprss.rss.gap_parameters import build_gap_fit_command, table1_parameters

    params = table1_parameters('Si', overrides={'descriptors': {'soap': {'n_sparse': n_sparse}}})
    energies = [Atoms(a.numbers, positions=a.positions, cell=a.cell, pbc=True, info={'energy': a.info['energy']})
                for a in frames]  # fmt: skip
    with open(folder / 'train.xyz', 'w', encoding='utf-8') as handle:
        write_frames(handle, energies)
    with open(folder / 'gap_fit.out', 'w', encoding='utf-8') as out:
        subprocess.run([GAP_FIT, *build_gap_fit_command(params, at_file='train.xyz')], cwd=folder, stdout=out,
                       stderr=subprocess.STDOUT, check=True)  # fmt: skip
    return folder / 'gap.xml'


def estimate_sparse(calculator, ramp: list, n_sparse: int, protocol: dict, workdir: pathlib.Path) -> dict:
    """Time a ``n_sparse``-point Table 1 GAP against the teacher on the last ramp cell (NPT steps, best of 2)."""
    count = max(2, int(np.ceil(1.2 * n_sparse / len(ramp[0]))))
    frames = [ramp[int(i)] for i in np.linspace(0, len(ramp) - 1, count)]
    begin = time.perf_counter()
    xml = fit_sparse_teacher(frames, n_sparse, workdir)
    fit_seconds = time.perf_counter() - begin
    big = teacher_calculator(xml)
    cell = ramp[-1]
    costs = {'teacher': [], 'estimate': []}
    for _ in range(2):
        costs['teacher'].append(npt_step_seconds(calculator, cell, protocol, steps=5)['combined'])
        costs['estimate'].append(npt_step_seconds(big, cell, protocol, steps=5)['combined'])
    teacher, estimate = min(costs['teacher']), min(costs['estimate'])
    return {
        'n_sparse': n_sparse,
        'descriptors': describe_teacher(xml)['descriptors'],
        'training_frames': len(frames),
        'fit_seconds': fit_seconds,
        'natoms': len(cell),
        'seconds_per_step_teacher': teacher,
        'seconds_per_step_estimate': estimate,
        'cost_ratio': estimate / teacher,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--teacher', type=pathlib.Path, default=DEMO_TEACHER, help='gap.xml of the teacher')
    parser.add_argument('--presets', nargs='+', default=['fast', 'moderate'],
                        help='validation presets; the first is the baseline of the ratios')  # fmt: skip
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--start', choices=('random', 'quenched'), default='random')
    parser.add_argument('--natoms', type=int, default=None, help='override every preset (exploration only)')
    parser.add_argument('--estimate-sparse', type=int, default=None, help='time a Table 1 GAP with N SOAP sparse')
    parser.add_argument('--workdir', type=pathlib.Path, default=None)
    parser.add_argument('--tag', default='')
    args = parser.parse_args(argv)

    calculator = teacher_calculator(args.teacher)
    figures = {
        'benchmark': 'compression_ramp',
        'teacher': describe_teacher(args.teacher),
        'seed': args.seed,
        'start': args.start,
        'criterion': f'mean instantaneous pressure over the last 10 % of the ramp snapshots within {TOLERANCE_GPA} '
        'GPa of the mean target there',  # fmt: skip
        'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
        'presets': {},
    }
    ramps = {}
    for preset in args.presets:
        result, ramps[preset] = run_preset(calculator, preset, args.seed, args.start, args.natoms)
        figures['presets'][preset] = result
        track, timing, transition = result['tracking'], result['timing'], result['transition']['pressure']
        print(f'{preset}: {timing["natoms"]} atoms, {timing["steps"]} steps, {timing["seconds_per_step"]:.3f} s/step '
              f'({timing["cpu_seconds_per_step"]:.3f} CPU), MD {timing["md_seconds"]:.0f} s; last 10 % of the ramp: '
              f'target {track["last10_target"]:.1f}, instantaneous {track["last10_instantaneous"]:.1f} GPa; lag mean '
              f'{track["lag_mean"]:.2f}, max {track["lag_max"]:.2f} GPa; transition pressure '
              f'{"none" if transition is None else f"{transition:.1f} GPa"}')  # fmt: skip
    baseline = figures['presets'][args.presets[0]]['timing']
    figures['ratios'] = {
        f'{preset}/{args.presets[0]}': {
            key: result['timing'][key] / baseline[key]
            for key in ('seconds_per_step', 'seconds_per_atom_step', 'md_seconds', 'total_seconds')
        }
        for preset, result in figures['presets'].items()
    }
    for name, ratio in figures['ratios'].items():
        print(f'{name}: s/step x{ratio["seconds_per_step"]:.1f}, s/atom-step x{ratio["seconds_per_atom_step"]:.2f}, '
              f'MD time x{ratio["md_seconds"]:.1f}')  # fmt: skip
    if args.estimate_sparse:
        last = args.presets[-1]
        workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix='compression_ramp_'))
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            estimate = estimate_sparse(calculator, ramps[last], args.estimate_sparse,
                                       figures['presets'][last]['protocol'], workdir)  # fmt: skip
        except (OSError, subprocess.CalledProcessError, RuntimeError) as exception:  # the figures above are kept
            estimate = {'n_sparse': args.estimate_sparse, 'error': f'{type(exception).__name__}: {exception}',
                        'cost_ratio': float('nan')}  # fmt: skip
        timing = figures['presets'][last]['timing']
        estimate['preset'] = last
        estimate['md_seconds_estimated'] = timing['md_seconds'] * estimate['cost_ratio']
        figures['estimate'] = estimate
        print(f'{args.estimate_sparse} SOAP sparse points: x{estimate["cost_ratio"]:.2f} the teacher per step, '
              f'{last} MD ~{estimate["md_seconds_estimated"] / 60:.0f} min')  # fmt: skip
    write_results('compression_ramp', figures, args.tag)
    return figures


if __name__ == '__main__':
    main()
