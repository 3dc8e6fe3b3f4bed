"""``StudentFit`` (``gaprss.student_fit``): fit MTP students (motep) to a teacher-labelled training set.

Runs :mod:`aiida_gaprss.jobs.student_fit` on the computer of the job Python: one MTP per level of
``parameters['levels']``, each tested on every StructureSet of the ``test_sets`` namespace (errors against that set's
labels) and, with ``speed_structure``, timed per atom and force call. Indirect learning submits one job per level so
that a cluster fits the levels in parallel.

Outputs: ``students`` (a :class:`~aiida_gaprss.data.student_potential.StudentPotential` per level, keyed
``level_08``, ``level_12``, ...) and ``report`` (per level: settings, training errors, test errors, fit time).

Parameters (validated before submission by :func:`validate_student_fit_parameters`): ``levels`` (required; even,
2--24), ``seed`` (required), ``cutoff`` (Å, default 5.0), ``min_dist`` (Å, default 1.5), ``weights``
(energy : force : stress, default [10, 1, 0.01]), ``max_iter`` (most L-BFGS-B iterations, default 500),
``tolerance`` (stop on the loss: converged when it fell by less than this fraction over ``window`` iterations;
default None, run ``max_iter``) and ``window`` (default 50).
"""

from __future__ import annotations

import logging
import math

from aiida import orm
from aiida.common.folders import Folder

from aiida_gaprss.calculations.python_job import PythonJob
from aiida_gaprss.common import checks
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.data.student_potential import StudentPotential

__all__ = ('StudentFit', 'validate_student_fit_parameters')

LOGGER = logging.getLogger(__name__)

#: Keys of the ``parameters`` input.
KEYS = ('levels', 'seed', 'cutoff', 'min_dist', 'weights', 'max_iter', 'tolerance', 'window')


def validate_student_settings(parameters: dict, field: str = 'parameters') -> None:
    """Raise ``ValueError`` naming the field for bad student settings (``levels`` optional here)."""
    from aiida_gaprss.students.mtp import AVAILABLE_LEVELS

    if 'levels' in parameters:
        levels = parameters['levels']
        if not isinstance(levels, list) or not levels:
            raise ValueError(f'field `{field}.levels`: expected a non-empty list of levels, got {levels!r}')
        for level in levels:
            if not checks.is_integer(level) or level not in AVAILABLE_LEVELS:
                expected = f'even integers in {AVAILABLE_LEVELS[0]}..{AVAILABLE_LEVELS[-1]}'
                raise checks.refuse(checks.field(f'{field}.levels'), expected, level)
        if len(set(levels)) != len(levels):
            raise ValueError(f'field `{field}.levels`: repeated level in {levels!r}')
    if 'seed' in parameters:
        checks.integer(parameters['seed'], checks.field(f'{field}.seed'), minimum=0)
    cutoff = parameters.get('cutoff', 5.0)
    min_dist = parameters.get('min_dist', 1.5)
    for key, value in (('cutoff', cutoff), ('min_dist', min_dist)):
        checks.positive_number(value, checks.field(f'{field}.{key}'), expected='a positive length (Å)')
    if min_dist >= cutoff:
        raise ValueError(f'field `{field}.min_dist`: must be below the cut-off ({cutoff} Å), got {min_dist!r}')
    weights = parameters.get('weights', [10.0, 1.0, 0.01])
    if (
        not isinstance(weights, list)
        or len(weights) != 3
        or any(not checks.is_number(w) or not math.isfinite(w) or w < 0 for w in weights)
        or weights[0] <= 0
    ):
        raise ValueError(
            f'field `{field}.weights`: expected [energy, force, stress] >= 0 with energy > 0, got {weights!r}'
        )
    checks.integer(parameters.get('max_iter', 500), checks.field(f'{field}.max_iter'), minimum=0)
    tolerance = parameters.get('tolerance')
    if tolerance is not None:
        checks.fraction(tolerance, checks.field(f'{field}.tolerance'), expected='a fraction in (0, 1) or null')
    checks.integer(parameters.get('window', 50), checks.field(f'{field}.window'), minimum=1)


