"""``gaprss report``: one self-contained HTML page of a run (settings, budget, iterations, plots, lineage)."""

from __future__ import annotations

import click

from . import cmd_root
from .utils import load_profile_option, output_options, output_path


@cmd_root.command('report')
@click.argument('pk', type=int)
@output_options('HTML file (default gaprss-report-PK.html).')
@load_profile_option
def cmd_report(pk, output, force):
    """Write a self-contained HTML report of the GAP-RSS or indirect-learning run PK (every plot inline).

    PK may also be a student-validation calculation (``gaprss.student_validation``).
    """
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
    path = output_path(output, f'gaprss-report-{pk}.html', force)
    size = writers[label](node, path)
    click.echo(f'wrote {path} ({size / 1e3:.0f} kB); open it in a browser')
