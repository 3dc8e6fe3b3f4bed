"""Common driver of the Python jobs run by CalcJobs as ``python -m aiida_gaprss.jobs.<task> job.json``.

A job module defines ``run(parameters: dict, workdir: pathlib.Path) -> dict | None`` and ends with
``raise SystemExit(main(run))``. :func:`main` reads the JSON parameters written by
:class:`aiida_gaprss.calculations.python_job.PythonJob`, runs the task, and always writes :data:`STATUS_FILENAME`:
``{'state': 'finished', 'summary': {...}, 'wall_time': s}``, ``{'state': 'failed', 'error': ..., 'traceback': ...}``
or, when the job receives SIGTERM (what SLURM sends on ``scancel`` and at the walltime, before SIGKILL),
``{'state': 'killed', 'error': 'terminated by SIGTERM', ...}``. The parser reads that file first, so a Python exception
in the job becomes a clear exit code with its message; a job killed outright (SIGKILL) leaves no status file at all.

No AiiDA import here: the job runs on the remote computer, where only the science stack is needed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import pathlib
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence

__all__ = ('PARAMETERS_FILENAME', 'STATUS_FILENAME', 'main', 'write_json')

LOGGER = logging.getLogger(__name__)

#: Name of the JSON file holding the job parameters (written by the CalcJob).
PARAMETERS_FILENAME = 'job.json'
#: Name of the JSON status file written by every job, success or failure.
STATUS_FILENAME = '_status.json'


_TERMINATION: dict = {}


def _default_sigterm() -> None:
    with contextlib.suppress(ValueError):  # not the main thread of the child: nothing to undo there
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _terminate(signum, _frame):
    """On SIGTERM: record ``'killed'`` in the status file and exit at once (``os._exit``: no ``except`` or ``finally``
    of the task, no C extension swallowing an exception, can keep the job running into SIGKILL). What the task wrote
    and flushed before (e.g. finished trajectories) stays. Forked workers get the default action back (see ``main``)."""
    code = 128 + signum
    if os.getpid() == _TERMINATION.get('pid'):
        name = signal.Signals(signum).name
        LOGGER.error('job stopped by %s', name)
        status = {
            'state': 'killed',
            'error': f'terminated by {name}',
            'wall_time': time.perf_counter() - _TERMINATION['start'],
        }
        try:
            write_json(_TERMINATION['workdir'] / STATUS_FILENAME, status)
            for child in multiprocessing.active_children():  # pool workers would otherwise outlive the job
                child.kill()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    os._exit(code)


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
        0 if the task finished, 1 if it raised (the exception is recorded in the status file, not re-raised),
        143 if it was stopped by SIGTERM (status ``'killed'``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s', stream=sys.stderr)
    workdir = pathlib.Path.cwd()
    start = time.perf_counter()
    in_main_thread = threading.current_thread() is threading.main_thread()
    _TERMINATION.update(pid=os.getpid(), start=start, workdir=workdir)
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    if in_main_thread and not _TERMINATION.get('fork_hook'):
        # Forked workers (multiprocessing pools) must die of SIGTERM at once, as they did before: a Python-level handler
        # only runs between bytecodes, and a worker blocked in a semaphore wait can miss it and hang Pool.terminate().
        os.register_at_fork(after_in_child=_default_sigterm)
        _TERMINATION['fork_hook'] = True
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
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    write_json(workdir / STATUS_FILENAME, status)
    return code
