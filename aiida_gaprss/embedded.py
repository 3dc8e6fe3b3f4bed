"""Idempotent set-up of the embedded default: a ``verdi presto`` profile, the localhost computer, codes, daemon.

Every function checks what exists before it creates anything, so running the set-up twice changes nothing. Nothing
in the workflows depends on this module: production profiles (PostgreSQL + RabbitMQ, SLURM computers) are set up with
``verdi`` and point the workflows at their own codes.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

LOGGER = logging.getLogger(__name__)

__all__ = (
    'CODE_LABELS',
    'LOCAL_TRANSPORT',
    'SetupReport',
    'ensure_code',
    'ensure_daemon',
    'ensure_localhost',
    'ensure_profile',
    'setup',
)

#: Labels of the codes the embedded set-up creates on the computer.
CODE_LABELS = {'gap_fit': 'gap_fit', 'python': 'gaprss-python', 'pw': 'pw'}

#: Minimum seconds between scheduler polls of the embedded localhost computer: a finished job waits for the next poll,
#: and the fast protocol's jobs last seconds (aiida's default is 10 s, presto's localhost 1 s).
POLL_INTERVAL = 0.5

#: Transport settings of a localhost computer the set-up creates (or takes over from ``verdi presto``): no wait between
#: connections, and jobs started with ``bash``, not a login shell: the codes are absolute paths, and a login shell reads
#: the user's profile at every submission (~0.2 s here; 60 s each when a stale ``pyenv rehash`` lock was left behind).
LOCAL_TRANSPORT = {'safe_interval': 0, 'use_login_shell': False}
_ROOT_MPI = 'export OMPI_ALLOW_RUN_AS_ROOT=1\nexport OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n'


@dataclass
class SetupReport:
    """What the set-up found (``existing``) and what it created (``created``)."""

    profile: str = ''
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    def record(self, what: str, created: bool) -> None:
        (self.created if created else self.existing).append(what)


def executable(name: str) -> str | None:
    """Absolute path of ``name``, preferring the copy installed beside the running Python (e.g. quippy's gap_fit)."""
    beside = pathlib.Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    return os.path.realpath(found) if found else None


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


def ensure_code(computer, label: str, filepath: str, report: SetupReport, **kwargs):
    """Return the installed code ``label@computer``, creating it if missing (never modifying an existing one)."""
    from aiida import orm
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    try:
        code = orm.load_code(f'{label}@{computer.label}')
        if str(code.filepath_executable) != filepath:
            LOGGER.warning(
                'code %s@%s runs %s, not %s: kept as it is', label, computer.label, code.filepath_executable, filepath
            )
        report.record(f'code {label}@{computer.label}', False)
        return code
    except (NotExistent, MultipleObjectsError):
        pass
    code = orm.InstalledCode(label=label, computer=computer, filepath_executable=filepath, **kwargs).store()
    report.record(f'code {label}@{computer.label}', True)
    return code


def ensure_codes(computer, report: SetupReport, *, threads: int = 2) -> dict[str, object]:
    """Create the gap_fit, job-Python and (if pw.x is installed) pw.x codes on ``computer``."""
    as_root = hasattr(os, 'geteuid') and os.geteuid() == 0
    codes = {}
    gap_fit = executable('gap_fit')
    if gap_fit is None:
        raise RuntimeError('gap_fit not found: install quippy-ase (pip install quippy-ase)')
    codes['gap_fit'] = ensure_code(
        computer,
        CODE_LABELS['gap_fit'],
        gap_fit,
        report,
        default_calc_job_plugin='gaprss.gap_fit',
        description='gap_fit from quippy-ase',
        prepend_text=f'export OMP_NUM_THREADS={threads}\n',
    )
    codes['python'] = ensure_code(
        computer,
        CODE_LABELS['python'],
        sys.executable,
        report,
        description='Python with aiida-gaprss, for the gaprss jobs (python -m aiida_gaprss.jobs.<task>)',
        prepend_text='export OMP_NUM_THREADS=1\n',
    )
    pw = executable('pw.x')
    if pw is not None:
        codes['pw'] = ensure_code(
            computer,
            CODE_LABELS['pw'],
            pw,
            report,
            default_calc_job_plugin='quantumespresso.pw',
            description="Quantum ESPRESSO pw.x (Debian's quantum-espresso)",
            with_mpi=True,
            prepend_text=(_ROOT_MPI if as_root else '') + 'export OMP_NUM_THREADS=1\n',
        )
    else:
        LOGGER.warning('pw.x not found: the QE reference engine is not available (apt-get install quantum-espresso)')
    return codes


def ensure_pseudo_family(report: SetupReport) -> None:
    """Install the embedded PBE family (Debian's B, C, Si and the Ti generated with ld1.x); a family installed
    before the generated Ti gets Ti added (:func:`aiida_gaprss.pseudos.install_debian_family`)."""
    from aiida import orm

    from .pseudos import DEFAULT_FAMILY_LABEL, install_debian_family

    groups = orm.QueryBuilder().append(orm.Group, filters={'label': DEFAULT_FAMILY_LABEL}).all(flat=True)
    before = {node.element for node in groups[0].nodes} if groups else set()
    family = install_debian_family()
    report.record(f'pseudopotential family {DEFAULT_FAMILY_LABEL}', not groups)
    added = sorted({node.element for node in family.nodes} - before) if groups else []
    if added:
        report.record(f'{", ".join(added)} added to pseudopotential family {DEFAULT_FAMILY_LABEL}', True)


def ensure_daemon(report: SetupReport, workers: int = 1) -> None:
    """Start the daemon of the loaded profile unless it runs already."""
    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client()
    if client.is_daemon_running:
        report.record('daemon', False)
        return
    client.start_daemon(number_workers=workers)
    report.record('daemon', True)


def setup(
    profile: str | None = None,
    *,
    daemon: bool = True,
    pseudos: bool = True,
    threads: int = 2,
    scheduler: str | None = None,
) -> SetupReport:
    """Run the whole embedded set-up and return what it found and created.

    ``scheduler='slurm'`` also creates the ``core.slurm`` computer ``localhost-slurm`` and its codes
    (:func:`aiida_gaprss.computers.setup_slurm`); ``None`` (the default) does only the embedded set-up.
    """
    if scheduler not in (None, 'slurm'):
        raise ValueError(f'field `scheduler`: expected `slurm` or nothing, got {scheduler!r}')
    report = SetupReport()
    ensure_profile(profile, report)
    computer = ensure_localhost(report)
    codes = ensure_codes(computer, report, threads=threads)
    if scheduler == 'slurm':
        from .computers import setup_slurm

        setup_slurm(report, threads=threads)
    if pseudos and 'pw' in codes:
        ensure_pseudo_family(report)
    if daemon:
        ensure_daemon(report)
    return report
