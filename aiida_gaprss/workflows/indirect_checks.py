"""Checks of indirect-learning input: ``parameters`` sections, the validation settings and the whole input set.

Every check raises (or, as the spec validator, returns) a message naming the field, e.g.
``field `parameters.student.levels`: expected even integers in 2..24, got 7``, before anything is submitted. Used by
:func:`aiida_gaprss.workflows.indirect_builder.get_indirect_builder` and by the spec of
:class:`aiida_gaprss.workflows.indirect.IndirectLearningWorkChain`.
"""

from __future__ import annotations

import copy

from aiida_gaprss.calculations.generate_pool import validate_pool_parameters
from aiida_gaprss.calculations.relax_batch import validate_relax_parameters
from aiida_gaprss.calculations.select_structures import validate_selection_parameters
from aiida_gaprss.calculations.student_fit import validate_student_settings
from aiida_gaprss.calculations.teacher_md import validate_teacher_md_parameters
from aiida_gaprss.common import checks
from aiida_gaprss.students.filters import validate_filter_settings

__all__ = (
    'RESERVED_TEST_SETS',
    'SELECTION_METHODS',
    'STEPS',
    'SUPPORTED_ELEMENTS',
    'fit_seeds',
    'teacher_elements_error',
    'validate_indirect_inputs',
    'validate_indirect_parameters',
    'check_validation_settings',
    'validation_job_parameters',
)

#: Elements indirect learning is set up for: its MD presets (protocols/md.yaml: the start's volume per atom and
#: minimum distance, the melt and quench temperatures, the barostat's compressibility) and its physically guided
#: validation (the similarity to simple-hexagonal Si, the quench against diamond) are Si's.
SUPPORTED_ELEMENTS = ('Si',)
#: Sections of ``parameters``.
SECTIONS = ('seed', 'md', 'dataset', 'student', 'test_sets', 'validation', 'job_options', 'step_options')
#: Keys of each section.
MD_KEYS = ('protocol', 'overrides', 'runs', 'repeats')
DATASET_KEYS = ('size', 'method', 'soap', 'zeta', 'processes', 'filter')
SELECTION_METHODS = {'cur': 'kernel_cur', 'random': 'random', 'stride': None}
STUDENT_KEYS = ('levels', 'cutoff', 'min_dist', 'weights', 'max_iter', 'tolerance', 'window', 'seeds', 'direct')
TEST_SET_KEYS = ('rss', 'compression', 'relabel_extra')
RSS_KEYS = ('n', 'natoms', 'symmops', 'pressure', 'fmax', 'steps', 'processes')
COMPRESSION_KEYS = ('size', 'min_pressure')
STEPS = ('md', 'generate', 'relabel', 'select', 'relax', 'label', 'fit', 'validation')
#: Names of the test sets the workflow makes (extra test sets may not use them).
RESERVED_TEST_SETS = ('rss', 'compression', 'rss_reference')


def _check_keys(section, known, field: str) -> dict:
    if not isinstance(section, dict):
        raise ValueError(f'field `{field}`: expected a dict, got {section!r}')
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ValueError(f'field `{field}.{unknown[0]}`: unknown key; known: {list(known)}')
    return section


def _reprefix(exception: ValueError, old: str, new: str) -> ValueError:
    return ValueError(str(exception).replace(old, new, 1))


