"""``gaprss indirect``: submit indirect learning (students taught by a GAP teacher) through the daemon."""

from __future__ import annotations

import click

from . import cmd_root
from .params import JsonObject, NodeParam, load_profile_option
from .utils import resolve_code

#: The teacher: a GapPotential, or a workflow (a GAP-RSS run) whose potential teaches.
TEACHER = NodeParam(('GapPotential', 'WorkflowNode'), 'a GapPotential or a GapRssWorkChain')


@cmd_root.command('indirect')
@click.argument('node', metavar='TEACHER_PK', type=TEACHER)
@click.option('--protocol', default='fast', show_default=True, help='fast or precise (protocols/indirect.yaml).')
@click.option('--levels', default=None, help="MTP levels, comma separated (default: the protocol's), e.g. 8,12,16.")
@click.option('--size', type=int, default=None, help="Snapshots in the training set (default: the protocol's).")
@click.option('--seed', type=int, default=None, help="Random seed of the run (default: the protocol's).")
@click.option(
    '--training-set/--no-training-set',
    default=True,
    show_default=True,
    help="Add the teacher's own training set, relabelled by the teacher (found by provenance).",
)
@click.option('--validation/--no-validation', default=True, show_default=True, help='Validate the students.')
@click.option('--python-code', default='gaprss-python@localhost', show_default=True, help='Code of the job Python.')
@click.option(
    '--overrides',
    type=JsonObject(),
    default=None,
    help='JSON overrides of the protocol (see get_builder_from_protocol).',
)
@click.option('--wait/--no-wait', default=False, show_default=True, help='Wait for the run to finish.')
@load_profile_option
def cmd_indirect(node, protocol, levels, size, seed, training_set, validation, python_code, overrides, wait):
    """Submit indirect learning with the teacher TEACHER_PK (a GapPotential or a GAP-RSS run) and print its pk."""
    import time

    from aiida.engine import submit

    from aiida_gaprss.rss.gap_parameters import deep_merge
    from aiida_gaprss.workflows.indirect import IndirectLearningWorkChain, teacher_from_node

    extra = dict(overrides or {})
    if levels is not None:
        try:
            values = [int(level) for level in levels.split(',')]
        except ValueError as exception:
            raise click.BadParameter(f'expected integers, got {levels!r}', param_hint='--levels') from exception
        extra = deep_merge(extra, {'parameters': {'student': {'levels': values}}})
    if size is not None:
        extra = deep_merge(extra, {'parameters': {'dataset': {'size': size}}})
    if seed is not None:
        extra = deep_merge(extra, {'parameters': {'seed': seed}})
    if not validation:
        extra['run_validation'] = False
    try:
        teacher, database = teacher_from_node(node)
    except ValueError as exception:
        raise click.BadParameter(str(exception), param_hint='TEACHER_PK') from exception
    codes = {'python': resolve_code(python_code, '--python-code')}
    try:
        builder = IndirectLearningWorkChain.get_builder_from_protocol(
            teacher,
            codes=codes,
            protocol=protocol,
            overrides=extra,
            teacher_training_set=database if training_set else None,
        )
        process = submit(builder)
    except ValueError as exception:
        raise click.UsageError(str(exception)) from exception
    click.echo(f'Submitted IndirectLearningWorkChain<{process.pk}> (teacher GapPotential<{teacher.pk}>, '
               f'protocol {protocol}{", with its training set" if training_set and database else ""})')  # fmt: skip
    click.echo(f'follow it with: verdi process report {process.pk}')
    if wait:
        while not process.is_terminated:
            time.sleep(5)
        click.echo(f'IndirectLearningWorkChain<{process.pk}>: {process.process_state.value} [{process.exit_status}]')
        if process.is_finished_ok:
            for key, student in sorted(process.outputs.students.items()):
                click.echo(f'  {key}: StudentPotential<{student.pk}>')
