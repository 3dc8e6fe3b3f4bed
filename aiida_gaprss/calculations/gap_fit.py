"""``GapFitCalculation`` (``gaprss.gap_fit``): fit a GAP with QUIP's ``gap_fit`` on a labelled ``StructureSet``.

The job writes the training set as ``train.xyz``, runs ``gap_fit`` with the argument list of
:func:`aiida_gaprss.rss.gap_parameters.build_gap_fit_command` and retrieves ``gap.xml`` with its sparseX files (through
the retrieved *temporary* folder: they are stored once, in the ``potential`` output, not also in ``retrieved``).

Training errors: gap_fit prints none. With an optional ``evaluation_code`` (a Python with ``aiida_gaprss``) the same
job then runs ``python -m aiida_gaprss.jobs.gap_errors`` on the training file and the new potential (serial run
mode) and the parser reads its small JSON. Without it, the parser evaluates the potential with quippy itself, which
is fine for small training sets (up to :data:`aiida_gaprss.parsers.gap_fit.PARSER_EVALUATION_MAX_ATOMS` atoms);
for larger sets without an evaluation code the errors are left out of ``output_parameters``.
"""

from __future__ import annotations

import json
import logging

from aiida import orm
from aiida.common import datastructures
from aiida.common.folders import Folder
from aiida.engine import CalcJob

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.gap_parameters import build_gap_fit_command, validate_gap_parameters

__all__ = ('GapFitCalculation',)

LOGGER = logging.getLogger(__name__)


def validate_training_set(value, _ctx):
    """Refuse a training set without energies on every structure."""
    if value is None:
        return None
    if 'energy' not in value.labels:
        counts = value.label_counts
        return (
            f'training_set: every structure must carry an energy label (atoms.info["energy"]); '
            f'{counts.get("energy", 0)} of {value.num_structures} do'
        )
    return None


def validate_parameters(value, _ctx):
    """Validate the fit parameters with :func:`validate_gap_parameters`; the message names the field."""
    if value is None:
        return None
    try:
        validate_gap_parameters(value.get_dict())
    except ValueError as exception:
        return f'parameters: {exception}'
    return None


def validate_inputs(inputs, _ctx):
    """Cross-checks: every species of the training set must be among ``parameters.species``."""
    training_set = inputs.get('training_set')
    parameters = inputs.get('parameters')
    if training_set is None or parameters is None:
        return None
    species = parameters.get_dict().get('species') or []
    missing = sorted(set(training_set.species) - set(species))
    if missing:
        return f'parameters.species: {species} does not cover the species {missing} of `training_set`'
    return None