def validate_indirect_parameters(parameters: dict, element: str = 'Si') -> None:
    """Raise ``ValueError`` naming the field (``parameters.<section>.<key>``) for bad indirect-learning parameters."""
    _check_keys(parameters, SECTIONS, 'parameters')
    seed = checks.integer(parameters.get('seed', 1), checks.field('parameters.seed'), minimum=0)

    md = _check_keys(parameters.get('md', {}), MD_KEYS, 'parameters.md')
    try:
        validate_teacher_md_parameters({**md, 'seed': seed, 'element': element}, field='parameters.md')
    except ValueError as exception:
        raise _reprefix(exception, 'parameters.md.seed', 'parameters.seed') from exception

    runs = md.get('runs', ['compression'])
    if len(set(runs)) != len(runs):
        raise ValueError(f'field `parameters.md.runs`: repeated run in {runs!r}; use parameters.md.repeats')

    dataset = _check_keys(parameters.get('dataset', {}), DATASET_KEYS, 'parameters.dataset')
    if 'size' not in dataset:
        raise ValueError('field `parameters.dataset.size`: required (number of snapshots)')
    checks.integer(dataset['size'], checks.field('parameters.dataset.size'), minimum=1)
    method = dataset.get('method', 'cur')
    if method not in SELECTION_METHODS:
        raise ValueError(
            f'field `parameters.dataset.method`: expected one of {list(SELECTION_METHODS)}, got {method!r}'
        )
    if SELECTION_METHODS[method]:
        selection = {key: dataset[key] for key in ('soap', 'zeta', 'processes') if key in dataset}
        try:
            validate_selection_parameters({**selection, 'method': SELECTION_METHODS[method], 'n': 1, 'seed': seed})
        except ValueError as exception:
            raise _reprefix(exception, 'parameters.', 'parameters.dataset.') from exception

    validate_filter_settings(dataset.get('filter', {}), 'parameters.dataset.filter')

    student = _check_keys(parameters.get('student', {}), STUDENT_KEYS, 'parameters.student')
    if 'levels' not in student:
        raise ValueError('field `parameters.student.levels`: required (list of MTP levels)')
    validate_student_settings(
        {key: value for key, value in student.items() if key not in ('seeds', 'direct')}, 'parameters.student'
    )
    fit_seeds(parameters)
    checks.boolean(student.get('direct', False), checks.field('parameters.student.direct'))

    test_sets = _check_keys(parameters.get('test_sets', {}), TEST_SET_KEYS, 'parameters.test_sets')
    rss = _check_keys(test_sets.get('rss', {}), RSS_KEYS, 'parameters.test_sets.rss')
    if checks.integer(rss.get('n', 0), checks.field('parameters.test_sets.rss.n'), minimum=0) > 0:
        pool = {key: rss[key] for key in ('natoms', 'symmops', 'processes') if key in rss}
        try:
            validate_pool_parameters({**pool, 'element': element, 'n': rss['n'], 'seed': seed})
        except ValueError as exception:
            raise _reprefix(exception, 'parameters.', 'parameters.test_sets.rss.') from exception
        relax = {key: rss[key] for key in ('pressure', 'fmax', 'steps', 'processes') if key in rss}
        try:
            validate_relax_parameters({**relax, 'seed': seed})
        except ValueError as exception:
            raise _reprefix(exception, 'parameters.', 'parameters.test_sets.rss.') from exception
    compression = _check_keys(test_sets.get('compression', {}), COMPRESSION_KEYS, 'parameters.test_sets.compression')
    checks.integer(compression.get('size', 0), checks.field('parameters.test_sets.compression.size'), minimum=0)
    min_pressure = compression.get('min_pressure', 5.0)
    checks.number(min_pressure, checks.field('parameters.test_sets.compression.min_pressure'), expected='GPa')
    if not isinstance(test_sets.get('relabel_extra', True), bool):
        raise ValueError('field `parameters.test_sets.relabel_extra`: expected true or false')

    if not isinstance(parameters.get('validation', {}), dict):
        raise ValueError('field `parameters.validation`: expected a dict of validation-job parameters')
    if not isinstance(parameters.get('job_options', {}), dict):
        raise ValueError('field `parameters.job_options`: expected a dict of metadata.options')
    step_options = _check_keys(parameters.get('step_options', {}), STEPS, 'parameters.step_options')
    for step, options in step_options.items():
        if not isinstance(options, dict):
            raise ValueError(f'field `parameters.step_options.{step}`: expected a dict of metadata.options')


def validation_job_parameters(parameters: dict, element: str) -> dict:
    """Parameters of the validation job.

    ``parameters['validation']`` may name a ``preset`` of :data:`~aiida_gaprss.calculations.student_validation.PRESETS`
    (its MD, cost cell, similarity grid and quench settings; the other keys of the section change it one level deep);
    without a preset the validation MD is the run's own MD protocol. The run's seed and element are always used.
    """
    from aiida_gaprss.calculations.student_validation import PRESETS

    validation = copy.deepcopy(parameters.get('validation', {}))
    preset = validation.pop('preset', None)
    if preset is None:
        md = parameters.get('md', {})
        result = {'protocol': md.get('protocol', 'fast'), 'overrides': copy.deepcopy(md.get('overrides', {}))}
    elif preset in PRESETS:
        result = copy.deepcopy(PRESETS[preset])
    else:
        raise ValueError(f'field `parameters.validation.preset`: expected one of {sorted(PRESETS)}, got {preset!r}')
    for key, value in validation.items():
        if isinstance(result.get(key), dict) and isinstance(value, dict) and key != 'overrides':
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    result.update(seed=int(parameters.get('seed', 1)), element=element)
    return result