def validate_student_fit_parameters(parameters: dict, field: str = 'parameters') -> None:
    """Raise ``ValueError`` naming the field for bad ``StudentFit`` parameters."""
    unknown = sorted(set(parameters) - set(KEYS))
    if unknown:
        raise ValueError(f'field `{field}.{unknown[0]}`: unknown key; known: {list(KEYS)}')
    for key in ('levels', 'seed'):
        if key not in parameters:
            raise ValueError(f'field `{field}.{key}`: required')
    validate_student_settings(parameters, field)


def _validate_inputs(value, _):
    if 'parameters' in value:
        try:
            validate_student_fit_parameters(value['parameters'].get_dict())
        except ValueError as exception:
            return str(exception)
    for name, structures in (value.get('test_sets') or {}).items():
        missing = {'energy', 'forces'} - set(structures.labels)
        if missing:
            return f'field `test_sets.{name}`: every structure needs labels {sorted(missing)}'
    if 'training_set' in value:
        missing = {'energy', 'forces'} - set(value['training_set'].labels)
        if missing:
            return f'field `training_set`: every structure needs labels {sorted(missing)}'
    return None


class StudentFit(PythonJob):
    """Fit and test MTP students in one job (see the module docstring)."""

    TASK = 'student_fit'
    TRAINING_FILENAME = 'train.xyz'
    SPEED_FILENAME = 'speed.xyz'
    REPORT_FILENAME = 'report.json'
    OUTPUT_FILES = (REPORT_FILENAME,)

    @classmethod
    def define(cls, spec):
        """Inputs: training and test sets, speed structure, parameters; outputs ``students`` and ``report``."""
        super().define(spec)
        spec.input('training_set', valid_type=StructureSet, help='Labelled training structures (energy, forces).')
        spec.input_namespace(
            'test_sets', valid_type=StructureSet, dynamic=True, required=False, help='Labelled test sets by name.'
        )
        spec.input(
            'speed_structure',
            valid_type=StructureSet,
            required=False,
            help='Its first structure is used to time force calls of each student.',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            help='levels, seed, cutoff, min_dist, weights, max_iter, tolerance, window.',
        )
        spec.inputs.validator = _validate_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.student_fit'
        spec.output_namespace(
            'students', valid_type=StudentPotential, dynamic=True, help='One fitted student per level (level_08, ...).'
        )
        spec.output('report', valid_type=orm.Dict, help='Per level: settings, training and test errors, fit time.')
        spec.exit_code(320, 'ERROR_STUDENT_FILES_MISSING', message='Student files missing or invalid: {detail}')

    def _levels(self) -> list[int]:
        return [int(level) for level in self.inputs.parameters['levels']]

    def get_job_parameters(self) -> dict:
        """Fit settings and file names of the training set, the test sets and the speed structure."""
        parameters = dict(self.inputs.parameters.get_dict())
        parameters.update(structures=self.TRAINING_FILENAME, report=self.REPORT_FILENAME)
        test_sets = self.inputs.get('test_sets') or {}
        if test_sets:
            parameters['test_sets'] = {name: f'test_{name}.xyz' for name in sorted(test_sets)}
        if 'speed_structure' in self.inputs:
            parameters['speed_structure'] = self.SPEED_FILENAME
        return parameters

    def write_input_files(self, folder: Folder) -> None:
        """Training set, test sets and speed structure as extended XYZ."""
        self.write_structure_set(folder, self.inputs.training_set, self.TRAINING_FILENAME)
        for name, structures in (self.inputs.get('test_sets') or {}).items():
            self.write_structure_set(folder, structures, f'test_{name}.xyz')
        if 'speed_structure' in self.inputs:
            self.write_structure_set(folder, self.inputs.speed_structure, self.SPEED_FILENAME)

    def get_retrieve_list(self) -> list[str]:
        """The base files plus one folder per student."""
        return [*super().get_retrieve_list(), *(f'student_{level}' for level in self._levels())]
