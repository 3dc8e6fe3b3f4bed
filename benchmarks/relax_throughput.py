"""Benchmark: relaxations per minute of random Si cells with a small GAP, ours against a bare ASE loop.

Set-up (cached): a toy GAP (2b + SOAP n = l = 6, 200 sparse points, r_cut 5 A) fitted with the real ``gap_fit`` on
``--train`` random Si cells (``generate_random_cells``, half narrow, half wide) plus 8 dimers, all labelled with
Stillinger--Weber. It lives in a cache folder outside the repository (``--gap-dir``; default
``$TMPDIR/aiida_gaprss_bench/relax_throughput_gap``) and is refitted only if missing.

Measured on the same ``--n`` random cells (seed ``--seed``) at pressures from ``sample_pressures`` (same seed):

1. ``bare_p1`` -- the baseline: a plain loop over ASE's ``PreconLBFGS`` on ``FrechetCellFilter(scalar_pressure)``
   with one prebuilt quippy GAP calculator, the same precon (``'auto'``), fmax (0.01 eV/A) and stress threshold
   (smax 0.1 GPa), step cap and BLAS thread limit (1) as ours; no frames kept, exceptions caught and counted;
2. ``ours_p1`` -- ``relax_one`` with one prebuilt calculator (the engine, frames kept), *interleaved* with (1)
   cell by cell (order alternating) so that both see the same machine load;
3. ``ours_p2`` -- ``relax_structures(cells, {'type': 'gap', ...}, pressures, processes=2)`` end to end (workers
   build their calculator from the spec).

Reported: relaxations per minute (wall), CPU seconds per relaxation for (1) and (2), ratios ours_p1 / bare_p1 (same
cores, the fair one) and ours_p2 / bare_p1 (target >= 0.95), converged fractions and steps. The machine is shared:
the load average before and after is recorded. Prints one JSON line; writes ``benchmarks/results/
relax_throughput.json`` (``relax_throughput.n<N>.json`` for other ``--n``).

Usage: ``python benchmarks/relax_throughput.py [--n 100] [--train 50] [--steps 300] [--seed 0]``
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from ase import units
from ase.filters import FrechetCellFilter
from ase.io import write
from ase.optimize.precon import PreconLBFGS
from threadpoolctl import threadpool_limits

from aiida_gaprss.rss.potentials import calculator_from_spec, stillinger_weber_si
from aiida_gaprss.rss.relax import relax_one, relax_structures, status_counts

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _record import provenance  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / 'results'
FMAX = 0.01
SMAX_GPA = 0.1
PRECON = 'auto'
GAP_DESCRIPTORS = (
    'distance_2b cutoff=5.0 cutoff_transition_width=1.0 covariance_type=ard_se delta=2.0 theta_uniform=1.0 '
    'sparse_method=uniform n_sparse=20 add_species=T : '
    'soap cutoff=5.0 cutoff_transition_width=1.0 n_max=6 l_max=6 atom_sigma=0.5 zeta=4 delta=0.2 '
    'covariance_type=dot_product sparse_method=cur_points n_sparse=200 add_species=T'
)


def log(message: str) -> None:
    print(f'[relax_throughput {time.strftime("%H:%M:%S")}] {message}', file=sys.stderr, flush=True)


def random_cells(n: int, seed: int, stream: int = 0, volume_mode: str = 'narrow', parity: str = 'any'):
    """Random Si cells from helper A's generator (fallback: plain random P1 cells if it is missing)."""
    try:
        from aiida_gaprss.rss.generation import generate_random_cells

        return generate_random_cells(n, 'Si', seed=seed, stream=stream, volume_mode=volume_mode, parity=parity)
    except ImportError:  # pragma: no cover - only before generation.py existed
        from ase import Atoms
        from ase.neighborlist import neighbor_list

        rng = np.random.default_rng([seed, stream])
        cells = []
        while len(cells) < n:
            natoms = int(rng.integers(6, 25))
            cell = np.eye(3) + rng.uniform(-0.25, 0.25, (3, 3))
            cell *= (natoms * 14.5 * 1.11**3 / abs(np.linalg.det(cell))) ** (1 / 3)
            atoms = Atoms(f'Si{natoms}', scaled_positions=rng.random((natoms, 3)), cell=cell, pbc=True)
            if len(neighbor_list('d', atoms, 1.8 * 1.11)) == 0:
                cells.append(atoms)
        return cells


def label_with_sw(frames, virial: bool = True):
    sw = stillinger_weber_si()
    out = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = sw
        atoms.info = {'energy': atoms.get_potential_energy(), 'config_type': 'train'}
        atoms.arrays['forces'] = atoms.get_forces()
        if virial:
            atoms.info['virial'] = -atoms.get_stress(voigt=False) * atoms.get_volume()
        atoms.calc = None
        out.append(atoms)
    return out


