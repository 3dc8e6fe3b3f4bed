"""``PythonJobBaseWorkChain``: any :class:`~aiida_gaprss.calculations.python_job.PythonJob`, run again when stopped.

A job stopped from outside (``scancel``, the walltime, the OOM killer, a node failure: exit code 300
``ERROR_MISSING_STATUS``, 304 ``ERROR_JOB_KILLED`` or the scheduler's 110 / 120 / 140) is submitted again, with twice
the wall time when the walltime stopped it and twice the memory when it ran out of memory (when they were set), at
most ``max_iterations`` jobs in all; then 420 ``ERROR_STOPPED_TOO_OFTEN``. A job that failed by itself (the task
raised, bad or missing output, a job-specific 3xx) would fail again: 421 ``ERROR_UNRECOVERABLE_FAILURE``, with the
outputs it left attached. A successful job's outputs are the work chain's, as with the bare CalcJob.

One thin subclass per job class sets ``_process_class`` (and the namespace of the job's inputs); subclasses with a
partial result to keep between jobs override the hooks :meth:`PythonJobBaseWorkChain.keep_partial`,
:meth:`~PythonJobBaseWorkChain.nothing_left`, :meth:`~PythonJobBaseWorkChain.prepare_restart` and
:meth:`~PythonJobBaseWorkChain.attach_partial` (see :class:`~aiida_gaprss.workflows.relax.RelaxBatchBaseWorkChain`).
"""

from __future__ import annotations

import logging
from typing import ClassVar

from aiida.engine import ExitCode, ProcessHandlerReport, process_handler

from aiida_gaprss.calculations.ase_batch import AseBatch
from aiida_gaprss.calculations.generate_pool import GeneratePool
from aiida_gaprss.calculations.python_job import PythonJob
from aiida_gaprss.calculations.select_structures import SelectStructures
from aiida_gaprss.calculations.student_fit import StudentFit
from aiida_gaprss.calculations.student_validation import StudentValidation
from aiida_gaprss.calculations.teacher_md import TeacherMd
from aiida_gaprss.calculations.validate_potential import StructureMap, ValidatePotential
from aiida_gaprss.parsers.python_job import stop_cause
from aiida_gaprss.workflows.restart import JobRestartWorkChain

__all__ = (
    'AseBatchBaseWorkChain',
    'GeneratePoolBaseWorkChain',
    'PythonJobBaseWorkChain',
    'SelectStructuresBaseWorkChain',
    'StructureMapBaseWorkChain',
    'StudentFitBaseWorkChain',
    'StudentValidationBaseWorkChain',
    'TeacherMdBaseWorkChain',
    'ValidatePotentialBaseWorkChain',
)

LOGGER = logging.getLogger(__name__)

#: Outputs every CalcJob has, of one job only: not the work chain's (a restarted run has several).
CALCJOB_OUTPUTS = ('remote_folder', 'remote_stash', 'retrieved')


