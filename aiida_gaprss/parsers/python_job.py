"""``PythonJobParser``: the base parser of every :class:`~aiida_gaprss.calculations.python_job.PythonJob`.

It checks, in order: the status file exists and the job was not stopped (else 304 when something says why it
stopped -- SIGTERM recorded in the status file, the scheduler's exit code 110/120/140 or a ``CANCELLED``/time-limit
line in the scheduler's stderr -- and 300 otherwise), the task finished (else 301 with the exception), every declared
output file was retrieved (else 302); then it calls :meth:`PythonJobParser.parse_outputs`, the hook a subclass
overrides to turn the files into output nodes. A job that stopped or failed first goes through
:meth:`PythonJobParser.parse_partial`, the hook that attaches whatever complete output the job left (relaxation
batches: the finished trajectories).
"""

from __future__ import annotations

import json
import logging
import re

from aiida.engine import ExitCode
from aiida.parsers import Parser

from aiida_gaprss.jobs.runner import STATUS_FILENAME

__all__ = (
    'SCHEDULER_EXIT_STATUSES',
    'SCHEDULER_STOPPED',
    'PythonJobParser',
    'scheduler_stop_message',
    'stop_cause',
)

LOGGER = logging.getLogger(__name__)

#: Lines the schedulers write to the job's stderr when they stop it (SLURM: ``scancel``, walltime, preemption, OOM).
SCHEDULER_STOPPED = (
    re.compile(r'\*\*\* JOB \S+ ON \S+ CANCELLED AT [^\n]*'),
    re.compile(r'\*\*\* STEP \S+ ON \S+ CANCELLED AT [^\n]*'),
    re.compile(r'[^\n]*DUE TO (?:TIME LIMIT|PREEMPTION|NODE FAILURE)[^\n]*', re.IGNORECASE),
    re.compile(r'[^\n]*oom[-_ ]kill[^\n]*', re.IGNORECASE),
    re.compile(r'[^\n]*exceeded (?:job )?memory limit[^\n]*', re.IGNORECASE),
    re.compile(r'[^\n]*PBS: job killed: walltime[^\n]*'),
)
#: Exit codes the scheduler plugins of aiida-core set on a job the scheduler stopped (out of memory, out of walltime,
#: node failure); aiida-core's SLURM plugin sets none for a CANCELLED job, whose stderr says so instead.
SCHEDULER_EXIT_STATUSES = (110, 120, 140)


def scheduler_stop_message(node, scheduler_stderr: str) -> str | None:
    """Why the scheduler stopped the job of ``node``, if its exit code or stderr says so, else None."""
    reasons = []
    if node.exit_status in SCHEDULER_EXIT_STATUSES:
        reasons.append(f'scheduler exit code {node.exit_status}: {node.exit_message}')
    for pattern in SCHEDULER_STOPPED:
        match = pattern.search(scheduler_stderr or '')
        if match:
            reasons.append(match.group(0).strip(' *'))
            break
    return '; '.join(reasons) or None


#: What ran out, by the words the exit messages of a stopped job use for it (scheduler exit code, SLURM, PBS, OOM).
STOP_CAUSES = {
    'walltime': re.compile(r'scheduler exit code 120|DUE TO TIME LIMIT|walltime', re.IGNORECASE),
    'memory': re.compile(r'scheduler exit code 110|oom[-_ ]kill|memory limit|out of memory', re.IGNORECASE),
}


def stop_cause(node) -> str | None:
    """``'walltime'`` or ``'memory'`` when the finished job ``node`` was stopped for running out of it, else None."""
    status = {120: 'walltime', 110: 'memory'}.get(node.exit_status)
    if status is not None:
        return status
    message = node.exit_message or ''
    return next((cause for cause, pattern in STOP_CAUSES.items() if pattern.search(message)), None)


class PythonJobParser(Parser):
    """Base parser: status file, declared outputs, then :meth:`parse_outputs`."""

    def read_json(self, filename: str):
        """Return the content of a retrieved JSON file."""
        with self.retrieved.base.repository.open(filename, 'r') as handle:
            return json.load(handle)

    def read_text(self, filename: str) -> str:
        """Return the content of a retrieved text file."""
        return self.retrieved.base.repository.get_object_content(filename, mode='r')

    def stderr_tail(self, lines: int = 5) -> str:
        """Return the last lines of the job's standard error, if retrieved."""
        name = self.node.process_class.STDERR_FILENAME
        if name not in self.retrieved.base.repository.list_object_names():
            return 'no standard error retrieved'
        text = self.read_text(name).strip().splitlines()
        return ' | '.join(text[-lines:]) if text else 'empty standard error'

    def stop_reason(self, status: dict | None) -> str | None:
        """Why the job stopped before it finished, if the status file, the scheduler or its stderr says so."""
        reasons = []
        if status and status.get('state') == 'killed':
            reasons.append(str(status.get('error', 'killed')))
        name = self.node.get_option('scheduler_stderr') or '_scheduler-stderr.txt'
        names = self.retrieved.base.repository.list_object_names()
        scheduler = scheduler_stop_message(self.node, self.read_text(name) if name in names else '')
        if scheduler:
            reasons.append(scheduler)
        return '; '.join(reasons) or None

    def parse(self, **kwargs) -> ExitCode | None:
        """Check status and declared outputs, then delegate to :meth:`parse_outputs`."""
        names = set(self.retrieved.base.repository.list_object_names())
        status = None
        if STATUS_FILENAME in names:
            try:
                status = self.read_json(STATUS_FILENAME)
            except (OSError, ValueError) as exception:
                return self.exit_codes.ERROR_INVALID_OUTPUT.format(error=f'{STATUS_FILENAME}: {exception}')
        self.status = status
        if status is None or status.get('state') == 'killed':
            reason = self.stop_reason(status)
            detail = reason or f'no status file: killed or crashed ({self.stderr_tail()})'
            partial = self._parse_partial(detail)
            if partial is not None:
                return partial
            if reason:
                return self.exit_codes.ERROR_JOB_KILLED.format(detail=reason)
            return self.exit_codes.ERROR_MISSING_STATUS.format(detail=self.stderr_tail())
        if status.get('state') != 'finished':
            self.logger.error(status.get('traceback', 'no traceback'))
            self._parse_partial(f'the job raised: {status.get("error", "unknown error")}')  # keep the frames
            return self.exit_codes.ERROR_JOB_FAILED.format(error=status.get('error', 'unknown error'))
        missing = [name for name in self.node.process_class.OUTPUT_FILES if name not in names]
        if missing:
            return self.exit_codes.ERROR_MISSING_OUTPUT_FILES.format(files=', '.join(missing))
        try:
            return self.parse_outputs(status)
        except (OSError, ValueError, KeyError) as exception:
            return self.exit_codes.ERROR_INVALID_OUTPUT.format(error=f'{type(exception).__name__}: {exception}')

    def _parse_partial(self, reason: str) -> ExitCode | None:
        try:
            return self.parse_partial(reason)
        except (OSError, ValueError, KeyError) as exception:
            self.logger.warning(f'the partial output could not be read: {type(exception).__name__}: {exception}')
            return None

    def parse_partial(self, reason: str) -> ExitCode | None:
        """Attach the complete part of the output of a job that stopped (override); None when there is none.

        ``reason`` says why it stopped. Return the exit code to finish with (the job did not finish, so not 0).
        """
        return None

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Turn the retrieved files into output nodes (override); ``status['summary']`` is the task's summary."""
        return None
