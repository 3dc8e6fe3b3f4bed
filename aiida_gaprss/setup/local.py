"""The local set-up (the embedded default): a ``verdi presto`` profile, the localhost computer, the daemon.

Every function checks what exists before it creates anything, so running the set-up twice changes nothing.
"""

from __future__ import annotations

import logging
import pathlib
import subprocess

from .common import LOCAL_TRANSPORT, SetupReport, executable

LOGGER = logging.getLogger(__name__)

__all__ = ('POLL_INTERVAL', 'ensure_daemon', 'ensure_localhost', 'ensure_profile')

#: Minimum seconds between scheduler polls of the embedded localhost computer: a finished job waits for the next poll,
#: and the fast protocol's jobs last seconds (aiida's default is 10 s, presto's localhost 1 s).
POLL_INTERVAL = 0.5


def ensure_profile(name: str | None, report: SetupReport) -> str:
    """Load profile ``name``, the default profile, or create one with ``verdi presto`` (SQLite, no services)."""
    from aiida import load_profile
    from aiida.manage.configuration import get_config

    config = get_config(create=True)
    names = [profile.name for profile in config.profiles]
    wanted = name or config.default_profile_name or 'gaprss'
    if wanted not in names:
        command = [executable('verdi') or 'verdi', 'presto', '--profile-name', wanted]
        LOGGER.info('creating profile `%s` with verdi presto', wanted)
        subprocess.run(command, check=True, capture_output=True, text=True)
        from aiida.manage.configuration import reset_config

        reset_config()
        report.record(f'profile {wanted}', True)
    else:
        report.record(f'profile {wanted}', False)
    load_profile(wanted, allow_switch=True)
    report.profile = wanted
    return wanted


def ensure_localhost(report: SetupReport, label: str = 'localhost'):
    """Return the localhost computer (``core.local`` + ``core.direct``), creating and configuring it if missing."""
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    try:
        computer = orm.load_computer(label)
        report.record(f'computer {label}', False)
        presto_like = computer.hostname == 'localhost' and computer.scheduler_type == 'core.direct'
        if presto_like and computer.get_minimum_job_poll_interval() > POLL_INTERVAL:
            # `verdi presto` makes its localhost with a slower poll; the fast protocol's jobs last seconds
            computer.set_minimum_job_poll_interval(POLL_INTERVAL)
            LOGGER.info('computer %s: minimum job poll interval set to %s s', label, POLL_INTERVAL)
        configuration = computer.get_configuration() if computer.is_configured else {}
        if presto_like and computer.transport_type == 'core.local' and configuration.get('use_login_shell', True):
            # and starts its jobs through a login shell
            computer.configure(**{**configuration, **LOCAL_TRANSPORT})
            LOGGER.info('computer %s: jobs started without a login shell', label)
    except NotExistent:
        from aiida.manage.configuration import get_config, get_profile

        workdir = pathlib.Path(get_config().dirpath) / 'scratch' / get_profile().name
        computer = orm.Computer(
            label=label,
            hostname='localhost',
            description='localhost created by gaprss setup',
            transport_type='core.local',
            scheduler_type='core.direct',
            workdir=str(workdir),
        ).store()
        computer.set_minimum_job_poll_interval(POLL_INTERVAL)
        computer.set_default_mpiprocs_per_machine(1)
        report.record(f'computer {label}', True)
    if not computer.is_configured:
        computer.configure(**LOCAL_TRANSPORT)
    return computer


def ensure_daemon(report: SetupReport, workers: int = 1) -> None:
    """Start the daemon of the loaded profile unless it runs already."""
    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client()
    if client.is_daemon_running:
        report.record('daemon', False)
        return
    client.start_daemon(number_workers=workers)
    report.record('daemon', True)
