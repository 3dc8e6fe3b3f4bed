"""``gaprss lineage`` and ``gaprss export``: where a potential came from, and an archive that reproduces it."""

from __future__ import annotations

import json

import click

from .params import NodeParam, load_profile_option
from .root import cmd_root
from .utils import output_options, output_path


@cmd_root.command('lineage')
@click.argument('node', metavar='PK', type=NodeParam(('GapPotential', 'WorkflowNode'), 'a GapPotential or a run'))
@click.option('--json', 'as_json', is_flag=True, help='Print JSON.')
@load_profile_option
def cmd_lineage(node, as_json):
    """Where the potential PK (or the final potential of the run PK) came from."""
    from aiida import orm

    from aiida_gaprss.provenance import lineage

    if isinstance(node, orm.WorkflowNode):
        if 'potential' not in node.outputs:
            raise click.BadParameter(f'run {node.pk} has no output potential (yet)', param_hint='PK')
        node = node.outputs.potential
    info = lineage(node)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    potential = info['potential']
    click.echo(f'GapPotential<{potential["pk"]}> {potential["uuid"]}  sha256 {potential["sha256"]}')
    click.echo(f'  elements: {", ".join(potential["elements"] or [])}')
    if info.get('run'):
        run = info['run']
        iteration = info.get('iteration', {})
        click.echo(f'  run: GapRssWorkChain<{run["pk"]}> ({run["element"]}, {run["state"]}), {iteration.get("label")}')
    fit = info.get('fit')
    if fit:
        click.echo(
            f'  fitted by: {fit["process"]}<{fit["pk"]}> with {fit["code"]["label"]} ({fit["code"].get("executable")})'
        )
    training = info.get('training_set')
    if training:
        click.echo(f'  training set: StructureSet<{training["pk"]}> {training["num_structures"]} structures, '
                   f'{training["num_atoms"]} atoms, sha256 {training["sha256"]}')  # fmt: skip
        click.echo(f'    labels {training["labels"]}, config types {training["config_types"]}')
    database = info.get('database')
    if database:
        click.echo(f'  database: StructureSet<{database["pk"]}> {database["num_structures"]} structures, '
                   f'sha256 {database["sha256"]} (the training set is it with per-structure sigmas)')  # fmt: skip
    reference = info.get('reference')
    if reference:
        click.echo(f'  reference engine: {reference.get("engine")}')
        for key, value in sorted(reference.items()):
            if key != 'engine':
                click.echo(f'    {key}: {json.dumps(value, default=str)}')
    for name, code in (info.get('codes') or {}).items():
        click.echo(f'  code {name}: {code["label"]} -> {code.get("executable")}')
    if info.get('versions'):
        click.echo(f'  versions: {json.dumps(info["versions"])}')
    click.echo(f'  command line: {potential["command_line"]}')


@cmd_root.command('export')
@click.argument('node', metavar='PK', type=NodeParam())
@output_options('Archive file (default gaprss-PK.aiida).')
@load_profile_option
def cmd_export(node, output, force):
    """Write an AiiDA archive of the run (or potential) PK with everything needed to reproduce it.

    The archive holds the node, all its inputs back to the first random cell (structures, codes, parameters,
    reference calculations) and the workflow steps, as `verdi archive create` with the default traversal rules.
    """
    from aiida.tools.archive import create_archive

    path = output_path(output, f'gaprss-{node.pk}.aiida', force)
    create_archive([node], filename=path, overwrite=force)
    click.echo(f'wrote {path} ({path.stat().st_size / 1e6:.1f} MB); import it with `verdi archive import {path}`')
