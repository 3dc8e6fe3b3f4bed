"""``gaprss indirect``: submit indirect learning (students taught by a GAP teacher) through the daemon."""

from __future__ import annotations

import click

from .params import JsonObject, NodeParam, load_profile_option
from .root import cmd_root
from .utils import resolve_code


class TeacherParam(NodeParam):
    """The teacher: a pk (a GapPotential, or a GAP-RSS run whose potential teaches) or a shipped potential's name."""

    name = 'teacher'

    def __init__(self):
        super().__init__(('GapPotential', 'WorkflowNode'), 'a GapPotential or a GapRssWorkChain')

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip().isdigit():
            from aiida_gaprss.potentials import available

            shipped = available()
            if value not in shipped:
                self.fail(
                    f'no node pk and no shipped potential {value!r}; shipped: {", ".join(shipped) or "none"}',
                    param,
                    ctx,
                )
            return value
        return super().convert(value, param, ctx)


@cmd_root.command('indirect')
@click.argument('teacher', metavar='TEACHER', type=TeacherParam())
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
@click.option(
    '--overrides',
    type=JsonObject(),
    default=None,
    help='JSON overrides of the protocol (see get_builder_from_protocol).',
)
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

    from aiida.engine import submit

    from aiida_gaprss.common.merge import deep_merge
    from aiida_gaprss.workflows.indirect import IndirectLearningWorkChain
    from aiida_gaprss.workflows.teacher import reference_inputs_of, teacher_from_node, teacher_from_shipped

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
    if direct is not None:
        extra = deep_merge(extra, {'parameters': {'student': {'direct': direct}}})
    reference_inputs, shipped_reference = None, None
    try:
        if isinstance(teacher, str):
            potential, database, shipped_reference = teacher_from_shipped(teacher)
        else:
            potential, database = teacher_from_node(teacher)
            reference_inputs = reference_inputs_of(teacher) if reference else None
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
    if reference and reference_inputs is None and 'reference' not in extra:
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
