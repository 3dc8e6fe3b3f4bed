"""``StudentValidation`` (``gaprss.student_validation``): numerical and physically guided validation of students.

Runs :mod:`aiida_gaprss.jobs.student_validation` on the computer of the job Python with the ``teacher``
(GapPotential), every student of the ``students`` namespace (StudentPotential) and the teacher-labelled
``test_sets``: energy and force MAE/RMSE of each student against the teacher labels, the cost per MD step per atom
of every calculator measured in the same job, melt–quench with each calculator and the Table I metrics, and
compression MD from the same start with the SOAP similarity to pressure-adjusted sh Si (Morrow & Deringer 2022,
Figs. 3–4 and Table I; the science is in :mod:`aiida_gaprss.students.validation`).

Outputs: ``report`` (Dict: every number), ``plots.error_vs_cost`` and ``plots.similarity`` (PNG SinglefileData),
``quenched`` (StructureSet of the relaxed melt-quenched cells, ``info['calculator']``). Outputs are attached before
any exit code, so a failed validation keeps its data.

Parameters (validated before submission by :func:`validate_student_validation_parameters`):

``seed`` (required, int >= 0); ``element`` ('Si'); ``checks`` (subset of ``errors``, ``cost``, ``melt_quench``,
``compression``; default all); ``protocol`` ('fast', 'moderate' or 'precise') and ``overrides`` (of
:func:`aiida_gaprss.rss.md.get_protocol`); ``speed`` ({kind: 'amorphous' | 'diamond', natoms, steps, repeats});
``similarity`` ({phase ('sh'), pressures (list of GPa or None), pressure_window, soap}); ``quench`` ({relax, fmax,
steps}).
"""

from __future__ import annotations

import logging
import math

from aiida import orm
from aiida.common.folders import Folder

from aiida_gaprss.calculations.python_job import PythonJob
from aiida_gaprss.common import checks
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.data.student_potential import StudentPotential
from aiida_gaprss.protocols import student_validation_presets

__all__ = (
    'PRESETS',
    'StudentValidation',
    'get_validation_parameters',
    'validate_student_validation_parameters',
)

LOGGER = logging.getLogger(__name__)

KEYS = ('seed', 'element', 'checks', 'protocol', 'overrides', 'speed', 'similarity', 'quench')

#: Validation presets (parameters without ``seed``; ``aiida_gaprss/protocols/student_validation.yaml``, which says
#: what each is for): ``fast`` a smoke test of every check, ``moderate`` the physics on 2 cores, ``precise`` the paper.
PRESETS = student_validation_presets()


def get_validation_parameters(preset: str = 'fast', *, seed: int, element: str = 'Si', overrides: dict | None = None):
    """Parameters of the validation job from a :data:`PRESETS` entry, ``seed``, ``element`` and ``overrides``
    (merged one level deep: ``{'speed': {'natoms': 216}}`` changes only that key). Validated before returning."""
    import copy

    if preset not in PRESETS:
        raise ValueError(f'field `preset`: expected one of {sorted(PRESETS)}, got {preset!r}')
    parameters = {**copy.deepcopy(PRESETS[preset]), 'seed': seed, 'element': element}
    for key, value in (overrides or {}).items():
        if isinstance(parameters.get(key), dict) and isinstance(value, dict) and key != 'overrides':
            parameters[key] = {**parameters[key], **value}
        else:
            parameters[key] = copy.deepcopy(value)
    validate_student_validation_parameters(parameters)
    return parameters


SPEED_KEYS = ('kind', 'natoms', 'steps', 'repeats')
SIMILARITY_KEYS = ('phase', 'pressures', 'pressure_window', 'soap')
QUENCH_KEYS = ('relax', 'fmax', 'steps')


def _sub(parameters: dict, key: str, keys: tuple) -> dict:
    value = parameters.get(key, {})
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError(f'field `parameters.{key}`: expected a dict, got {type(value).__name__}')
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise ValueError(f'field `parameters.{key}.{unknown[0]}`: unknown key; known: {list(keys)}')
    return value


