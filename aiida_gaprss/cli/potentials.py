"""``gaprss potentials``: the potentials that ship with aiida-gaprss — list, show, refit (reproduce) and export."""

from __future__ import annotations

import json
import pathlib

import click

from .params import NodeParam, OutputFile, load_profile_option
from .root import cmd_root
from .utils import echo_table

_ROOT_HELP = 'Folder of the potentials (default: $GAPRSS_POTENTIALS_ROOT, else the package folder).'


def _root_option(function):
    return click.option('--root', type=click.Path(file_okay=False), default=None, help=_ROOT_HELP)(function)


def _call(function, *args, **kwargs):
    """Run a library call; its ValueError (bad name, damaged folder, ...) becomes a usage error."""
    try:
        return function(*args, **kwargs)
    except ValueError as exception:
        raise click.UsageError(str(exception)) from exception


@cmd_root.group('potentials')
def cmd_potentials():
    """The potentials that ship with aiida-gaprss (usable without an AiiDA database).

    In Python: ``from aiida_gaprss import potentials; atoms.calc = potentials.load(NAME)``.
    """


@cmd_potentials.command('list')
@_root_option
def cmd_list(root):
    """List the shipped potentials."""
    from aiida_gaprss import potentials

    names = potentials.available(root)
    if not names:
        click.echo(f'no potentials ship in {potentials.shipped_root(root)}')
        return
    rows = []
    for name in names:
        info = _call(potentials.metadata, name, root)
        training = info.get('training') or {}
        run = (info.get('provenance') or {}).get('run') or {}
        size = f'{info.get("total_size", 0) / 1e6:.2f} MB'
        uuid, created = (run.get('uuid') or '–')[:8], info.get('created', '')[:10]
        rows.append([name, ', '.join(info.get('elements') or []), size, training.get('num_structures'), uuid, created])
    echo_table(rows, ['name', 'elements', 'size', 'structures', 'run', 'written'])


@cmd_potentials.command('show')
@click.argument('name')
@click.option('--card', is_flag=True, help='Print the whole model card (README.md).')
@click.option('--verify', 'check', is_flag=True, help='Check every checksum and the stored check energy.')
@_root_option
def cmd_show(name, card, check, root):
    """Summary of the shipped potential NAME (its model card in short)."""
    from aiida_gaprss import potentials
    from aiida_gaprss.potentials.card import reference_summary

    folder = _call(potentials.path, name, root)
    if card:
        click.echo((folder / 'README.md').read_text(encoding='utf-8'))
        return
    info = _call(potentials.metadata, name, root)
    reference = json.loads((folder / 'reference.json').read_text(encoding='utf-8'))
    training = info.get('training') or {}
    gap = info.get('gap') or {}
    run = (info.get('provenance') or {}).get('run') or {}
    click.echo(f'{name}: GAP for {", ".join(info.get("elements") or [])} ({folder})')
    if info.get('description'):
        click.echo(f'  {info["description"]}')
    click.echo(f'  reference: {reference_summary(reference)}')
    click.echo(f'  training: {training.get("num_structures")} structures, {training.get("num_atoms")} atoms, '
               f'config types {training.get("config_types")}')  # fmt: skip
    click.echo(f'  gap_fit: rnd_seed {gap.get("seed")}, {len(gap.get("descriptors") or [])} descriptors '
               '(command line in gap_fit_command.txt)')  # fmt: skip
    if run:
        click.echo(f'  run: {run.get("process_label")} uuid {run.get("uuid")}, {run.get("reference_evaluations")} '
                   f'reference evaluations, {run.get("iterations")} iterations')  # fmt: skip
    version = info.get('aiida_gaprss') or {}
    commit = (version.get('commit') or 'unknown')[:12]
    click.echo(f'  written {info.get("created")} by aiida-gaprss {version.get("version")} (commit {commit}), '
               f'{info.get("total_size", 0) / 1e6:.2f} MB')  # fmt: skip
    energies = (info.get('phases') or {}).get('energies') or {}
    if energies:
        click.echo('  known phases at 0 GPa with this potential (eV/atom; error against the reference in meV/atom):')
        rows = [[phase, f'{row["energy_per_atom"]:.5f}', f'{row["volume_per_atom"]:.3f}',
                 '–' if row.get('error') is None else f'{row["error"] * 1000:+.1f}']
                for phase, row in energies.items()]  # fmt: skip
        echo_table(rows, ['phase', 'E', 'V (Å^3/atom)', 'error'])
    evaluation = info.get('evaluation') or {}
    if evaluation.get('phases'):
        click.echo(f'  errors over {len(evaluation["seeds"])} fit seeds (meV/atom, mean / largest |error|):')
        rows = [[phase, f'{row["mean"] * 1000:+.1f}', f'{row["max_abs"] * 1000:.1f}']
                for phase, row in evaluation['phases'].items()]  # fmt: skip
        echo_table(rows, ['phase', 'mean', 'max abs'])
    click.echo(f'  reproduce: gaprss potentials refit {name}')
    if check:
        result = _call(potentials.verify, name, root)
        click.echo(f'  checksums: {result["files"]} files match metadata.json')
        energy = _call(potentials.check_energy, name, root)
        verdict = 'matches' if energy['passed'] else 'DOES NOT MATCH'
        click.echo(f'  check structure: {energy["energy_per_atom"]:.6f} eV/atom, {verdict} the stored '
                   f'{energy["expected_energy_per_atom"]:.6f}')  # fmt: skip
        if not energy['passed']:
            raise click.exceptions.Exit(1)