def fit_gap(gap_dir: pathlib.Path, n_train: int, seed: int) -> dict:
    """Fit (or reuse) the toy GAP; return its spec and fit facts."""
    xml = gap_dir / 'gap.xml'
    meta_file = gap_dir / 'meta.json'
    if xml.exists() and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get('n_train') == n_train and meta.get('seed') == seed:
            log(f'reusing GAP {xml}')
            return meta
    gap_dir.mkdir(parents=True, exist_ok=True)
    from aiida_gaprss.rss.generation import generate_dimers

    narrow = random_cells(n_train - n_train // 2, seed + 1000, stream=0)
    wide = random_cells(n_train // 2, seed + 1000, stream=1, volume_mode='wide', parity='even')
    train = label_with_sw(narrow + wide) + label_with_sw(generate_dimers('Si', 8), virial=False)
    write(gap_dir / 'train.xyz', train, format='extxyz')
    gap_fit = pathlib.Path(sys.executable).parent / 'gap_fit'
    cmd = [
        str(gap_fit),
        'at_file=train.xyz',
        f'gap={{{GAP_DESCRIPTORS}}}',
        'default_sigma={0.005 0.1 0.1 0.0}',
        'energy_parameter_name=energy',
        'force_parameter_name=forces',
        'virial_parameter_name=virial',
        'e0_method=average',
        'sparse_jitter=1e-8',
        'gp_file=gap.xml',
    ]
    log('fitting the toy GAP: ' + ' '.join(cmd))
    start = time.perf_counter()
    with open(gap_dir / 'gap_fit.log', 'w') as out:
        subprocess.run(cmd, cwd=gap_dir, check=True, stdout=out, stderr=subprocess.STDOUT)
    fit_seconds = time.perf_counter() - start
    # a sanity check of the fit on unseen cells
    test = label_with_sw(random_cells(10, seed + 2000))
    gap = calculator_from_spec({'type': 'gap', 'xml': str(xml)})
    errors = []
    for atoms in test:
        check = atoms.copy()
        check.calc = gap
        errors.append((check.get_potential_energy() - atoms.info['energy']) / len(atoms))
    meta = {
        'xml': str(xml),
        'n_train': n_train,
        'seed': seed,
        'n_train_atoms': int(sum(len(a) for a in train)),
        'fit_seconds': round(fit_seconds, 1),
        'energy_rmse_vs_sw_ev_per_atom': round(float(np.sqrt(np.mean(np.square(errors)))), 4),
        'descriptors': GAP_DESCRIPTORS,
    }
    meta_file.write_text(json.dumps(meta, indent=1))
    return meta


def bare_relax(atoms, calc, pressure: float, steps: int) -> tuple[str, int]:
    """The baseline: ASE's PreconLBFGS on FrechetCellFilter, nothing else."""
    work = atoms.copy()
    work.calc = calc
    filtered = FrechetCellFilter(work, scalar_pressure=pressure * units.GPa)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        opt = PreconLBFGS(filtered, precon=PRECON, logfile=None)
        try:
            converged = opt.run(fmax=FMAX, steps=steps, smax=SMAX_GPA * units.GPa)
            status = 'converged' if converged else 'max_steps'
        except Exception:  # a bare loop would crash here; count it instead
            status = 'failed'
    return status, int(opt.nsteps)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=100, help='cells to relax (default 100)')
    parser.add_argument('--train', type=int, default=50, help='random training cells for the toy GAP')
    parser.add_argument('--steps', type=int, default=300, help='step cap per relaxation')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--gap-dir',
        type=pathlib.Path,
        default=pathlib.Path(tempfile.gettempdir()) / 'aiida_gaprss_bench' / 'relax_throughput_gap',
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.train < 4 or args.steps < 1:
        parser.error('--n >= 1, --train >= 4 and --steps >= 1 are required')

    import logging

    logging.basicConfig(level=logging.WARNING)
    # the bare loop's line search logs every 'direction not downhill' as an error; ours counts them in the frames
    logging.getLogger('ase.utils.linesearcharmijo').setLevel(logging.CRITICAL)
    load_start = [round(x, 2) for x in os.getloadavg()]
    meta = fit_gap(args.gap_dir, args.train, args.seed)
    spec = {'type': 'gap', 'xml': meta['xml']}

    from aiida_gaprss.rss.pressure import sample_pressures

    cells = random_cells(args.n, args.seed)
    pressures = sample_pressures(args.n, seed=args.seed)
    natoms = [len(a) for a in cells]
    log(f'{args.n} cells of {min(natoms)}-{max(natoms)} atoms, pressures mean {pressures.mean():.2f} GPa')

    # (1) + (2): bare loop and ours on one process, interleaved cell by cell
    bare_calc = calculator_from_spec(spec)
    our_calc = calculator_from_spec(spec)
    wall = {'bare_p1': 0.0, 'ours_p1': 0.0}
    cpu = {'bare_p1': 0.0, 'ours_p1': 0.0}
    bare_status, bare_steps, ours_frames = [], [], []
    with threadpool_limits(limits=1):
        for i, (atoms, p) in enumerate(zip(cells, pressures, strict=True)):
            order = ('bare_p1', 'ours_p1') if i % 2 == 0 else ('ours_p1', 'bare_p1')
            for which in order:
                w0, c0 = time.perf_counter(), time.process_time()
                if which == 'bare_p1':
                    status, nsteps = bare_relax(atoms, bare_calc, float(p), args.steps)
                    bare_status.append(status)
                    bare_steps.append(nsteps)
                else:
                    frames = relax_one(atoms, our_calc, float(p), fmax=FMAX, steps=args.steps, trajectory_id=i)
                    ours_frames.extend(frames)
                wall[which] += time.perf_counter() - w0
                cpu[which] += time.process_time() - c0
            log(f'cell {i + 1}/{args.n}: bare {wall["bare_p1"]:.0f} s, ours {wall["ours_p1"]:.0f} s')

    # (3): ours end to end on two processes
    w0 = time.perf_counter()
    frames_p2 = relax_structures(cells, spec, pressures, fmax=FMAX, steps=args.steps, processes=2)
    wall['ours_p2'] = time.perf_counter() - w0
    load_end = [round(x, 2) for x in os.getloadavg()]

    per_min = {k: round(60.0 * args.n / v, 3) for k, v in wall.items()}
    ours_p1_counts = status_counts(ours_frames)
    ours_p2_counts = status_counts(frames_p2)
    bare_counts = {s: bare_status.count(s) for s in ('converged', 'max_steps', 'failed')}
    ours_final_steps = [f.info['n_steps'] for f in ours_frames if f.info['final']]
    result = {
        'benchmark': 'relax_throughput',
        'n_cells': args.n,
        'atoms_per_cell': [min(natoms), round(float(np.mean(natoms)), 1), max(natoms)],
        'steps_cap': args.steps,
        'fmax_ev_per_a': FMAX,
        'smax_gpa': SMAX_GPA,
        'precon': PRECON,
        'gap': {k: meta[k] for k in ('n_train', 'n_train_atoms', 'fit_seconds', 'energy_rmse_vs_sw_ev_per_atom')},
        'relaxations_per_minute': per_min,
        'wall_seconds': {k: round(v, 1) for k, v in wall.items()},
        'cpu_seconds_per_relaxation': {k: round(v / args.n, 2) for k, v in cpu.items()},
        'ratio_ours_p1_vs_bare_p1': round(per_min['ours_p1'] / per_min['bare_p1'], 3),
        'ratio_ours_p1_vs_bare_p1_cpu': round(cpu['bare_p1'] / cpu['ours_p1'], 3),
        'ratio_ours_p2_vs_bare_p1': round(per_min['ours_p2'] / per_min['bare_p1'], 3),
        'target_ratio_ours_p2_vs_bare_p1': 0.95,
        'status_bare_p1': bare_counts,
        'status_ours_p1': ours_p1_counts,
        'status_ours_p2': ours_p2_counts,
        'mean_steps_bare_p1': round(float(np.mean(bare_steps)), 1),
        'mean_steps_ours_p1': round(float(np.mean(ours_final_steps)), 1),
        'frames_kept_ours_p2': len(frames_p2),
        'load_average_start': load_start,
        'load_average_end': load_end,
        'cpu_count': os.cpu_count(),
    }
    print(
        f'relaxations/min: bare loop (1 process) {per_min["bare_p1"]:.2f}, ours (1 process) {per_min["ours_p1"]:.2f}, '
        f'ours (2 processes) {per_min["ours_p2"]:.2f}'
    )
    print(
        f'ratio ours_p1 / bare_p1 = {result["ratio_ours_p1_vs_bare_p1"]:.3f} (CPU time: '
        f'{result["ratio_ours_p1_vs_bare_p1_cpu"]:.3f}); ours_p2 / bare_p1 = {result["ratio_ours_p2_vs_bare_p1"]:.3f} '
        f'(target >= 0.95)'
    )
    print(f'converged: bare {bare_counts}, ours p1 {ours_p1_counts}, ours p2 {ours_p2_counts}')
    print(json.dumps(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = 'relax_throughput.json' if args.n == 100 else f'relax_throughput.n{args.n}.json'
    result['provenance'] = provenance()
    (RESULTS / name).write_text(json.dumps(result, indent=1) + '\n')
    return result


if __name__ == '__main__':
    main()
