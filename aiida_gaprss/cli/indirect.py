"""``gaprss indirect``: submit indirect learning (students taught by a GAP teacher) through the daemon."""

from __future__ import annotations

import json

import click

from . import cmd_root
from .utils import load_profile_option, resolve_code


@cmd_root.command('indirect')
@click.argument('teacher')
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
@click.option(
    '--reference/--no-reference',
    default=True,
    show_default=True,
    help="Label a subset of the RSS test set with the reference settings of the teacher's GAP-RSS run (found by "
    'provenance) for the students-versus-reference errors.',
)
@click.option(
    '--direct/--no-direct',
    default=None,
    help="Also fit the directly-learned baseline to the teacher's training set (default: the protocol's).",
)
@click.option('--validation/--no-validation', default=True, show_default=True, help='Validate the students.')
@click.option('--python-code', default='gaprss-python@localhost', show_default=True, help='Code of the job Python.')
@click.option(
    '--reference-code',
    default=None,
    help='Code of the reference engine of a shipped teacher (default: pw@localhost for QE; VASP needs one).',
)
@click.option('--overrides', default=None, help='JSON overrides of the protocol (see get_builder_from_protocol).')
@click.option('--wait/--no-wait', default=False, show_default=True, help='Wait for the run to finish.')
@load_profile_option
def cmd_indirect(
    teacher,
    protocol,
    levels,
    size,
    seed,
    training_set,
    reference,
    direct,
    validation,
    python_code,
    reference_code,
    overrides,
    wait,
):
    """Submit indirect learning with the teacher TEACHER and print its pk.

    TEACHER: the pk of a GapPotential or of a finished GAP-RSS run, or the name of a potential that ships with the
    package (`gaprss potentials list`), which is then reproducible from the repository alone.
    """
    import time

    from aiida import orm
    from aiida.common.exceptions import NotExistent
    from aiida.engine import submit

    from aiida_gaprss.rss.gap_parameters import deep_merge
    from aiida_gaprss.workflows.indirect import IndirectLearningWorkChain
    from aiida_gaprss.workflows.teacher import reference_inputs_of, teacher_from_node, teacher_from_shipped

    try:
        extra = json.loads(overrides) if overrides else {}
    except json.JSONDecodeError as exception:
        raise click.BadParameter(f'not valid JSON: {exception}', param_hint='--overrides') from exception
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
    if direct is not None:
        extra = deep_merge(extra, {'parameters': {'student': {'direct': direct}}})
    reference_inputs, shipped_reference = None, None
    if teacher.isdigit():
        try:
            node = orm.load_node(int(teacher))
        except NotExistent as exception:
            raise click.BadParameter(f'no node with pk {teacher}', param_hint='TEACHER') from exception
        try:
            potential, database = teacher_from_node(node)
        except ValueError as exception:
            raise click.BadParameter(str(exception), param_hint='TEACHER') from exception
        reference_inputs = reference_inputs_of(node) if reference else None
    else:
        try:
            potential, database, shipped_reference = teacher_from_shipped(teacher)
        except ValueError as exception:
            raise click.BadParameter(str(exception), param_hint='TEACHER') from exception
    codes = {'python': resolve_code(python_code, '--python-code')}
    if reference and shipped_reference and 'reference' not in extra:
        engine = shipped_reference['engine']
        label = reference_code or ('pw@localhost' if engine == 'qe' else None)
        if label is None:
            raise click.BadParameter(
                f'the teacher was labelled with {engine}: give its code', param_hint='--reference-code'
            )
        codes['pw' if engine == 'qe' else 'vasp'] = resolve_code(label, '--reference-code')
        extra['reference'] = shipped_reference
    if reference_inputs is None and shipped_reference is None and 'reference' not in extra and reference:
        click.echo('no reference settings found for the teacher: no students-versus-reference errors', err=True)
    try:
        builder = IndirectLearningWorkChain.get_builder_from_protocol(
            potential,
            codes=codes,
            protocol=protocol,
            overrides=extra,
            teacher_training_set=database if training_set else None,
            reference_inputs=reference_inputs,
        )
        process = submit(builder)
    except ValueError as exception:
        raise click.UsageError(str(exception)) from exception
    click.echo(f'Submitted IndirectLearningWorkChain<{process.pk}> (teacher GapPotential<{potential.pk}>, '
               f'protocol {protocol}{", with its training set" if training_set and database else ""})')  # fmt: skip
    click.echo(f'follow it with: verdi process report {process.pk}')
    if wait:
        while not process.is_terminated:
            time.sleep(5)
        click.echo(f'IndirectLearningWorkChain<{process.pk}>: {process.process_state.value} [{process.exit_status}]')
        if process.is_finished_ok:
            for namespace in ('students', 'direct_students'):
                for key, student in sorted(process.outputs.get(namespace, {}).items()):
                    click.echo(f'  {namespace}.{key}: StudentPotential<{student.pk}>')
