"""``get_builder_from_protocol`` of indirect learning: (teacher, codes, protocol, overrides) to a checked builder.

The protocol (``aiida_gaprss/protocols/indirect.yaml``: ``fast`` or ``precise``) gives the MD preset, the dataset
size, the student levels and settings, the test sets and the job options; ``overrides`` deep-merges on top (the
same :func:`~aiida_gaprss.common.merge.deep_merge` as the GAP-RSS protocols). Every value is validated before
the builder is returned, so bad input fails here with the field named, and nothing is submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiida import orm

from aiida_gaprss.common import checks
from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.protocols import load_indirect_protocol
from aiida_gaprss.workflows.builders import fill_engine
from aiida_gaprss.workflows.indirect_checks import (
    check_validation_settings,
    teacher_elements_error,
    validate_indirect_parameters,
)

__all__ = ('OVERRIDE_KEYS', 'get_indirect_builder')

LOGGER = logging.getLogger(__name__)

#: Keys ``overrides`` may hold.
OVERRIDE_KEYS = ('parameters', 'run_validation', 'reference', 'reference_subset_size')
#: Reference engines and the code each needs.
REFERENCE_CODES = {'ase': 'python', 'qe': 'pw', 'vasp': 'vasp'}


def get_indirect_builder(
    process_class,
    teacher: GapPotential,
    *,
    codes: Mapping[str, orm.AbstractCode],
    protocol: str | None = None,
    overrides: Mapping | None = None,
    teacher_training_set: StructureSet | None = None,
    test_sets: Mapping[str, StructureSet] | None = None,
    reference_inputs: Mapping | None = None,
):
    """Return a builder of ``process_class`` (the IndirectLearningWorkChain) filled from a protocol.

    Parameters
    ----------
    teacher
        The teacher GapPotential (e.g. ``GapRssWorkChain`` output ``potential``).
    codes
        ``python`` (the job Python) always; ``pw`` or ``vasp`` for a QE or VASP ``reference``.
    protocol
        'fast' or 'precise' (default: the file's default, 'fast').
    overrides
        Deep-merged into the protocol: ``parameters`` (sections ``seed``, ``md``, ``dataset``, ``student``,
        ``test_sets``, ``validation``, ``job_options``, ``step_options``), ``run_validation`` (bool),
        ``reference`` (``{'engine': 'ase' | 'qe' | 'vasp', 'ase': {...}, 'qe': protocol name or inputs, ...}``: label
        a subset of the RSS test set with a reference engine) and ``reference_subset_size``.
    teacher_training_set
        The teacher's training set (relabelled by the teacher and added to the students' training set).
    test_sets
        Extra test sets by name.
    reference_inputs
        ReferenceWorkChain inputs (without ``structures``) to label a subset of the RSS test set with, e.g. those the
        teacher's GAP-RSS run labelled its database with
        (:func:`aiida_gaprss.workflows.teacher.reference_inputs_of`), so that the students-versus-reference errors
        use the teacher's own reference settings. An ``overrides['reference']`` replaces them.

    Raises
    ------
    ValueError
        Naming the field, for a bad teacher, protocol, override, missing code or out-of-range number.
    """
    if not isinstance(teacher, GapPotential):
        raise ValueError(f'field `teacher`: expected a GapPotential node, got {type(teacher).__name__}')
    error = teacher_elements_error(teacher.elements)
    if error:
        raise ValueError(error)
    if 'python' not in codes:
        raise ValueError('field `codes.python`: the job Python code is needed')
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS))
    if unknown:
        raise ValueError(f'field `overrides.{unknown[0]}`: unknown key; known: {list(OVERRIDE_KEYS)}')
    settings = deep_merge(load_indirect_protocol(protocol), overrides)
    validate_indirect_parameters(settings['parameters'], teacher.elements[0])
    if settings['parameters']['student'].get('direct') and teacher_training_set is None:
        if overrides.get('parameters', {}).get('student', {}).get('direct'):
            raise ValueError(
                'field `parameters.student.direct`: the direct baseline is fitted to the reference labels of the '
                "teacher's training set; give teacher_training_set"
            )
        LOGGER.warning("no teacher training set: the protocol's direct baseline is left out")
        settings['parameters']['student']['direct'] = False

    builder = process_class.get_builder()
    builder.teacher = teacher
    builder.code = codes['python']
    builder.parameters = orm.Dict(settings['parameters'])
    run_validation = settings.get('run_validation', True)
    checks.boolean(run_validation, checks.field('overrides.run_validation'))
    builder.run_validation = orm.Bool(run_validation)
    if run_validation:
        check_validation_settings(settings['parameters'], teacher.elements[0])
    if teacher_training_set is not None:
        builder.teacher_training_set = teacher_training_set
    if test_sets:
        builder.test_sets = dict(test_sets)

    reference = settings.get('reference')
    if reference:
        _set_reference(builder, dict(reference), codes, settings)
    elif reference_inputs:
        _check_reference_size(settings)
        builder.reference_subset_size = orm.Int(settings.get('reference_subset_size', 10))
        builder.reference = dict(reference_inputs)
    return builder


def _check_reference_size(settings: Mapping) -> None:
    size = settings.get('reference_subset_size', 10)
    checks.integer(size, checks.field('overrides.reference_subset_size'), minimum=1)
    if settings['parameters'].get('test_sets', {}).get('rss', {}).get('n', 0) < 1:
        raise ValueError('field `overrides.reference`: it labels a subset of the RSS test set, whose size is 0')


def _set_reference(builder, reference: dict, codes, settings) -> None:
    """Fill the ``reference`` namespace (ReferenceWorkChain inputs) from the ``reference`` override."""
    engine = reference.pop('engine', None)
    if engine not in REFERENCE_CODES:
        raise ValueError(f'field `overrides.reference.engine`: expected one of {list(REFERENCE_CODES)}, got {engine!r}')
    code = REFERENCE_CODES[engine]
    if code not in codes:
        raise ValueError(f'field `codes.{code}`: a code is needed for the reference engine {engine!r}')
    _check_reference_size(settings)
    builder.reference_subset_size = orm.Int(settings.get('reference_subset_size', 10))
    namespace = builder.reference
    namespace.engine = orm.Str(engine)
    choice = reference.pop(engine, None)
    for key in ('max_concurrent',):
        if key in reference:
            setattr(namespace, key, orm.Int(reference.pop(key)))
    if reference:
        raise ValueError(f'field `overrides.reference.{sorted(reference)[0]}`: unknown key')
    if engine == 'ase':
        choice = dict(choice or {})
        if 'calculator' not in choice and 'potential' not in choice:
            raise ValueError('field `overrides.reference.ase.calculator`: give an ASE calculator spec')
    fill_engine(namespace, engine, choice, codes[code])
