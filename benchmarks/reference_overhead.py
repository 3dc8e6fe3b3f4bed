"""Benchmark: wall-time overhead of the reference WorkChain (QE engine) over the same pw.x runs in a shell loop.

16 Si cells of 8 atoms (diamond, different lattice constants and tetragonal strains: no rattling, so pw.x keeps
some symmetry and each SCF takes seconds), QE ``fast`` protocol (30 Ry) with k-point spacing 0.3 1/Å (2π
included), ``mpirun -np 2 pw.x -nk 2``. Stages, in one run on the same machine:

1. ``aiida``: ``ReferenceWorkChain`` (engine qe, ``max_concurrent`` 1, run in-process with ``aiida.engine.run``) from
   submission to the labelled StructureSet — split, 16 ``PwBaseWorkChain``/``PwCalculation``, gather;
2. ``direct``: the very same ``aiida.in`` files (taken from the CalcJob nodes) run one after the other by
   ``mpirun -np 2 pw.x -nk 2 -in aiida.in`` in a shell loop, the baseline.

Figures: ``ratio = aiida / direct`` (target <= 1.15) and the energies of both runs (must agree). The machine is
shared and its load drifts between the two stages, so ``ratio_adjusted`` also compares AiiDA's wall time with the
pw.x wall time measured *inside* the AiiDA stage (scaled by the shell loop's own wall/pw.x ratio): the overhead of
the AiiDA layer at the same load. Load averages are recorded; run twice when in doubt.
A temporary AiiDA profile (``verdi presto``, SQLite) is made unless ``--profile`` names an existing one; its
``localhost`` polls the scheduler every ``--poll-interval`` seconds (AiiDA's default, 10 s, would add up to 10 s
per calculation).

Usage: ``python benchmarks/reference_overhead.py [--n 16] [--kspacing 0.3] [--profile NAME]``
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

RESULTS = pathlib.Path(__file__).parent / 'results' / 'reference_overhead.json'
MPI_ENV = {'OMPI_ALLOW_RUN_AS_ROOT': '1', 'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1', 'OMP_NUM_THREADS': '1'}


def make_profile(folder: pathlib.Path) -> None:
    os.environ['AIIDA_PATH'] = str(folder)
    subprocess.run(
        ['verdi', 'presto', '--profile-name', 'gaprss-bench'], check=True, capture_output=True, env=os.environ
    )


def parse_wall(text: str) -> float:
    """pw.x's ``1m 2.34s`` / ``12.34s`` / ``1h 2m`` wall time in seconds."""
    seconds = 0.0
    for value, unit in re.findall(r'([\d.]+)\s*([hms])', text):
        seconds += float(value) * {'h': 3600, 'm': 60, 's': 1}[unit]
    return seconds


