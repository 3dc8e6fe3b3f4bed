"""``PythonJob``: the base CalcJob of every Python task run as ``python -m aiida_gaprss.jobs.<task> job.json``.

Relaxation batches, pool generation, selection, MD and ASE labelling all run this way: the CalcJob writes one JSON
file of job parameters plus its input files, runs the task module with the job's Python code (an ``InstalledCode``
pointing at a Python interpreter with ``aiida_gaprss`` importable), and retrieves the declared output files.

A subclass sets :attr:`PythonJob.TASK` (the module name under ``aiida_gaprss.jobs``) and
:attr:`PythonJob.OUTPUT_FILES`, and overrides :meth:`PythonJob.get_job_parameters` and
:meth:`PythonJob.write_input_files`; its parser subclasses :class:`aiida_gaprss.parsers.python_job.PythonJobParser`.

Example
-------
.. code-block:: python

    class RelaxBatch(PythonJob):
        TASK = 'relax_batch'
        OUTPUT_FILES = ('trajectories.xyz',)

        @classmethod
        def define(cls, spec):
            super().define(spec)
            spec.input('structures', valid_type=StructureSet)
            spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.relax_batch'

        def get_job_parameters(self):
            return {'structures': 'structures.xyz', 'fmax': 0.01}

        def write_input_files(self, folder):
            with folder.open('structures.xyz', 'w') as handle:
                handle.write(self.inputs.structures.get_content())
"""

from __future__ import annotations

import json
import logging
from typing import ClassVar

from aiida.common import datastructures
from aiida.common.folders import Folder
from aiida.engine import CalcJob

from aiida_gaprss.jobs.runner import PARAMETERS_FILENAME, STATUS_FILENAME

__all__ = ('PythonJob',)

LOGGER = logging.getLogger(__name__)


class PythonJob(CalcJob):
    """Base CalcJob for ``python -m aiida_gaprss.jobs.<TASK> job.json``.

    Exit codes shared by every Python job (a subclass adds its own from 320 on):

    * 300 ``ERROR_MISSING_STATUS``: the job wrote no status file (killed, out of memory, wrong Python);
    * 301 ``ERROR_JOB_FAILED``: the task raised; the message carries the exception;
    * 302 ``ERROR_MISSING_OUTPUT_FILES``: a declared output file is missing;
    * 303 ``ERROR_INVALID_OUTPUT``: an output file could not be read;
    * 304 ``ERROR_JOB_KILLED``: the job was stopped before it finished, and the status file (SIGTERM), the scheduler's
      exit code (110 memory, 120 walltime, 140 node failure) or its stderr (``CANCELLED AT``) says so.
    """

    #: Module under ``aiida_gaprss.jobs`` run by the job (subclasses must set it).
    TASK: ClassVar[str] = ''
    #: Output files the task writes in its working directory; retrieved and checked by the parser.
    OUTPUT_FILES: ClassVar[tuple[str, ...]] = ()
    #: Standard output and error of the job.
    STDOUT_FILENAME: ClassVar[str] = 'job.out'
    STDERR_FILENAME: ClassVar[str] = 'job.err'

    @classmethod
    def define(cls, spec):
        """Define the inputs, outputs and exit codes shared by every Python job."""
        super().define(spec)
        options = spec.inputs['metadata']['options']
        options['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        options['withmpi'].default = False
        options['input_filename'].default = PARAMETERS_FILENAME
        options['output_filename'].default = cls.STDOUT_FILENAME
        spec.input(
            'metadata.options.num_threads',
            valid_type=int,
            default=1,
            help='Threads allowed to numpy/BLAS/OpenMP in the job (OMP_NUM_THREADS and friends).',
        )
        spec.exit_code(
            300, 'ERROR_MISSING_STATUS', message='The job wrote no status file: killed or crashed ({detail}).'
        )
        spec.exit_code(301, 'ERROR_JOB_FAILED', message='The job raised: {error}')
        spec.exit_code(302, 'ERROR_MISSING_OUTPUT_FILES', message='Declared output file(s) missing: {files}')
        spec.exit_code(303, 'ERROR_INVALID_OUTPUT', message='An output file could not be read: {error}')
        spec.exit_code(304, 'ERROR_JOB_KILLED', message='The job was stopped before it finished: {detail}')

    # -- hooks for subclasses ---------------------------------------------------------------------------------------
    def get_job_parameters(self) -> dict:
        """Return the task-specific parameters written to ``job.json`` (JSON serialisable)."""
        return {}

    def write_input_files(self, folder: Folder) -> None:
        """Write the task's input files into the sandbox ``folder``."""

    def get_retrieve_list(self) -> list[str]:
        """Return the files to retrieve: standard streams, status file and declared outputs."""
        return [self.STDOUT_FILENAME, self.STDERR_FILENAME, STATUS_FILENAME, *self.OUTPUT_FILES]

    # -- helpers for subclasses -------------------------------------------------------------------------------------
    @staticmethod
    def write_structure_set(folder: Folder, structures, filename: str) -> None:
        """Write a StructureSet's extended-XYZ file into the sandbox ``folder``."""
        with folder.open(filename, 'w', encoding='utf-8') as handle:
            handle.write(structures.get_content())

    @staticmethod
    def write_potential_files(folder: Folder, potential, subfolder_name: str) -> None:
        """Copy every file of a GapPotential (gap.xml and its sparseX companions) into ``folder/subfolder_name``."""
        subfolder = folder.get_subfolder(subfolder_name, create=True)
        for name in potential.filenames:
            with potential.base.repository.open(name, mode='rb') as source:
                subfolder.create_file_from_filelike(source, name, mode='wb')

    # -- CalcJob ----------------------------------------------------------------------------------------------------
    def prepare_for_submission(self, folder: Folder) -> datastructures.CalcInfo:
        """Write ``job.json`` and the input files; run ``python -m aiida_gaprss.jobs.<TASK> job.json``."""
        if not self.TASK:
            raise ValueError(f'{type(self).__name__}: class attribute `TASK` is not set')
        options = self.inputs.metadata.options
        content = {
            'task': self.TASK,
            'output_files': list(self.OUTPUT_FILES),
            'parameters': self.get_job_parameters(),
        }
        with folder.open(options.input_filename, 'w', encoding='utf-8') as handle:
            json.dump(content, handle, indent=1)
        self.write_input_files(folder)

        codeinfo = datastructures.CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = ['-m', f'aiida_gaprss.jobs.{self.TASK}', options.input_filename]
        codeinfo.stdout_name = self.STDOUT_FILENAME
        codeinfo.stderr_name = self.STDERR_FILENAME

        threads = int(options.get('num_threads', 1))
        variables = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')

        calcinfo = datastructures.CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.retrieve_list = self.get_retrieve_list()
        calcinfo.local_copy_list = []
        calcinfo.remote_copy_list = []
        # Set before the code's own prepend text and ``metadata.options.environment_variables``, which win.
        calcinfo.prepend_text = '\n'.join(f'export {name}={threads}' for name in variables)
        return calcinfo