def check_validation_settings(parameters: dict, element: str) -> None:
    """Check ``parameters['validation']`` with the validation job's own validator (as ``parameters.validation.*``)."""
    from aiida_gaprss.calculations.student_validation import validate_student_validation_parameters

    job_parameters = validation_job_parameters(parameters, element)  # a bad preset names its own field
    try:
        validate_student_validation_parameters(job_parameters)
    except ValueError as exception:
        raise _reprefix(exception, 'parameters.', 'parameters.validation.') from exception


def teacher_elements_error(elements) -> str | None:
    """Why a teacher of ``elements`` cannot teach here (naming the field), or None: one element, and one of
    :data:`SUPPORTED_ELEMENTS` (another element would silently get Si's MD temperatures and volumes)."""
    elements = list(elements)
    if len(elements) != 1:
        return f'field `teacher`: indirect learning supports one element; the teacher describes {elements}'
    if elements[0] not in SUPPORTED_ELEMENTS:
        return (
            f'field `teacher`: indirect learning is set up for {", ".join(SUPPORTED_ELEMENTS)} only (its MD presets: '
            'volumes, melting and quench temperatures, barostat compressibility; its validation: the similarity to '
            f'simple-hexagonal Si); the teacher describes {elements[0]}'
        )
    return None


def validate_indirect_inputs(value, _):
    """Spec validator of the whole input set: the message naming the field, or None."""
    teacher = value.get('teacher')
    elements = teacher.elements if teacher is not None else ['Si']
    error = teacher_elements_error(elements)
    if error:
        return error
    try:
        validate_indirect_parameters(value['parameters'].get_dict(), elements[0])
    except ValueError as exception:
        return str(exception)
    run_validation = value.get('run_validation')
    if run_validation is None or run_validation.value:
        parameters = value['parameters'].get_dict()
        try:
            check_validation_settings(parameters, elements[0])
        except ValueError as exception:
            return str(exception)
        checks = parameters.get('validation', {}).get('checks', ['errors'])
        test_sets = parameters.get('test_sets', {})
        has_test_set = bool(value.get('test_sets')) or test_sets.get('rss', {}).get('n', 0) > 0
        if 'errors' in checks and not (has_test_set or test_sets.get('compression', {}).get('size', 0) > 0):
            return 'field `parameters.test_sets`: the validation (errors check) needs a test set; none is made'
    for name, structures in (value.get('test_sets') or {}).items():
        if name in RESERVED_TEST_SETS:
            return f'field `test_sets.{name}`: the name is used by the workflow; choose another'
        relabel = value['parameters'].get_dict().get('test_sets', {}).get('relabel_extra', True)
        if not relabel and not {'energy', 'forces'} <= set(structures.labels):
            return f'field `test_sets.{name}`: unlabelled and relabel_extra is false'
    if value['parameters'].get_dict().get('student', {}).get('direct') and 'teacher_training_set' not in value:
        return (
            'field `parameters.student.direct`: the direct baseline is fitted to the reference labels of the '
            "teacher's training set; give teacher_training_set"
        )
    if 'teacher_training_set' in value:
        missing = {'energy', 'forces'} - set(value['teacher_training_set'].labels)
        if missing and value['parameters'].get_dict().get('student', {}).get('direct'):
            return f'field `teacher_training_set`: the direct baseline needs labels {sorted(missing)} everywhere'
    if 'reference' in value and value['reference']:
        rss = value['parameters'].get_dict().get('test_sets', {}).get('rss', {})
        if rss.get('n', 0) < 1:
            return 'field `reference`: the reference labels a subset of the RSS test set; test_sets.rss.n is 0'
        size = value.get('reference_subset_size')
        if size is not None and size.value < 1:
            return f'field `reference_subset_size`: expected an integer >= 1, got {size.value}'
    return None


def fit_seeds(parameters: dict) -> list[int]:
    """Seeds of the student fits: ``parameters.student.seeds`` or ``[parameters.seed]``; ``ValueError`` if bad."""
    seeds = parameters.get('student', {}).get('seeds')
    if seeds is None:
        return [int(parameters.get('seed', 1))]
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f'field `parameters.student.seeds`: expected a non-empty list of integers, got {seeds!r}')
    for seed in seeds:
        checks.integer(seed, checks.field('parameters.student.seeds'), minimum=0, expected='integers >= 0')
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'field `parameters.student.seeds`: repeated seed in {seeds!r}')
    return list(seeds)
