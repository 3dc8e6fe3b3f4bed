"""pw.x runs outside AiiDA for benchmarks: the ReferenceWorkChain's SCF settings written by ASE, read back by ASE.

The parameters come from :meth:`aiida_gaprss.workflows.reference.engines.QeEngine.parameters` (the same cut-offs,
smearing, convergence threshold per atom and 2π-included k-point spacing as the loop's labels), with optional
overrides, so a benchmark measures exactly what the loop would compute. Used by ``qe_convergence`` (single points on
a grid of settings) and ``si_learning_curve`` (vc-relaxations of the known phases).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

MPI_ENV = {'OMPI_ALLOW_RUN_AS_ROOT': '1', 'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1', 'OMP_NUM_THREADS': '1',
           'OMPI_MCA_hwloc_base_binding_policy': 'none'}  # fmt: skip


def pw_input(atoms, protocol_name: str, overrides: dict | None = None, relax: str | None = None):
    """ASE ``input_data`` (lower-case namelists), k-point mesh and pseudopotentials of one pw.x run.

    Parameters
    ----------
    atoms
        The structure (elements of the embedded PBE family: Debian's B, C, Si and the generated Ti).
    protocol_name
        A QE reference protocol of ``aiida_gaprss/protocols/reference_qe.yaml`` (``fast``, ``accurate``, ...).
    overrides
        pw.x namelist overrides as the engine takes them (``{'SYSTEM': {'ecutwfc': 60.0}, 'KPOINTS_SPACING': 0.15}``).
    relax
        None for an SCF, ``'vc-relax'`` for a variable-cell relaxation at 0 GPa.
    """
    from aiida_gaprss.pseudos import DEFAULT_PBE, pseudo_folder
    from aiida_gaprss.workflows.reference.engines import QeEngine
    from aiida_gaprss.workflows.reference.protocols import load_protocol

    protocol = load_protocol('qe', protocol_name)
    parameters, mesh = QeEngine.parameters(protocol, atoms, overrides)
    input_data = {section.lower(): dict(values) for section, values in parameters.items()}
    symbols = set(atoms.get_chemical_symbols())
    input_data['control'].update(pseudo_dir=str(pseudo_folder(symbols)), outdir='./out', disk_io='low')
    if relax == 'vc-relax':
        input_data['control'].update(calculation='vc-relax', etot_conv_thr=1e-5 * len(atoms), forc_conv_thr=1e-4,
                                     nstep=100)  # fmt: skip
        input_data['ions'] = {'ion_dynamics': 'bfgs'}
        input_data['cell'] = {'cell_dynamics': 'bfgs', 'press': 0.0, 'press_conv_thr': 0.2, 'cell_dofree': 'all'}
    elif relax is not None:
        raise ValueError(f'relax: expected None or "vc-relax", got {relax!r}')
    pseudos = {symbol: DEFAULT_PBE[symbol][0] for symbol in symbols}
    return input_data, mesh, pseudos


def run_pw(atoms, input_data: dict, mesh, pseudos: dict, nprocs: int = 1) -> dict:
    """Run pw.x on ``atoms`` in a temporary folder; the final structure's energy, volume, k-points and wall time.

    Returns
    -------
    dict
        ``energy_per_atom`` (eV, ASE's units), ``volume_per_atom`` (Å³), ``natoms``, ``kpoints`` (the mesh),
        ``irreducible_kpoints`` (pw.x's count), ``converged`` (a relaxation that ended normally; True for an SCF
        that converged), ``wall_seconds``, ``atoms`` (the final structure, ASE).
    """
    import ase.io

    folder = pathlib.Path(tempfile.mkdtemp(prefix='gaprss-pw-'))
    clean = atoms.copy()
    clean.info = {}
    clean.calc = None
    ase.io.write(folder / 'pw.in', clean, format='espresso-in', input_data=input_data, pseudopotentials=pseudos,
                 kpts=list(mesh))  # fmt: skip
    # ASE writes the empty &FCP and &RISM namelists of QE >= 7; pw.x 6.7 does not know them
    text = (folder / 'pw.in').read_text().replace('&FCP\n/\n', '').replace('&RISM\n/\n', '')
    (folder / 'pw.in').write_text(text)
    pw = shutil.which('pw.x') or '/usr/bin/pw.x'
    command = (
        ['mpirun', '-np', str(nprocs), pw, '-nk', str(nprocs), '-in', 'pw.in'] if nprocs > 1 else [pw, '-in', 'pw.in']
    )
    start = time.perf_counter()
    try:
        with open(folder / 'pw.out', 'w') as out:
            subprocess.run(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, check=True,
                           env={**os.environ, **MPI_ENV}, stdin=subprocess.DEVNULL)  # fmt: skip
        wall = time.perf_counter() - start
        text = (folder / 'pw.out').read_text()
        final = ase.io.read(folder / 'pw.out', format='espresso-out', index=-1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    kpoints = None
    for line in text.splitlines():
        if 'number of k points=' in line:
            kpoints = int(line.split('=')[1].split()[0])
            break
    relax = input_data['control'].get('calculation') == 'vc-relax'
    converged = ('End final coordinates' in text or 'bfgs converged' in text) if relax else (
        'convergence has been achieved' in text)  # fmt: skip
    energy = final.get_potential_energy()
    return {
        'energy_per_atom': energy / len(final),
        'volume_per_atom': final.get_volume() / len(final),
        'natoms': len(final),
        'kpoints': [int(n) for n in mesh],
        'irreducible_kpoints': kpoints,
        'converged': bool(converged),
        'wall_seconds': round(wall, 1),
        'atoms': final,
    }


def scf_with(atoms, values: dict, protocol_name: str = 'accurate') -> dict:
    """One-core SCF of ``atoms`` with ``values`` (``ecutwfc``, ``ecutrho``, ``degauss`` in Ry, ``kpoints_spacing`` in
    1/Å with 2π) on top of the protocol's other settings; :func:`run_pw`'s result without the structure."""
    overrides = {'SYSTEM': {key: values[key] for key in ('ecutwfc', 'ecutrho', 'degauss')},
                 'KPOINTS_SPACING': values['kpoints_spacing']}  # fmt: skip
    input_data, mesh, pseudos = pw_input(atoms, protocol_name, overrides)
    result = run_pw(atoms, input_data, mesh, pseudos, nprocs=1)
    result.pop('atoms')
    return result


def _checkpoint_key(key, atoms, values: dict, protocol_name: str) -> str:
    """What identifies one SCF of :func:`run_scfs` in a checkpoint: its key, structure, settings and protocol."""
    import hashlib

    structure = hashlib.sha256(
        repr(
            (atoms.get_chemical_symbols(), atoms.cell.array.round(8).tolist(), atoms.positions.round(8).tolist())
        ).encode()
    ).hexdigest()[:16]
    return json.dumps([list(key) if isinstance(key, tuple) else key, structure, values, protocol_name], sort_keys=True)


def run_scfs(jobs: dict, protocol_name: str = 'accurate', workers: int = 2, checkpoint=None) -> dict:
    """:func:`scf_with` for every ``key -> (atoms, values)`` of ``jobs``, ``workers`` one-core pw.x side by side.

    With ``checkpoint`` (a JSON-lines file), every finished SCF is appended to it as it ends, and SCFs already in it
    (same key, structure, settings and protocol) are not run again: a grid that takes hours survives an interrupted
    session. Prints one line per finished SCF (its key, atoms, irreducible k-points, wall time); returns
    ``key -> result``, without the SCFs that failed (each printed as FAILED; run the call again for them).
    """
    import concurrent.futures

    results, done = {}, {}
    if checkpoint is not None and pathlib.Path(checkpoint).exists():
        for line in pathlib.Path(checkpoint).read_text().splitlines():
            row = json.loads(line)
            done[row['checkpoint_key']] = row['result']
    todo = {}
    for key, (atoms, values) in jobs.items():
        marker = _checkpoint_key(key, atoms, values, protocol_name)
        if marker in done:
            results[key] = done[marker]
        else:
            todo[key] = (atoms, values, marker)
    print(f'{len(results)} SCFs from the checkpoint, {len(todo)} to run', flush=True)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(scf_with, atoms, values, protocol_name): key for key, (atoms, values, _) in todo.items()}
        for future in concurrent.futures.as_completed(futures):
            key = futures[future]
            try:
                row = future.result()
            except (subprocess.CalledProcessError, OSError, ValueError) as error:
                # one lost SCF (a pw.x killed from outside, an unreadable output) must not stop the others: it is
                # not checkpointed, so the next call runs it again
                print(f'{key!s:40s} FAILED: {error!r}', flush=True)
                continue
            results[key] = row
            if checkpoint is not None:
                with open(checkpoint, 'a') as handle:
                    handle.write(json.dumps({'checkpoint_key': todo[key][2], 'result': row,
                                             'finished': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                                             'loadavg': os.getloadavg()}) + '\n')  # fmt: skip
            print(f'{key!s:40s} {row["natoms"]:3d} atoms {row["energy_per_atom"]:.5f} eV/atom  k '
                  f'{row["irreducible_kpoints"]:5d}  {row["wall_seconds"]:7.1f} s  converged {row["converged"]}',
                  flush=True)  # fmt: skip
    return results
