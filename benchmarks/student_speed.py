"""Benchmark ``student_speed``: MD cost per atom-step of MTP students (motep) vs a GAP teacher, same cell, same run.

Setup (all real programs, no mocks):

1. Teacher: a GAP fitted here with ``gap_fit`` to Stillinger--Weber-labelled Si cells, with GAP-18-like descriptors
   (2b + SOAP cut-off 5 A, n_max 12, l_max 6, ``--teacher-sparse`` sparse points, 2000 by default; GAP-18 has
   9,000 SOAP sparse points, so this teacher is *cheaper* than GAP-18 and the speed-ups are lower bounds).
2. Students: MTPs of each level fitted with motep (linear least squares only: the cost of an MTP does not depend
   on its coefficients) on the same data.
3. The timing cell: ``--natoms`` Si atoms (1,000 by default) placed at random at the density of amorphous Si
   (20 A^3/atom, min. separation 2.1 A) and shaken by 30 SW MD steps: a disordered cell with the neighbour count of
   a-Si, which is what sets the cost (a melt--quenched 1,000-atom cell is too expensive for this shared machine).
4. Each potential runs ``--steps`` velocity-Verlet steps from the same positions and velocities; rounds alternate
   the potentials (``--rounds``) and the best round is kept. OMP_NUM_THREADS=1: figures are per core.

Prints ratios teacher_cost / student_cost, ends with ONE JSON line, writes benchmarks/results/student_speed.json.

``--from-run PK`` (with ``--profile`` and, for a private profile, ``--aiida-path``) times instead the teacher and the
students of a finished ``IndirectLearningWorkChain`` (``gaprss.indirect``) on the same kind of cell, and takes from
its validation report each student's energy and force MAE against the teacher on the run's compression test set and
against the reference on ``rss_reference``, per level over fit seeds, for the indirectly and the directly learned
students, and the level's melt–quench completions: the goal (a level >= 30x faster than the teacher with mean energy
MAE <= 10 meV/atom and force MAE <= 0.15 eV/A over >= 3 seeds, every seed completing the melt–quench) on one teacher.
Results of that mode go to benchmarks/results/student_speed.from_run.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _record import provenance  # noqa: E402

os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402
from ase import units  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402

from aiida_gaprss.data.extxyz import write_frames  # noqa: E402
from aiida_gaprss.rss.md import random_start  # noqa: E402
from aiida_gaprss.rss.potentials import stillinger_weber_si  # noqa: E402
from aiida_gaprss.students.mtp import fit_student, student_calculator  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / 'results' / 'student_speed.json'
GAP_FIT = os.environ.get('GAP_FIT', 'gap_fit')


def sw_labelled_cells(n: int, seed: int) -> list:
    """Rattled strained diamond 64-atom cells and random 64-atom cells, labelled by SW."""
    rng = np.random.default_rng(seed)
    sw = stillinger_weber_si()
    cells = []
    for i in range(n):
        if i % 2:
            atoms = bulk('Si', 'diamond', a=5.431 * rng.uniform(0.92, 1.06), cubic=True) * (2, 2, 2)
            atoms.rattle(0.2, seed=seed + i)
        else:
            atoms = random_start(64, 'Si', volume_per_atom=rng.uniform(16.0, 24.0), min_distance=2.1, seed=seed + i)
        atoms.calc = sw
        atoms.info['energy'] = atoms.get_potential_energy()
        atoms.arrays['forces'] = atoms.get_forces()
        atoms.info['virial'] = -atoms.get_stress(voigt=False) * atoms.get_volume()
        atoms.calc = None
        cells.append(atoms)
    return cells


def fit_teacher(cells: list, folder: pathlib.Path, n_sparse: int) -> pathlib.Path:
    """Fit the GAP teacher with gap_fit; return the XML path."""
    with open(folder / 'train.xyz', 'w', encoding='utf-8') as handle:
        write_frames(handle, cells)
    gap = (
        'distance_2b cutoff=5.0 cutoff_transition_width=1.0 covariance_type=ard_se delta=2.0 theta_uniform=0.5 '
        'n_sparse=15 sparse_method=uniform : '
        'soap cutoff=5.0 cutoff_transition_width=1.0 n_max=12 l_max=6 atom_sigma=0.5 zeta=4 delta=0.2 '
        f'covariance_type=dot_product n_sparse={n_sparse} sparse_method=cur_points'
    )
    command = [
        GAP_FIT, 'at_file=train.xyz', f'gap={{{gap}}}', 'default_sigma={0.002 0.1 0.1 0.0}', 'e0_method=average',
        'energy_parameter_name=energy', 'force_parameter_name=forces', 'virial_parameter_name=virial',
        'sparse_jitter=1e-8', 'gp_file=gap.xml',
    ]  # fmt: skip
    with open(folder / 'gap_fit.out', 'w', encoding='utf-8') as out:
        subprocess.run(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, check=True)
    return folder / 'gap.xml'


def timing_cell(natoms: int, seed: int):
    atoms = random_start(natoms, 'Si', volume_per_atom=20.0, min_distance=2.1, seed=seed)
    atoms.calc = stillinger_weber_si()
    MaxwellBoltzmannDistribution(atoms, temperature_K=1000.0, rng=np.random.default_rng(seed))
    VelocityVerlet(atoms, 1.0 * units.fs).run(30)
    MaxwellBoltzmannDistribution(atoms, temperature_K=500.0, rng=np.random.default_rng(seed + 1))
    atoms.calc = None
    return atoms


def md_cost(cell, calculator, steps: int) -> float:
    """Seconds per atom-step of ``steps`` velocity-Verlet steps (after one warm-up force call)."""
    atoms = cell.copy()
    atoms.calc = calculator
    atoms.get_forces()
    dyn = VelocityVerlet(atoms, 1.0 * units.fs)
    start = time.perf_counter()
    dyn.run(steps)
    return (time.perf_counter() - start) / (steps * len(atoms))


def potentials_of_run(pk: int, profile: str | None, aiida_path: str | None) -> tuple:
    """Teacher calculator, ``{level: calculator of its first-seed student}``, the run's per-level figures and a
    description of the teacher of run ``pk``.

    The figures per level (``L16``, and ``L16 direct`` for the directly-learned baseline): the energy and force MAE of
    every fit seed against the teacher on the compression test set (meV/atom, eV/Å), their means, the energy MAE
    against the reference on the ``rss_reference`` set when it exists, and how many of the level's students completed
    the melt–quench (the validation report's ``stability``).
    """
    if aiida_path:
        os.environ['AIIDA_PATH'] = aiida_path
    import aiida
    from aiida import orm

    aiida.load_profile(profile, allow_switch=True)
    node = orm.load_node(pk)
    if node.process_type != 'aiida.workflows:gaprss.indirect':
        raise ValueError(f'field `--from-run`: node {pk} is a {node.process_type}, not a gaprss.indirect run')
    teacher = node.inputs.teacher
    validation = node.outputs.validation_report.get_dict()
    errors, stability = validation.get('errors', {}), validation.get('stability', {})
    families = {'indirect': node.outputs.students}
    if 'direct_students' in node.outputs:
        families['direct'] = node.outputs.direct_students
    calculators, levels = {}, {}
    for family, namespace in families.items():
        for key, student in sorted(namespace.items()):
            level = int(student.level)
            name = f'L{level}' if family == 'indirect' else f'L{level} direct'
            if family == 'indirect' and level not in calculators:
                calculators[level] = student.get_calculator()  # an MTP's cost does not depend on its coefficients
            entry = levels.setdefault(name, {'level': level, 'family': family, 'seeds': {}})
            row = errors.get(key if family == 'indirect' else f'direct_{key}') or {}
            entry['seeds'][str(student.base.attributes.get('seed'))] = {
                'compression_energy_mae_mev': _scaled(row.get('compression'), 'energy_mae', 1000.0),
                'compression_force_mae': _scaled(row.get('compression'), 'force_mae', 1.0),
                'reference_energy_mae_mev': _scaled(row.get('rss_reference'), 'energy_mae', 1000.0),
            }
    for name, entry in levels.items():
        for figure in ('compression_energy_mae_mev', 'compression_force_mae', 'reference_energy_mae_mev'):
            values = [seed[figure] for seed in entry['seeds'].values() if seed[figure] is not None]
            entry[f'mean_{figure}'] = float(np.mean(values)) if values else None
        stable = stability.get(name) or {}
        entry['melt_quench_completed'] = stable.get('melt_quench_completed')
        entry['students'] = stable.get('students', len(entry['seeds']))
    described = f'GapPotential<{teacher.pk}> (sha256 {teacher.sha256[:12]}), teacher of gaprss.indirect<{pk}>'
    return teacher.get_calculator(), calculators, levels, described


def _scaled(metrics: dict | None, key: str, scale: float) -> float | None:
    return None if not metrics or metrics.get(key) is None else scale * float(metrics[key])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--natoms', type=int, default=1000)
    parser.add_argument('--levels', type=int, nargs='+', default=[8, 12, 16, 20, 24])
    parser.add_argument('--teacher-sparse', type=int, default=2000)
    parser.add_argument('--train-cells', type=int, default=40)
    parser.add_argument('--steps', type=int, default=5, help='MD steps per student timing')
    parser.add_argument('--teacher-steps', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--workdir', type=pathlib.Path, default=None, help='reuse/keep the fitted potentials here')
    parser.add_argument('--from-run', type=int, default=None, help='PK of a finished gaprss.indirect run')
    parser.add_argument('--profile', default=None, help='AiiDA profile of --from-run (default: the default profile)')
    parser.add_argument('--aiida-path', default=None, help='AIIDA_PATH of that profile (a private one)')
    args = parser.parse_args(argv)
    if args.from_run is not None:
        return main_from_run(args)

    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix='student_speed_'))
    workdir.mkdir(parents=True, exist_ok=True)
    cells = sw_labelled_cells(args.train_cells, seed=11)
    setup = {}
    start = time.perf_counter()
    xml = workdir / 'teacher' / 'gap.xml'
    if not xml.is_file():
        xml.parent.mkdir(exist_ok=True)
        fit_teacher(cells, xml.parent, args.teacher_sparse)
    setup['teacher_fit_s'] = time.perf_counter() - start
    students = {}
    for level in args.levels:
        folder = workdir / f'student_{level}'
        if not (folder / 'student.json').is_file():
            fit_student(cells[:8], level=level, seed=1, max_iter=0, workdir=folder)
        students[level] = student_calculator(folder)
    from quippy.potential import Potential

    teacher = Potential(param_filename=str(xml))
    cell = timing_cell(args.natoms, seed=3)

    costs = {'teacher': [], **{f'mtp{level}': [] for level in args.levels}}
    for _ in range(args.rounds):
        costs['teacher'].append(md_cost(cell, teacher, args.teacher_steps))
        for level in args.levels:
            costs[f'mtp{level}'].append(md_cost(cell, students[level], args.steps))
    best = {name: min(values) for name, values in costs.items()}
    figures = {
        'benchmark': 'student_speed',
        'mode': 'fresh_teacher',
        'natoms': len(cell),
        'teacher': f'GAP 2b+SOAP(n12,l6,{args.teacher_sparse} sparse) from gap_fit on SW Si',
        'seconds_per_atom_step': best,
        'atom_steps_per_second': {name: 1.0 / value for name, value in best.items()},
        'speedup_vs_teacher': {name: best['teacher'] / value for name, value in best.items() if name != 'teacher'},
        'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
        **setup,
        'provenance': provenance(),
    }
    for name, ratio in figures['speedup_vs_teacher'].items():
        sys.stdout.write(f'{name}: {1 / best[name]:.0f} atom-steps/s, {ratio:.1f}x faster than the teacher\n')
    sys.stdout.write(f'teacher: {1 / best["teacher"]:.0f} atom-steps/s\n')
    line = json.dumps(figures)
    sys.stdout.write(line + '\n')
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(line + '\n', encoding='utf-8')
    return figures


def main_from_run(args) -> dict:
    """``--from-run``: time the teacher and the students of an indirect-learning run; add their errors over seeds."""
    teacher, students, levels, described = potentials_of_run(args.from_run, args.profile, args.aiida_path)
    cell = timing_cell(args.natoms, seed=3)
    costs = {'teacher': [], **{f'mtp{level}': [] for level in sorted(students)}}
    for _ in range(args.rounds):
        costs['teacher'].append(md_cost(cell, teacher, args.teacher_steps))
        for level in sorted(students):
            costs[f'mtp{level}'].append(md_cost(cell, students[level], args.steps))
    best = {name: min(values) for name, values in costs.items()}
    speedup = {name: best['teacher'] / value for name, value in best.items() if name != 'teacher'}
    passing = []
    for name, entry in levels.items():
        if entry['family'] != 'indirect':
            continue
        entry['speedup_vs_teacher'] = speedup.get(f'mtp{entry["level"]}')
        direct = levels.get(f'{name} direct') or {}
        entry['direct_reference_energy_mae_mev'] = direct.get('mean_reference_energy_mae_mev')
        checks = {
            'speedup': (entry['speedup_vs_teacher'] or 0.0) >= 30.0,
            'energy': (entry['mean_compression_energy_mae_mev'] or math.inf) <= 10.0,
            'forces': (entry['mean_compression_force_mae'] or math.inf) <= 0.15,
            'seeds': len(entry['seeds']) >= 3,
            'melt_quench': entry['melt_quench_completed'] is not None
            and entry['melt_quench_completed'] == entry['students'],
        }
        entry['checks'] = checks
        if all(checks.values()):
            passing.append(name)
    figures = {
        'benchmark': 'student_speed',
        'mode': 'from_run',
        'run_pk': args.from_run,
        'natoms': len(cell),
        'teacher': described,
        'seconds_per_atom_step': best,
        'speedup_vs_teacher': speedup,
        'levels': levels,
        'goal': 'a level >= 30x faster than the teacher per MD step on the timing cell, with energy MAE <= 10 '
        'meV/atom and force MAE <= 0.15 eV/A against the teacher on the compression test set (mean over >= 3 fit '
        'seeds), every student of that level completing the melt-quench',
        'goal_met_by': passing,
        'goal_met': bool(passing),
        'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
        'loadavg': list(os.getloadavg()),
        'provenance': provenance(),
    }
    for name, entry in levels.items():
        sys.stdout.write(
            f'{name}: {len(entry["seeds"])} seed(s), speed-up {entry.get("speedup_vs_teacher")}, compression MAE '
            f'{entry["mean_compression_energy_mae_mev"]} meV/atom, {entry["mean_compression_force_mae"]} eV/A; vs '
            f'reference {entry["mean_reference_energy_mae_mev"]} meV/atom\n'
        )
    line = json.dumps(figures)
    sys.stdout.write(line + '\n')
    target = RESULTS.with_suffix('.from_run.json')
    target.write_text(line + '\n', encoding='utf-8')
    return figures


if __name__ == '__main__':
    main()
