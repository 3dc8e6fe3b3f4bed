"""Common driver of the Python jobs run by CalcJobs as ``python -m aiida_gaprss.jobs.<task> job.json``.

A job module defines ``run(parameters: dict, workdir: pathlib.Path) -> dict | None`` and ends with
``raise SystemExit(main(run))``. :func:`main` reads the JSON parameters written by
:class:`aiida_gaprss.calculations.python_job.PythonJob`, runs the task, and always writes :data:`STATUS_FILENAME`:
``{'state': 'finished', 'summary': {...}, 'wall_time': s}`` or ``{'state': 'failed', 'error': ..., 'traceback': ...}``.
The parser reads that file first, so a Python exception in the job becomes a clear exit code with its message.

No AiiDA import here: the job runs on the remote computer, where only the science stack is needed.
"""

from __future__ import annotations

import json
import logging
import pathlib
import sys
import time
import traceback
from collections.abc import Callable, Sequence

__all__ = ('PARAMETERS_FILENAME', 'STATUS_FILENAME', 'main', 'write_json')

LOGGER = logging.getLogger(__name__)

#: Name of the JSON file holding the job parameters (written by the CalcJob).
PARAMETERS_FILENAME = 'job.json'
#: Name of the JSON status file written by every job, success or failure.
STATUS_FILENAME = '_status.json'


def write_json(path: str | pathlib.Path, content) -> None:
    """Write ``content`` as JSON, converting numpy scalars and arrays on the way."""

    def default(value):
        if hasattr(value, 'tolist'):
            return value.tolist()
        raise TypeError(f'not JSON serialisable: {type(value).__name__}')

    pathlib.Path(path).write_text(json.dumps(content, indent=1, default=default), encoding='utf-8')


def main(task: Callable[[dict, pathlib.Path], dict | None], argv: Sequence[str] | None = None) -> int:
    """Run ``task`` on the parameters file named in ``argv`` (default :data:`PARAMETERS_FILENAME`).

    Returns
    -------
    int
        0 if the task finished, 1 if it raised (the exception is recorded in the status file, not re-raised).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s', stream=sys.stderr)
    workdir = pathlib.Path.cwd()
    start = time.perf_counter()
    try:
        path = pathlib.Path(argv[0] if argv else PARAMETERS_FILENAME)
        parameters = json.loads(path.read_text(encoding='utf-8'))
        summary = task(parameters, workdir) or {}
        status = {'state': 'finished', 'summary': summary, 'wall_time': time.perf_counter() - start}
        code = 0
    except Exception as exception:  # noqa: BLE001 - every failure must end up in the status file
        LOGGER.exception('job failed')
        status = {
            'state': 'failed',
            'error': f'{type(exception).__name__}: {exception}',
            'traceback': traceback.format_exc(),
            'wall_time': time.perf_counter() - start,
        }
        code = 1
    write_json(workdir / STATUS_FILENAME, status)
    return code