def validate_student_validation_parameters(parameters: dict) -> None:
    """Raise ``ValueError`` naming the field for bad ``StudentValidation`` parameters (see the module docstring)."""
    from aiida_gaprss.calculations.teacher_md import validate_md_protocol
    from aiida_gaprss.jobs.student_validation import CHECKS
    from aiida_gaprss.rss.phases import PHASES
    from aiida_gaprss.students.validation import SIMILARITY_SOAP

    unknown = sorted(set(parameters) - set(KEYS))
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {list(KEYS)}')
    if 'seed' not in parameters:
        raise ValueError('field `parameters.seed`: required')
    checks.integer(parameters['seed'], checks.field('parameters.seed'), minimum=0)
    element = parameters.get('element', 'Si')
    if element not in PHASES or 'diamond' not in PHASES[element]:
        raise ValueError(f'field `parameters.element`: expected an element with a diamond phase, got {element!r}')
    wanted = parameters.get('checks', list(CHECKS))
    if not isinstance(wanted, list) or not wanted or any(check not in CHECKS for check in wanted):
        raise ValueError(f'field `parameters.checks`: expected a non-empty list of {list(CHECKS)}, got {wanted!r}')
    validate_md_protocol(parameters.get('protocol', 'fast'), parameters.get('overrides', {}) or {})
    speed = _sub(parameters, 'speed', SPEED_KEYS)
    if speed.get('kind', 'amorphous') not in ('amorphous', 'diamond'):
        raise ValueError(f"field `parameters.speed.kind`: expected 'amorphous' or 'diamond', got {speed['kind']!r}")
    for key in ('natoms', 'steps', 'repeats'):
        if key in speed:
            checks.integer(speed[key], checks.field(f'parameters.speed.{key}'), minimum=1)
    similarity = _sub(parameters, 'similarity', SIMILARITY_KEYS)
    phase = similarity.get('phase', 'sh')
    if phase not in PHASES.get(element, {}):
        raise ValueError(f'field `parameters.similarity.phase`: unknown phase {phase!r} of {element}')
    pressures = similarity.get('pressures')
    if pressures is not None:
        if not isinstance(pressures, list) or not pressures:
            raise ValueError('field `parameters.similarity.pressures`: expected a non-empty list of pressures (GPa)')
        for value in pressures:
            if not checks.is_number(value) or not math.isfinite(value):
                raise ValueError(f'field `parameters.similarity.pressures`: not a finite pressure: {value!r}')
    if 'pressure_window' in similarity:
        checks.integer(similarity['pressure_window'], checks.field('parameters.similarity.pressure_window'), minimum=1)
    soap = similarity.get('soap') or {}
    if not isinstance(soap, dict) or set(soap) - set(SIMILARITY_SOAP):
        raise ValueError(f'field `parameters.similarity.soap`: expected a dict with keys among {list(SIMILARITY_SOAP)}')
    quench = _sub(parameters, 'quench', QUENCH_KEYS)
    if 'relax' in quench:
        checks.boolean(quench['relax'], checks.field('parameters.quench.relax'))
    if 'fmax' in quench:
        checks.positive_number(quench['fmax'], checks.field('parameters.quench.fmax'))
    if 'steps' in quench:
        checks.integer(quench['steps'], checks.field('parameters.quench.steps'), minimum=1)


def _validate_inputs(value, _):
    if 'parameters' in value:
        try:
            validate_student_validation_parameters(value['parameters'].get_dict())
        except ValueError as exception:
            return str(exception)
    if not value.get('students'):
        return 'field `students`: at least one student is required'
    for name, structures in (value.get('test_sets') or {}).items():
        missing = {'energy', 'forces'} - set(structures.labels)
        if missing:
            return f'field `test_sets.{name}`: every structure needs teacher labels {sorted(missing)}'
    wanted = value['parameters'].get_dict().get('checks') if 'parameters' in value else None
    if (wanted is None or 'errors' in wanted) and not value.get('test_sets'):
        return 'field `test_sets`: the errors check needs at least one teacher-labelled test set'
    return None