def cells(n: int):
    from ase.build import bulk

    out = []
    for k in range(n):
        atoms = bulk('Si', 'diamond', a=5.30 + 0.02 * (k % 8), cubic=True)
        if k >= 8:
            atoms.set_cell(atoms.cell.array * [1.0, 1.0, 1.03], scale_atoms=True)
        atoms.info['origin'] = f'bench{k}'
        out.append(atoms)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--n', type=int, default=16)
    parser.add_argument('--kspacing', type=float, default=0.3)
    parser.add_argument('--profile', default=None)
    parser.add_argument('--poll-interval', type=float, default=1.0, help='s, for the temporary profile only')
    args = parser.parse_args()
    pw = shutil.which('pw.x')
    if pw is None:
        sys.exit('pw.x not found')
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='gaprss-bench-'))
    if args.profile is None:
        make_profile(tmp / 'aiida')
    import aiida

    aiida.load_profile(args.profile)
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_gaprss.data.structure_set import StructureSet
    from aiida_gaprss.pseudos import install_debian_family
    from aiida_gaprss.workflows.reference import ReferenceWorkChain

    install_debian_family()
    computer = orm.load_computer('localhost')
    # AiiDA polls the scheduler at most every `minimum_job_poll_interval` s (10 s by default): on a laptop with
    # core.direct and seconds-long jobs, 1 s is the sensible setting (`verdi computer configure`); recorded below.
    if args.profile is None:
        computer.set_minimum_job_poll_interval(args.poll_interval)
    code = orm.InstalledCode(
        computer=computer,
        filepath_executable=pw,
        label=f'pw-bench-{os.getpid()}',
        default_calc_job_plugin='quantumespresso.pw',
        prepend_text='\n'.join(f'export {key}={value}' for key, value in MPI_ENV.items()),
        with_mpi=True,
    ).store()

    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms(cells(args.n))
    builder.engine = orm.Str('qe')
    builder.max_concurrent = orm.Int(1)
    builder.qe.code = code
    builder.qe.kpoints_spacing = orm.Float(args.kspacing)
    builder.qe.parallelization = orm.Dict({'npool': 2})
    builder.qe.clean_workdir = orm.Bool(True)
    builder.qe.options = orm.Dict({'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'withmpi': True})
    load_start = os.getloadavg()
    start = time.perf_counter()
    results, node = run_get_node(builder)
    aiida_seconds = time.perf_counter() - start
    if not node.is_finished_ok:
        sys.exit(f'WorkChain failed: {node.exit_status} {node.exit_message}')
    labelled = results['structures'].get_atoms()

    calculations = sorted(
        (n for n in node.called_descendants if n.process_label == 'PwCalculation'), key=lambda n: n.ctime
    )
    folders = []
    for index, calculation in enumerate(calculations):
        folder = tmp / f'direct{index:02d}'
        (folder / 'pseudo').mkdir(parents=True)
        (folder / 'aiida.in').write_text(calculation.base.repository.get_object_content('aiida.in'))
        for pseudo in calculation.inputs.pseudos.values():
            with pseudo.open(mode='rb') as source:
                (folder / 'pseudo' / pseudo.filename).write_bytes(source.read())
        folders.append(folder)
    script = 'for d in ' + ' '.join(str(f) for f in folders) + '; do cd $d && '
    script += f'mpirun -np 2 {pw} -nk 2 -in aiida.in > aiida.out 2>&1; done'
    start = time.perf_counter()
    subprocess.run(['bash', '-c', script], check=True, env={**os.environ, **MPI_ENV})
    direct_seconds = time.perf_counter() - start
    load_end = os.getloadavg()

    from ase.units import create_units

    rydberg = create_units('2006')['Ry']  # pw.x 6.x's own constants, as in the WorkChain's labels
    direct_energies = []
    for folder in folders:
        found = re.findall(r'^!\s+total energy\s+=\s+(\S+) Ry', (folder / 'aiida.out').read_text(), re.MULTILINE)
        direct_energies.append(float(found[-1]) * rydberg)
    aiida_pw_seconds = sum(c.outputs.output_parameters['wall_time_seconds'] for c in calculations)
    direct_pw_seconds = 0.0
    for folder in folders:
        text = (folder / 'aiida.out').read_text()
        direct_pw_seconds += parse_wall(re.findall(r'PWSCF\s+:.*CPU\s+(.*)WALL', text)[-1])
    differences = [abs(a.info['energy'] - b) / len(a) for a, b in zip(labelled, direct_energies, strict=True)]
    figures = {
        'benchmark': 'reference_overhead',
        'n_structures': args.n,
        'atoms_per_structure': 8,
        'kspacing': args.kspacing,
        'aiida_seconds': round(aiida_seconds, 2),
        'direct_seconds': round(direct_seconds, 2),
        'ratio': round(aiida_seconds / direct_seconds, 3),
        # load-robust figure: AiiDA's wall time against a shell loop running the pw.x time measured inside AiiDA
        # (the shell loop's own cost per pw.x second, mpirun start-up included, taken from the direct stage)
        'ratio_adjusted': round(aiida_seconds / (aiida_pw_seconds * direct_seconds / direct_pw_seconds), 3),
        'target_ratio': 1.15,
        'pw_wall_seconds_inside_aiida': round(aiida_pw_seconds, 2),
        'pw_wall_seconds_direct': round(direct_pw_seconds, 2),
        'seconds_per_structure_direct': round(direct_seconds / args.n, 2),
        'overhead_seconds_per_structure': round((aiida_seconds - direct_seconds) / args.n, 2),
        'max_energy_difference_ev_per_atom': max(differences),
        'minimum_job_poll_interval_s': computer.get_minimum_job_poll_interval(),
        'loadavg_start': load_start,
        'loadavg_end': load_end,
        'provenance': provenance(),
    }
    print(
        f'AiiDA WorkChain: {aiida_seconds:.1f} s, direct shell loop: {direct_seconds:.1f} s, ratio {figures["ratio"]}'
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures) + '\n')
    print(json.dumps(figures))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
