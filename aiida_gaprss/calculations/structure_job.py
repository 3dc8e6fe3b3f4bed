"""``StructureJob``: a Python job that reads (optionally) a StructureSet and writes one, with a report.

Pool generation, selection and relaxation batches share this shape: ``parameters`` (Dict) go into ``job.json``, the
input structures (and a GapPotential's files, when the job uses one) are written into the job folder, and the job
writes ``output.xyz`` plus ``report.json``, which the parser turns into the ``structures`` and ``report`` outputs.
A subclass sets ``TASK``, declares its extra inputs and gives :meth:`StructureJob.validate_parameters`.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from aiida import orm
from aiida.common.folders import Folder

from aiida_gaprss.calculations.python_job import PythonJob
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet

__all__ = ('StructureJob',)

LOGGER = logging.getLogger(__name__)


class StructureJob(PythonJob):
    """Base of the Python jobs that turn parameters (and structures) into a StructureSet and a report."""

    INPUT_FILENAME: ClassVar[str] = 'structures.xyz'
    OUTPUT_STRUCTURES: ClassVar[str] = 'output.xyz'
    REPORT_FILENAME: ClassVar[str] = 'report.json'
    POTENTIAL_FOLDER: ClassVar[str] = 'potential'
    OUTPUT_FILES: ClassVar[tuple[str, ...]] = (OUTPUT_STRUCTURES, REPORT_FILENAME)
    #: Whether the ``structures`` input is required (pool generation has none).
    NEEDS_STRUCTURES: ClassVar[bool] = True
    #: Whether the ``potential`` input is required (relaxation batches).
    NEEDS_POTENTIAL: ClassVar[bool] = False
    #: Function raising ``ValueError`` (naming the field) for bad ``parameters``; checked before submission.
    PARAMETER_VALIDATOR: ClassVar = None

    @classmethod
    def define(cls, spec):
        """Inputs ``parameters``, ``structures``, ``potential``; outputs ``structures`` and ``report``."""
        super().define(spec)
        spec.input('parameters', valid_type=orm.Dict, help='Parameters of the task (validated before submission).')
        if cls.NEEDS_STRUCTURES:
            spec.input('structures', valid_type=StructureSet, help='The input structures.')
        if cls.NEEDS_POTENTIAL:
            spec.input('potential', valid_type=GapPotential, help='The GAP used by the task.')
        spec.inputs.validator = cls._validate_all_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.structure_job'
        spec.output('structures', valid_type=StructureSet, required=False, help='The structures the task produced.')
        spec.output('report', valid_type=orm.Dict, help='What the task did (counts, indices, statuses).')
        spec.exit_code(310, 'ERROR_NO_STRUCTURES', message='The job produced no structures.')

    @classmethod
    def _validate_all_inputs(cls, value, _):
        if 'parameters' in value:
            try:
                cls.validate_parameters(value['parameters'].get_dict())
            except ValueError as exception:
                return str(exception)
        return None

    @classmethod
    def validate_parameters(cls, parameters: dict) -> None:
        """Raise ``ValueError`` naming the field for bad ``parameters`` (through ``PARAMETER_VALIDATOR``)."""
        if cls.PARAMETER_VALIDATOR is not None:
            cls.PARAMETER_VALIDATOR(parameters)

    def get_job_parameters(self) -> dict:
        """The task parameters plus the file names (and the calculator spec of the potential)."""
        parameters = dict(self.inputs.parameters.get_dict())
        parameters.update(output=self.OUTPUT_STRUCTURES, report=self.REPORT_FILENAME)
        if 'structures' in self.inputs:
            parameters['structures'] = self.INPUT_FILENAME
        if 'potential' in self.inputs:
            parameters['calculator'] = {
                'type': 'gap',
                'xml': f'{self.POTENTIAL_FOLDER}/{self.inputs.potential.xml_name}',
            }
        return parameters

    def write_input_files(self, folder: Folder) -> None:
        """Write the input structures and the potential's files."""
        if 'structures' in self.inputs:
            self.write_structure_set(folder, self.inputs.structures, self.INPUT_FILENAME)
        if 'potential' in self.inputs:
            self.write_potential_files(folder, self.inputs.potential, self.POTENTIAL_FOLDER)
