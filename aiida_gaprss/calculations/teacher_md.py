"""``TeacherMd`` (``gaprss.teacher_md``): compression and melt--quench MD driven and labelled by a teacher GAP.

Indirect learning (seed 003): the teacher :class:`~aiida_gaprss.data.gap_potential.GapPotential` runs MD from random
starts (or from the ``structures`` given) in a job on the computer of the job Python
(:mod:`aiida_gaprss.jobs.teacher_md`, presets of :data:`aiida_gaprss.rss.md.PROTOCOLS`). Outputs: ``snapshots``
(every snapshot with the teacher's energy, forces and virial and the MD state in ``info``), ``final`` (the last state
of every run, e.g. the melt-quenched cells) and ``report`` (protocol, runs, wall times, atom-steps per second).

Parameters (validated before submission by :func:`validate_teacher_md_parameters`): ``seed`` (required),
``protocol`` ('fast' or 'precise'), ``overrides`` (changes to the preset), ``runs`` (any of 'compression',
'melt_quench'), ``repeats`` and ``element``.
"""

from __future__ import annotations

import logging

from aiida import orm
from aiida.common.folders import Folder

from aiida_gaprss.calculations.python_job import PythonJob
from aiida_gaprss.common import checks
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet

__all__ = ('RUNS', 'TeacherMd', 'validate_teacher_md_parameters')

LOGGER = logging.getLogger(__name__)

#: MD runs the job knows.
RUNS = ('compression', 'melt_quench')
#: Keys of the ``parameters`` input.
KEYS = ('seed', 'protocol', 'overrides', 'runs', 'repeats', 'element')


def validate_md_protocol(protocol: str, overrides: dict | None, field: str = 'parameters') -> dict:
    """Return the MD protocol ``protocol`` with ``overrides``; ``ValueError`` naming the field for bad values."""
    from aiida_gaprss.rss.md import BAROSTATS, PROTOCOLS, get_protocol

    if protocol not in PROTOCOLS:
        raise ValueError(f'field `{field}.protocol`: expected one of {sorted(PROTOCOLS)}, got {protocol!r}')
    if not isinstance(overrides or {}, dict):
        raise ValueError(f'field `{field}.overrides`: expected a dict')
    try:
        merged = get_protocol(protocol, overrides or {})
    except ValueError as exception:
        raise ValueError(f'field `{field}.overrides`: {exception}') from exception
    for key in ('natoms', 'update_every', 'snapshot_every'):
        checks.integer(merged[key], checks.field(f'{field}.overrides.{key}'), minimum=1)
    for key in ('volume_per_atom', 'timestep_fs', 'taup_fs', 'compressibility'):
        checks.positive_number(merged[key], checks.field(f'{field}.overrides.{key}'))
    checks.non_negative_number(merged['min_distance'], checks.field(f'{field}.overrides.min_distance'))
    if merged['barostat'] not in BAROSTATS:
        raise ValueError(f'field `{field}.overrides.barostat`: expected one of {BAROSTATS}, got {merged["barostat"]!r}')
    compression = merged['compression']
    checks.positive_number(compression['temperature'], checks.field(f'{field}.overrides.compression.temperature'))
    for key in ('thermalise_ps', 'ramp_ps', 'p_start', 'p_max'):
        checks.non_negative_number(compression[key], checks.field(f'{field}.overrides.compression.{key}'))
    if compression['thermalise_ps'] + compression['ramp_ps'] <= 0:
        raise ValueError(f'field `{field}.overrides.compression`: thermalise_ps + ramp_ps must be positive')
    melt = merged['melt_quench']
    for key in ('t_melt', 't_final', 'quench_rate'):
        checks.positive_number(melt[key], checks.field(f'{field}.overrides.melt_quench.{key}'))
    for key in ('melt_ps', 'anneal_ps'):
        checks.non_negative_number(melt[key], checks.field(f'{field}.overrides.melt_quench.{key}'))
    if melt['pressure'] is not None:
        checks.non_negative_number(melt['pressure'], checks.field(f'{field}.overrides.melt_quench.pressure'))
    return merged


