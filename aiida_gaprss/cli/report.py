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
    """Write a self-contained HTML report of the GAP-RSS or indirect-learning run PK (every plot inline).

    PK may also be a student-validation calculation (``gaprss.student_validation``).
    """
    import pathlib

    from aiida import orm

    from aiida_gaprss.report import write_indirect_report, write_report

    node = orm.load_node(pk)
    writers = {
        'GapRssWorkChain': write_report,
        'IndirectLearningWorkChain': write_indirect_report,
        'StudentValidation': write_indirect_report,
    }
    label = getattr(node, 'process_label', None)
    if label not in writers:
        raise click.BadParameter(
            f'node {pk} is a {label or type(node).__name__}, not a GAP-RSS or indirect-learning run'
        )
    path = pathlib.Path(output or f'gaprss-report-{pk}.html')
    if path.exists() and not force:
        raise click.BadParameter(f'{path} exists; use --force to overwrite', param_hint='--output')
    size = writers[label](node, path)
    click.echo(f'wrote {path} ({size / 1e3:.0f} kB); open it in a browser')
