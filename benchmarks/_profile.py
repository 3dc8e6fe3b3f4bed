"""Throwaway (or kept) embedded AiiDA profile for benchmarks: ``gaprss setup`` in a private ``AIIDA_PATH``.

:func:`bench_profile` points ``AIIDA_PATH`` at a folder (a new temporary one by default), runs
``gaprss setup --profile NAME`` in a subprocess (``verdi presto`` profile, localhost computer polled every 1 s,
codes, the Debian pseudopotential family, the daemon), loads the profile in this process, and on exit stops that
daemon (``verdi daemon stop`` of that profile only) and, unless ``keep`` is set, deletes the folder. With an existing
``profile`` name (in the caller's own ``AIIDA_PATH``) it only loads it and leaves its daemon alone.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

BIN = pathlib.Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


@contextlib.contextmanager
def bench_profile(
    name: str = 'bench', *, profile: str | None = None, folder: str | None = None, keep: bool = False, stop: bool = True
):
    """Yield the loaded profile (see the module docstring).

    Parameters
    ----------
    name
        Name of the profile created in the private ``AIIDA_PATH``.
    profile
        An existing profile of the caller's configuration to use instead (nothing created, nothing stopped).
    folder
        ``AIIDA_PATH`` to use (created if missing; an existing profile ``name`` in it is reused, e.g. to resume).
    keep
        Keep the folder (and the profile in it) after the run.
    stop
        Stop the daemon at the end (False: leave a run that is still going on running; needs ``keep``).
    """
    import aiida

    if profile is not None:
        yield aiida.load_profile(profile, allow_switch=True)
        return
    path = pathlib.Path(folder) if folder else pathlib.Path(tempfile.mkdtemp(prefix='gaprss-bench-'))
    path.mkdir(parents=True, exist_ok=True)
    os.environ['AIIDA_PATH'] = str(path)
    env = {**os.environ, 'AIIDA_PATH': str(path)}
    subprocess.run([_tool('gaprss'), 'setup', '--profile', name], check=True, env=env, capture_output=True, text=True)
    try:
        from aiida.manage.configuration import reset_config
        from aiida.manage.configuration.settings import AiiDAConfigDir

        AiiDAConfigDir.set()  # AIIDA_PATH is read when aiida is imported: point it at the private folder now
        reset_config()
        yield aiida.load_profile(name, allow_switch=True)
    finally:
        if stop or not keep:
            subprocess.run([_tool('verdi'), '-p', name, 'daemon', 'stop'], env=env, capture_output=True, text=True)
        if not keep and folder is None:
            shutil.rmtree(path, ignore_errors=True)


def daemon_call(name: str, *arguments: str) -> str:
    """Run ``verdi -p NAME daemon ARGS`` of the private profile (the current ``AIIDA_PATH``); return its output."""
    result = subprocess.run(
        [_tool('verdi'), '-p', name, 'daemon', *arguments], env=dict(os.environ), capture_output=True, text=True
    )
    return result.stdout + result.stderr


def is_terminated(node, retries: int = 20) -> bool:
    """``node.is_terminated``, retried when SQLite is locked by the daemon's writes (a loaded machine: > 5 s)."""
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(retries):
        try:
            return node.is_terminated
        except OperationalError:
            from aiida.manage import get_manager

            get_manager().get_profile_storage().get_session().rollback()
            time.sleep(0.5 * (attempt + 1))
    return node.is_terminated


def add_run_arguments(parser, protocol: str) -> None:
    """The command-line options of a benchmark that submits a GAP-RSS run or resumes one (``protocol``: the default
    protocol of a new run): --protocol, --overrides, --resume, --profile, --folder, --no-wait, --keep-daemon,
    --submit-only."""
    parser.add_argument('--protocol', default=protocol, help='GAP-RSS protocol of a new run')
    parser.add_argument('--overrides', default='{}', help='JSON overrides of a new run (e.g. {"budget": 600})')
    parser.add_argument('--resume', type=int, default=None, help='PK of an existing GapRssWorkChain')
    parser.add_argument('--profile', default=None, help='an existing profile (default: a private embedded one)')
    parser.add_argument('--folder', default=None, help='keep the private AIIDA_PATH here (to resume later)')
    parser.add_argument('--no-wait', action='store_true', help='with --resume: use the iterations finished so far')
    parser.add_argument('--keep-daemon', action='store_true', help='leave the private daemon running (a run goes on)')
    parser.add_argument('--submit-only', action='store_true', help='submit the run and stop (with --keep-daemon)')