def validate_teacher_md_parameters(parameters: dict, field: str = 'parameters') -> None:
    """Raise ``ValueError`` naming the field for bad ``TeacherMd`` parameters."""
    from aiida_gaprss.rss.elements import validate_element

    unknown = sorted(set(parameters) - set(KEYS))
    if unknown:
        raise ValueError(f'field `{field}.{unknown[0]}`: unknown key; known: {list(KEYS)}')
    if 'seed' not in parameters:
        raise ValueError(f'field `{field}.seed`: required')
    checks.integer(parameters['seed'], checks.field(f'{field}.seed'), minimum=0)
    validate_md_protocol(parameters.get('protocol', 'fast'), parameters.get('overrides'), field)
    runs = parameters.get('runs', ['compression'])
    if not isinstance(runs, list) or not runs or any(run not in RUNS for run in runs):
        raise ValueError(f'field `{field}.runs`: expected a non-empty list of {RUNS}, got {runs!r}')
    checks.integer(parameters.get('repeats', 1), checks.field(f'{field}.repeats'), minimum=1)
    try:
        validate_element(parameters.get('element', 'Si'))
    except ValueError as exception:
        raise ValueError(f'field `{field}.element`: {exception}') from exception


def _validate_inputs(value, _):
    if 'parameters' in value:
        try:
            validate_teacher_md_parameters(value['parameters'].get_dict())
        except ValueError as exception:
            return str(exception)
    return None


class TeacherMd(PythonJob):
    """Teacher MD in one job (see the module docstring)."""

    TASK = 'teacher_md'
    INPUT_FILENAME = 'starts.xyz'
    SNAPSHOTS_FILENAME = 'snapshots.xyz'
    FINAL_FILENAME = 'final.xyz'
    REPORT_FILENAME = 'report.json'
    POTENTIAL_FOLDER = 'teacher'
    OUTPUT_FILES = (SNAPSHOTS_FILENAME, FINAL_FILENAME, REPORT_FILENAME)

    @classmethod
    def define(cls, spec):
        """Inputs ``teacher``, ``parameters``, optional ``structures``; outputs ``snapshots``, ``final``, ``report``."""
        super().define(spec)
        spec.input('teacher', valid_type=GapPotential, help='The teacher GAP that drives and labels the MD.')
        spec.input('parameters', valid_type=orm.Dict, help='seed, protocol, overrides, runs, repeats, element.')
        spec.input(
            'structures',
            valid_type=StructureSet,
            required=False,
            help='Start structures used in turn (default: random starts of the protocol).',
        )
        spec.inputs.validator = _validate_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.teacher_md'
        spec.output('snapshots', valid_type=StructureSet, required=False, help='Teacher-labelled MD snapshots.')
        spec.output('final', valid_type=StructureSet, required=False, help='Final state of every run.')
        spec.output('report', valid_type=orm.Dict, help='Protocol, runs, snapshot counts, wall times.')
        spec.exit_code(320, 'ERROR_NO_SNAPSHOTS', message='The MD produced no snapshots.')

    def get_job_parameters(self) -> dict:
        """The MD parameters, the teacher's calculator spec and the file names."""
        parameters = dict(self.inputs.parameters.get_dict())
        parameters.update(
            calculator={'type': 'gap', 'xml': f'{self.POTENTIAL_FOLDER}/{self.inputs.teacher.xml_name}'},
            output=self.SNAPSHOTS_FILENAME,
            final=self.FINAL_FILENAME,
            report=self.REPORT_FILENAME,
        )
        if 'structures' in self.inputs:
            parameters['structures'] = self.INPUT_FILENAME
        return parameters

    def write_input_files(self, folder: Folder) -> None:
        """The teacher's files and the start structures."""
        self.write_potential_files(folder, self.inputs.teacher, self.POTENTIAL_FOLDER)
        if 'structures' in self.inputs:
            self.write_structure_set(folder, self.inputs.structures, self.INPUT_FILENAME)