class PythonJobBaseWorkChain(JobRestartWorkChain):
    """Run a Python job; submit it again when it was stopped from outside (see the module docstring)."""

    _process_class = PythonJob
    _outputs_excluded = CALCJOB_OUTPUTS
    #: Exit statuses of a job stopped from outside rather than failed by itself: another job may finish.
    STOPPED_EXIT_STATUSES: ClassVar[tuple[int, ...]] = (300, 304, 110, 120, 140)
    #: Factors applied to ``max_wallclock_seconds`` / ``max_memory_kb`` (when set) after running out of them.
    WALLTIME_FACTOR: ClassVar[float] = 2.0
    MEMORY_FACTOR: ClassVar[float] = 2.0

    @classmethod
    def define(cls, spec):
        """The job's inputs (under ``_inputs_namespace``) and outputs; exit codes 420 and 421."""
        super().define(spec)
        spec.exit_code(
            420,
            'ERROR_STOPPED_TOO_OFTEN',
            message='The {process} job was stopped {count} time(s) (max_iterations = {count}); last: {message}',
        )
        spec.exit_code(
            421,
            'ERROR_UNRECOVERABLE_FAILURE',
            message='The {process} job failed in a way a restart does not fix [{status}]: {message}',
        )

    # -- hooks for a job with a partial result ---------------------------------------------------------------------
    def keep_partial(self, node) -> None:
        """Keep what the stopped job ``node`` finished (nothing by default: a job is run again from the start)."""

    def nothing_left(self, node) -> bool:
        """Whether the stopped job ``node`` had finished everything already (then the work chain finishes, 0)."""
        return False

    def prepare_restart(self, node) -> None:
        """Change ``self.ctx.inputs`` for the next job after ``node`` was stopped (nothing by default)."""

    def attach_partial(self, node) -> dict:
        """Attach what the work chain has when it stops early: the outputs the last job ``node`` left; return the
        extra arguments of the 420 message."""
        self.out_many(self.exposed_outputs(node, self.process_class))
        return {}

    # -- handlers --------------------------------------------------------------------------------------------------
    def _more_resources(self, node) -> None:
        """Twice the wall time after the walltime, twice the memory after the memory limit (when they were set)."""
        cause = stop_cause(node)
        key, factor = {'walltime': ('max_wallclock_seconds', self.WALLTIME_FACTOR),
                       'memory': ('max_memory_kb', self.MEMORY_FACTOR)}.get(cause, (None, None))  # fmt: skip
        options = dict(self.ctx.inputs.get('metadata', {}).get('options', {}))
        if key is None or not options.get(key):
            return
        options[key] = int(options[key] * factor)
        self.ctx.inputs.setdefault('metadata', {})['options'] = options
        self.report(f'out of {cause}: the next job gets {key} = {options[key]}')

    @process_handler(priority=600)
    def handle_stopped_job(self, node):
        """A job stopped from outside: run it again (more wall time or memory if it ran out), or stop with 420."""
        if node.exit_status not in self.STOPPED_EXIT_STATUSES:
            return None
        self.report(f'{node.process_label}<{node.pk}> was stopped [{node.exit_status}]: {node.exit_message}')
        self.keep_partial(node)
        if self.nothing_left(node):  # stopped after its last piece of work: nothing to redo
            self.ctx.is_finished = True
            self.attach_partial(node)
            return ProcessHandlerReport(do_break=True, exit_code=ExitCode(0))
        if self.ctx.iteration >= self.inputs.max_iterations.value:
            self.ctx.is_finished = True
            extra = self.attach_partial(node)
            exit_code = self.exit_codes.ERROR_STOPPED_TOO_OFTEN.format(
                process=node.process_label, count=self.ctx.iteration, message=node.exit_message, **extra
            )
            self.report(exit_code.message)
            return ProcessHandlerReport(do_break=True, exit_code=exit_code)
        self._more_resources(node)
        self.prepare_restart(node)
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=0)
    def handle_unrecoverable(self, node):
        """Any other failure: stop with 421 (the job's own exit status and message in it), its outputs attached."""
        if not node.is_failed:
            return None
        self.ctx.is_finished = True
        self.attach_partial(node)
        exit_code = self.exit_codes.ERROR_UNRECOVERABLE_FAILURE.format(
            process=node.process_label, status=node.exit_status, message=node.exit_message
        )
        self.report(exit_code.message)
        return ProcessHandlerReport(do_break=True, exit_code=exit_code)


def _restartable(job: type[PythonJob]) -> type[PythonJobBaseWorkChain]:
    """The restart work chain of the job class ``job``: ``<Job>BaseWorkChain``, defined in this module."""
    doc = f'Restartable :class:`~{job.__module__}.{job.__name__}`.'
    attributes = {'_process_class': job, '__module__': __name__, '__doc__': doc}
    return type(f'{job.__name__}BaseWorkChain', (PythonJobBaseWorkChain,), attributes)


TeacherMdBaseWorkChain = _restartable(TeacherMd)
GeneratePoolBaseWorkChain = _restartable(GeneratePool)
AseBatchBaseWorkChain = _restartable(AseBatch)
SelectStructuresBaseWorkChain = _restartable(SelectStructures)
StudentFitBaseWorkChain = _restartable(StudentFit)
StudentValidationBaseWorkChain = _restartable(StudentValidation)
ValidatePotentialBaseWorkChain = _restartable(ValidatePotential)
StructureMapBaseWorkChain = _restartable(StructureMap)
