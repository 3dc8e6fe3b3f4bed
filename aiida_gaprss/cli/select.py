"""``gaprss select``: pick structures from an extxyz file the GAP-RSS way (no AiiDA profile needed)."""

from __future__ import annotations

import json

import click

from .params import OutputFile, StructureFile, check_overwrite
from .root import cmd_root

METHODS = ('kernel-cur', 'descriptor-cur', 'random', 'flat-histogram', 'combined')
#: 1 GPa in eV/Å³.
GPA = 1.0 / 160.21766208


def enthalpies_per_atom(atoms_list) -> list[float]:
    """Enthalpy per atom (eV/atom) of each structure.

    ``info['enthalpy']`` (eV, total) if present, else ``energy + p V`` with ``p = info.get('pressure', 0)`` in GPa
    (the energy from ``info['energy']``, where :func:`aiida_gaprss.data.extxyz.read_frames` puts it).
    """
    values = []
    for index, atoms in enumerate(atoms_list):
        energy = atoms.info.get('energy')
        if 'enthalpy' in atoms.info:
            enthalpy = float(atoms.info['enthalpy'])
        elif energy is not None:
            pressure = float(atoms.info.get('pressure', 0.0)) * GPA
            volume = abs(atoms.cell.volume) if atoms.pbc.all() else 0.0
            enthalpy = float(energy) + pressure * volume
        else:
            raise click.BadParameter(
                f"structure {index} has neither info['enthalpy'] nor info['energy']", param_hint='INPUT'
            )
        values.append(enthalpy / len(atoms))
    return values


@cmd_root.command('select')
@click.argument('structures', metavar='INPUT', type=StructureFile())
@click.option('-n', '--number', 'number', type=click.IntRange(min=1), required=True, help='How many to select.')
@click.option('-m', '--method', type=click.Choice(METHODS), default='kernel-cur', show_default=True)
@click.option('-o', '--output', type=OutputFile(), required=True)
@click.option('-f', '--force', is_flag=True, help='Overwrite an existing file.')
@click.option('--seed', type=int, default=0, show_default=True, help='Random seed (selection is reproducible).')
@click.option('--kT', 'kt', type=click.FloatRange(min=0, min_open=True), default=None, help='Flat-histogram kT (eV).')
@click.option('--iteration', type=click.IntRange(min=1), default=None, help='Take kT from the paper schedule.')
@click.option('--n-flat', type=click.IntRange(min=1), default=None, help='combined: count kept by the flat step.')
@click.option('--zeta', type=click.IntRange(min=1), default=4, show_default=True)
@click.option('--deterministic', is_flag=True, help='CUR: take the largest leverage scores instead of sampling.')
@click.option('--n-max', type=click.IntRange(min=1), default=12, show_default=True, help='SOAP radial order.')
@click.option('--l-max', type=click.IntRange(min=1), default=12, show_default=True, help='SOAP angular order.')
@click.option('--sigma', type=float, default=None, help='SOAP atom width in Å [default: 0.5].')
@click.option('--r-cut', type=float, default=10.5, show_default=True, help='SOAP cut-off in Å.')
@click.option('--backend', type=click.Choice(['numpy', 'dscribe', 'quippy']), default='numpy', show_default=True)
@click.option('--processes', type=click.IntRange(min=1), default=2, show_default=True)
def select(
    structures,
    number,
    method,
    output,
    force,
    seed,
    kt,
    iteration,
    n_flat,
    zeta,
    deterministic,
    n_max,
    l_max,
    sigma,
    r_cut,
    backend,
    processes,
):
    """Select NUMBER structures of INPUT (extxyz) and write them to OUTPUT (extxyz).

    Methods: kernel-cur (leverage-score CUR on the averaged-SOAP kernel, the paper's), descriptor-cur and random
    (ablation baselines), flat-histogram (Boltzmann-biased, on enthalpy per atom; needs --kT or --iteration) and
    combined (flat histogram to --n-flat, then kernel CUR; the selection from relaxation trajectories).

    INPUT is read with the checks of StructureSet (every method): an unreadable file, non-finite numbers or
    overlapping atoms are refused, naming the structure.
    """
    import numpy as np

    from aiida_gaprss.data.extxyz import write_frames
    from aiida_gaprss.rss import selection
    from aiida_gaprss.rss.soap import DEFAULT_SIGMA, averaged_soap

    input_file, atoms_list = structures
    check_overwrite(output, force, input_file)
    if number > len(atoms_list):
        raise click.BadParameter(f'{number} > {len(atoms_list)} structures in {input_file}', param_hint='-n')
    if kt is not None and iteration is not None:
        raise click.BadParameter('give --kT or --iteration, not both', param_hint='--kT')
    if method in ('flat-histogram', 'combined'):
        if kt is None and iteration is None:
            raise click.BadParameter(f'{method} needs --kT or --iteration', param_hint='--kT')
        kt = kt if kt is not None else selection.flat_histogram_kt(iteration)
    if method == 'combined':
        n_flat = n_flat if n_flat is not None else min(len(atoms_list), 10 * number)
        if not number <= n_flat <= len(atoms_list):
            raise click.BadParameter(f'need -n <= --n-flat <= {len(atoms_list)}', param_hint='--n-flat')
    soap_kwargs = {
        'n_max': n_max,
        'l_max': l_max,
        'sigma': DEFAULT_SIGMA if sigma is None else sigma,
        'r_cut': r_cut,
        'backend': backend,
        'processes': processes,
        'species': sorted({s for a in atoms_list for s in a.get_chemical_symbols()}),
    }

    def soap_of(subset):
        with click.progressbar(
            length=len(subset), label=f'SOAP ({backend})', file=click.get_text_stream('stderr')
        ) as bar:
            return averaged_soap(subset, progress=bar.update, **soap_kwargs)

    try:
        if method == 'random':
            picks = selection.random_selection(len(atoms_list), number, seed=seed)
        elif method == 'flat-histogram':
            picks = selection.flat_histogram(enthalpies_per_atom(atoms_list), number, kT=kt, seed=seed)
        elif method == 'combined':
            picks = selection.select_from_trajectories(
                enthalpies_per_atom(atoms_list),
                lambda idx: soap_of([atoms_list[i] for i in idx]),
                number,
                n_flat=n_flat,
                kT=kt,
                seed=seed,
                zeta=zeta,
                stochastic=not deterministic,
            )
        else:
            P = soap_of(atoms_list)
            if method == 'kernel-cur':
                picks = selection.kernel_cur(P, number, zeta=zeta, seed=seed, stochastic=not deterministic)
            else:
                picks = selection.descriptor_cur(P, number, seed=seed, stochastic=not deterministic)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    chosen = []
    for index in np.asarray(picks, dtype=int):
        atoms = atoms_list[index]
        atoms.info['selection_method'] = method
        atoms.info['selection_index'] = int(index)
        chosen.append(atoms)
    with open(output, 'w', encoding='utf-8') as handle:
        write_frames(handle, chosen)
    summary = {'input': str(input_file), 'output': str(output), 'method': method, 'selected': len(chosen)}
    summary['indices'] = [int(i) for i in picks]
    if kt is not None:
        summary['kT'] = kt
    click.echo(json.dumps(summary))
