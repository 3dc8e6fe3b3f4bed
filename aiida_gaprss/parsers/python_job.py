"""``PythonJobParser``: the base parser of every :class:`~aiida_gaprss.calculations.python_job.PythonJob`.

It checks, in order: the status file exists (else 300), the task finished (else 301 with the exception), every
declared output file was retrieved (else 302); then it calls :meth:`PythonJobParser.parse_outputs`, the hook a
subclass overrides to turn the files into output nodes.
"""

from __future__ import annotations

import json
import logging

from aiida.engine import ExitCode
from aiida.parsers import Parser

from aiida_gaprss.jobs.runner import STATUS_FILENAME

__all__ = ('PythonJobParser',)

LOGGER = logging.getLogger(__name__)


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

    def parse(self, **kwargs) -> ExitCode | None:
        """Check status and declared outputs, then delegate to :meth:`parse_outputs`."""
        names = set(self.retrieved.base.repository.list_object_names())
        if STATUS_FILENAME not in names:
            return self.exit_codes.ERROR_MISSING_STATUS.format(detail=self.stderr_tail())
        try:
            status = self.read_json(STATUS_FILENAME)
        except (OSError, ValueError) as exception:
            return self.exit_codes.ERROR_INVALID_OUTPUT.format(error=f'{STATUS_FILENAME}: {exception}')
        self.status = status
        if status.get('state') != 'finished':
            self.logger.error(status.get('traceback', 'no traceback'))
            return self.exit_codes.ERROR_JOB_FAILED.format(error=status.get('error', 'unknown error'))
        missing = [name for name in self.node.process_class.OUTPUT_FILES if name not in names]
        if missing:
            return self.exit_codes.ERROR_MISSING_OUTPUT_FILES.format(files=', '.join(missing))
        try:
            return self.parse_outputs(status)
        except (OSError, ValueError, KeyError) as exception:
            return self.exit_codes.ERROR_INVALID_OUTPUT.format(error=f'{type(exception).__name__}: {exception}')

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Turn the retrieved files into output nodes (override); ``status['summary']`` is the task's summary."""
        return None