@cmd_potentials.command('refit')
@click.argument('name')
@click.option('--seed', type=int, default=None, help='gap_fit rnd_seed (default: the shipped one, must reproduce).')
@click.option('-o', '--output', type=OutputFile(file_okay=False, dir_okay=True), default=None,
              help='New folder for the fit (default: refit-NAME[-seed-N]).')  # fmt: skip
@click.option('-f', '--force', is_flag=True, help='Use the folder even if it is not empty.')
@click.option('--json', 'as_json', is_flag=True, help='Print the comparison as JSON.')
@_root_option
def cmd_refit(name, seed, output, force, as_json, root):
    """Refit the shipped database of NAME with its exact gap_fit command and compare with the shipped numbers.

    With the shipped seed the refit must reproduce the shipped potential (energies and forces of every training
    structure, the known-phase energies) within the stated tolerances; the command exits with status 1 if it does not.
    With --seed N the differences are the fit's own noise.
    """
    from aiida_gaprss import potentials

    folder = pathlib.Path(output or (f'refit-{name}' + (f'-seed-{seed}' if seed is not None else '')))
    if not as_json:
        click.echo(f'refitting {name} with gap_fit in {folder} ...')
    _call(potentials.refit, name, folder, seed, root=root, force=force)
    result = _call(potentials.compare, name, folder, root=root)
    click.echo(json.dumps(result, indent=1) if as_json else potentials.format_comparison(result))
    if result['passed'] is False:
        raise click.exceptions.Exit(1)


@cmd_potentials.command('export')
@click.argument(
    'node', metavar='PK', type=NodeParam(('GapPotential', 'WorkflowNode'), 'a GAP-RSS run or a GapPotential')
)
@click.option('--name', required=True, help='Name of the shipped potential, e.g. si-pbe-gaprss.')
@click.option('--evaluation', type=click.Path(dir_okay=False, exists=True), default=None,
              help='JSON of validation results over fit seeds (schema in docs/potentials.md).')  # fmt: skip
@click.option('--description', default='', help='A paragraph for the model card.')
@click.option('--phase', 'phases', multiple=True, help='Known phase to evaluate (repeat; default: all of the element).')
@click.option('-f', '--force', is_flag=True, help='Replace an existing folder of that name.')
@_root_option
@load_profile_option
def cmd_export(node, name, evaluation, description, phases, force, root):
    """Write the shipped-potential folder NAME from the finished GAP-RSS run PK (or one of its GapPotentials).

    The GAP files, the training set gap_fit read, the exact command line and the reference settings all come from
    the run's provenance; the known phases are relaxed with the potential and the model card is rendered.
    """
    from aiida_gaprss.workflows.shipping import export_potential

    folder = _call(export_potential, node, name, root=root, evaluation=evaluation, force=force,
                   phases=list(phases) or None, description=description)  # fmt: skip
    size = sum(child.stat().st_size for child in folder.iterdir())
    click.echo(f'wrote {folder} ({size / 1e6:.2f} MB); check it with `gaprss potentials show {name} --verify` and '
               f'reproduce it with `gaprss potentials refit {name}`')  # fmt: skip