class StudentValidation(PythonJob):
    """Validate students against their teacher in one job (see the module docstring)."""

    TASK = 'student_validation'
    TEACHER_FOLDER = 'teacher'
    REPORT_FILENAME = 'report.json'
    QUENCHED_FILENAME = 'quenched.xyz'
    PLOT_FILENAMES = {'error_vs_cost': 'error_vs_cost.png', 'similarity': 'similarity.png'}
    OUTPUT_FILES = (REPORT_FILENAME,)

    @classmethod
    def define(cls, spec):
        """Inputs teacher, students, test_sets, parameters; outputs report, plots, quenched."""
        super().define(spec)
        spec.input('teacher', valid_type=GapPotential, help='The teacher GAP (M1).')
        spec.input_namespace('students', valid_type=StudentPotential, dynamic=True, help='The students (M2) by name.')
        spec.input_namespace(
            'test_sets', valid_type=StructureSet, dynamic=True, required=False,
            help='Teacher-labelled test sets by name (e.g. rss, compression).',
        )  # fmt: skip
        spec.input('parameters', valid_type=orm.Dict, help='seed, element, checks, protocol, overrides, speed, ...')
        spec.inputs.validator = _validate_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.student_validation'
        spec.output('report', valid_type=orm.Dict, help='Errors, costs, similarity curves, melt-quench metrics.')
        spec.output_namespace('plots', valid_type=orm.SinglefileData, dynamic=True, help='error_vs_cost, similarity.')
        spec.output('quenched', valid_type=StructureSet, required=False, help='Relaxed melt-quenched cells.')
        spec.exit_code(320, 'ERROR_TEACHER_FAILED', message='A teacher run failed, no reference to compare: {detail}')
        spec.exit_code(321, 'ERROR_STUDENT_FAILED', message='A student could not be loaded or evaluated: {detail}')
        spec.exit_code(322, 'ERROR_PLOT_FAILED', message='A plot could not be drawn: {detail}')

    def get_job_parameters(self) -> dict:
        """Settings plus the teacher spec, the student folders and the test-set files."""
        parameters = dict(self.inputs.parameters.get_dict())
        parameters['teacher'] = {'type': 'gap', 'xml': f'{self.TEACHER_FOLDER}/{self.inputs.teacher.xml_name}'}
        parameters['students'] = {
            name: {
                'folder': f'students/{name}',
                'level': student.level,
                'seed': student.base.attributes.get('seed', None),
                'family': 'direct' if name.startswith('direct_') else 'indirect',
            }
            for name, student in sorted(self.inputs.students.items())
        }
        parameters['test_sets'] = {name: f'test_{name}.xyz' for name in sorted(self.inputs.get('test_sets') or {})}
        return parameters

    def write_input_files(self, folder: Folder) -> None:
        """Teacher files, one folder per student, test sets as extended XYZ."""
        self.write_potential_files(folder, self.inputs.teacher, self.TEACHER_FOLDER)
        students = folder.get_subfolder('students', create=True)
        for name, student in self.inputs.students.items():
            subfolder = students.get_subfolder(name, create=True)
            for filename in student.filenames:
                with student.base.repository.open(filename, mode='rb') as source:
                    subfolder.create_file_from_filelike(source, filename, mode='wb')
        for name, structures in (self.inputs.get('test_sets') or {}).items():
            self.write_structure_set(folder, structures, f'test_{name}.xyz')

    def get_retrieve_list(self) -> list[str]:
        """The base files plus the optional quenched cells and plots."""
        return [*super().get_retrieve_list(), self.QUENCHED_FILENAME, *self.PLOT_FILENAMES.values()]
