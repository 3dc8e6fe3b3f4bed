"""``gaprss report``: one self-contained HTML page of a run (settings, budget, iterations, plots, lineage)."""

from __future__ import annotations

import click

from .params import NodeParam, load_profile_option
from .root import cmd_root
from .utils import output_options, output_path

#: What ``gaprss report`` writes a page of: the process label and its writer (in aiida_gaprss.report).
WRITERS = {
    'GapRssWorkChain': 'write_report',
    'IndirectLearningWorkChain': 'write_indirect_report',
    'StudentValidation': 'write_indirect_report',
}


@cmd_root.command('report')
@click.argument('node', metavar='PK', type=NodeParam(tuple(WRITERS), 'a GAP-RSS or indirect-learning run'))
@output_options('HTML file (default gaprss-report-PK.html).')
@load_profile_option
def cmd_report(node, output, force):
    """Write a self-contained HTML report of the GAP-RSS or indirect-learning run PK (every plot inline).

    PK may also be a student-validation calculation (``gaprss.student_validation``).
    """
    from aiida_gaprss import report

    path = output_path(output, f'gaprss-report-{node.pk}.html', force)
    size = getattr(report, WRITERS[node.process_label])(node, path)
    click.echo(f'wrote {path} ({size / 1e3:.0f} kB); open it in a browser')
