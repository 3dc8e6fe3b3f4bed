"""``gaprss report``: one self-contained HTML page of a run (settings, budget, iterations, plots, lineage)."""

from __future__ import annotations

import click

from . import cmd_root
from .utils import load_profile_option


@cmd_root.command('report')
@click.argument('pk', type=int)
@click.option(
    '-o', '--output', type=click.Path(dir_okay=False), default=None, help='HTML file (default gaprss-report-PK.html).'
)
@click.option('-f', '--force', is_flag=True, help='Overwrite an existing file.')
@load_profile_option
def cmd_report(pk, output, force):
    """Write a self-contained HTML report of the GAP-RSS run PK (every plot inline)."""
    import pathlib

    from aiida import orm

    from aiida_gaprss.report import write_report

    node = orm.load_node(pk)
    if node.process_label != 'GapRssWorkChain':
        raise click.BadParameter(f'node {pk} is a {node.process_label or type(node).__name__}, not a GAP-RSS run')
    path = pathlib.Path(output or f'gaprss-report-{pk}.html')
    if path.exists() and not force:
        raise click.BadParameter(f'{path} exists; use --force to overwrite', param_hint='--output')
    size = write_report(node, path)
    click.echo(f'wrote {path} ({size / 1e3:.0f} kB); open it in a browser')