class GapFitCalculation(CalcJob):
    """Fit a Gaussian Approximation Potential with ``gap_fit``.

    Inputs: ``code`` (gap_fit), ``training_set`` (:class:`StructureSet` with energies), ``parameters`` (``Dict``, see
    :mod:`aiida_gaprss.rss.gap_parameters`), optional ``evaluation_code`` (Python code for the training errors).
    Outputs: ``potential`` (:class:`GapPotential`, with the exact command line) and ``output_parameters``.
    """

    TRAINING_FILENAME = 'train.xyz'
    POTENTIAL_FILENAME = 'gap.xml'
    STDOUT_FILENAME = 'gap_fit.out'
    STDERR_FILENAME = 'gap_fit.err'
    ERRORS_JOB_FILENAME = 'gap_errors_job.json'
    ERRORS_FILENAME = 'gap_errors.json'
    ERRORS_STDOUT_FILENAME = 'gap_errors.out'
    ERRORS_STDERR_FILENAME = 'gap_errors.err'
    ERRORS_STATUS_FILENAME = '_status.json'

    @classmethod
    def define(cls, spec):
        """Define inputs, outputs and exit codes."""
        super().define(spec)
        options = spec.inputs['metadata']['options']
        options['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        options['withmpi'].default = False
        options['parser_name'].default = 'gaprss.gap_fit'
        options['input_filename'].default = cls.TRAINING_FILENAME
        options['output_filename'].default = cls.STDOUT_FILENAME
        spec.input(
            'metadata.options.num_threads',
            valid_type=int,
            required=False,
            help='OpenMP threads of gap_fit (OMP_NUM_THREADS). Default: the cores per MPI process, or per machine, '
            'given in `resources`, else the MPI processes per machine of a non-MPI run, else 1.',
        )

        spec.input(
            'training_set',
            valid_type=StructureSet,
            validator=validate_training_set,
            help='Labelled training structures (energies required; forces, virials and per-structure sigmas used).',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            validator=validate_parameters,
            help='Fit parameters (see aiida_gaprss.rss.gap_parameters.table1_parameters).',
        )
        spec.input(
            'evaluation_code',
            valid_type=orm.AbstractCode,
            required=False,
            help='Python code that runs `python -m aiida_gaprss.jobs.gap_errors` after the fit, in the same job.',
        )
        spec.inputs.validator = validate_inputs

        spec.output('potential', valid_type=GapPotential, help='The fitted potential.')
        spec.output('output_parameters', valid_type=orm.Dict, help='Training errors, sparse points, timings.')
        spec.default_output_node = 'output_parameters'

        spec.exit_code(
            300, 'ERROR_NO_RETRIEVED_FOLDER', message='The retrieved folder data node could not be accessed.'
        )
        spec.exit_code(301, 'ERROR_OUTPUT_STDOUT_MISSING', message='The gap_fit stdout file was not retrieved.')
        spec.exit_code(302, 'ERROR_OUTPUT_STDERR_MISSING', message='The gap_fit stderr file was not retrieved.')
        spec.exit_code(310, 'ERROR_POTENTIAL_MISSING', message='gap_fit wrote no potential file `gap.xml`: {message}')
        spec.exit_code(
            311,
            'ERROR_POTENTIAL_INVALID',
            message='The potential files are incomplete or unreadable (sparseX missing?): {message}',
        )
        spec.exit_code(
            312,
            'ERROR_TRAINING_ERRORS',
            message='The training errors could not be obtained: {message}',
        )
        spec.exit_code(320, 'ERROR_GAP_FIT', message='gap_fit reported an error: {message}')
        spec.exit_code(330, 'ERROR_OUT_OF_MEMORY', message='gap_fit ran out of memory: {message}')
        spec.exit_code(
            340,
            'ERROR_JOB_KILLED',
            message='The job was stopped before gap_fit finished (scancel, node failure or a signal): {message}',
        )
        spec.exit_code(400, 'ERROR_OUT_OF_WALLTIME', message='The job ran out of walltime: {message}')

    def _num_threads(self) -> int:
        options = self.inputs.metadata.options
        if options.get('num_threads') is not None:
            return max(1, int(options.num_threads))
        resources = dict(options.resources)
        per_process = resources.get('num_cores_per_mpiproc')
        if per_process:
            return int(per_process)
        per_machine = resources.get('num_cores_per_machine')
        processes = resources.get('num_mpiprocs_per_machine') or 1
        if per_machine:
            return max(1, int(per_machine) // (int(processes) if options.withmpi else 1))
        if not options.withmpi and processes:
            return int(processes)
        return 1

    def get_command(self) -> list[str]:
        """The gap_fit argument list for this job's parameters."""
        return build_gap_fit_command(
            self.inputs.parameters.get_dict(), at_file=self.TRAINING_FILENAME, gp_file=self.POTENTIAL_FILENAME
        )

    def prepare_for_submission(self, folder: Folder) -> datastructures.CalcInfo:
        """Write ``train.xyz`` (and the evaluation job file); run gap_fit, then optionally the evaluation."""
        argv = self.get_command()
        with folder.open(self.TRAINING_FILENAME, 'w', encoding='utf-8') as handle:
            handle.write(self.inputs.training_set.get_content())

        fit = datastructures.CodeInfo()
        fit.code_uuid = self.inputs.code.uuid
        fit.cmdline_params = argv
        fit.stdout_name = self.STDOUT_FILENAME
        fit.stderr_name = self.STDERR_FILENAME
        codes_info = [fit]

        retrieve_list = [self.STDOUT_FILENAME, self.STDERR_FILENAME]
        if 'evaluation_code' in self.inputs:
            content = {
                'task': 'gap_errors',
                'parameters': {
                    'structures': self.TRAINING_FILENAME,
                    'potential': self.POTENTIAL_FILENAME,
                    'output': self.ERRORS_FILENAME,
                },
            }
            with folder.open(self.ERRORS_JOB_FILENAME, 'w', encoding='utf-8') as handle:
                json.dump(content, handle, indent=1)
            evaluation = datastructures.CodeInfo()
            evaluation.code_uuid = self.inputs.evaluation_code.uuid
            evaluation.cmdline_params = ['-m', 'aiida_gaprss.jobs.gap_errors', self.ERRORS_JOB_FILENAME]
            evaluation.stdout_name = self.ERRORS_STDOUT_FILENAME
            evaluation.stderr_name = self.ERRORS_STDERR_FILENAME
            codes_info.append(evaluation)
            retrieve_list += [self.ERRORS_FILENAME, self.ERRORS_STDERR_FILENAME, self.ERRORS_STATUS_FILENAME]

        threads = self._num_threads()
        # The job script exports ``metadata.options.environment_variables`` first and this prepend text after the
        # computer's and code's: leave out what the user set explicitly so that it wins.
        user_variables = set(self.inputs.metadata.options.get('environment_variables') or {})
        calcinfo = datastructures.CalcInfo()
        calcinfo.codes_info = codes_info
        calcinfo.codes_run_mode = datastructures.CodeRunMode.SERIAL
        calcinfo.local_copy_list = []
        calcinfo.remote_copy_list = []
        calcinfo.retrieve_list = retrieve_list
        calcinfo.retrieve_temporary_list = [self.POTENTIAL_FILENAME, f'{self.POTENTIAL_FILENAME}.sparseX.*']
        calcinfo.prepend_text = '\n'.join(
            f'export {name}={threads}'
            for name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')
            if name not in user_variables
        )
        return calcinfo
