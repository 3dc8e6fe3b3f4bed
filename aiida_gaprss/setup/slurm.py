"""The SLURM set-up: a ``core.slurm`` computer and the gaprss codes on it, idempotent.

``gaprss setup --scheduler slurm`` calls :func:`setup_slurm` after the local set-up: it creates a computer that
submits with ``sbatch`` (``core.local`` transport, i.e. SLURM on the machine that runs the daemon, as in the opt-in
integration tests) with the same gap_fit, job-Python and pw.x codes as the localhost computer. For a real cluster,
reached over SSH, create the computer with :func:`ensure_slurm_computer` and ``transport='core.ssh'`` or with
``verdi computer setup`` (see docs/cluster.md); the codes then point at the cluster's executables.
"""

from __future__ import annotations

import logging
import pathlib

from .common import LOCAL_TRANSPORT, SetupReport, ensure_codes

LOGGER = logging.getLogger(__name__)

__all__ = ('SLURM_LABEL', 'ensure_slurm_computer', 'setup_slurm')

#: Label of the computer created by ``gaprss setup --scheduler slurm``.
SLURM_LABEL = 'localhost-slurm'

_TRANSPORTS = ('core.local', 'core.ssh', 'core.ssh_async')


def ensure_slurm_computer(
    report: SetupReport,
    label: str = SLURM_LABEL,
    *,
    hostname: str = 'localhost',
    transport: str = 'core.local',
    workdir: str | None = None,
    mpiprocs_per_machine: int = 2,
    poll_interval: float = 2.0,
    configure: dict | None = None,
):
    """Return the ``core.slurm`` computer ``label``, creating and configuring it if missing.

    Parameters
    ----------
    report
        Collects what existed and what was created.
    label
        Computer label.
    hostname
        Host the transport connects to (``localhost`` for ``core.local``, the login node for ``core.ssh``).
    transport
        ``core.local`` (SLURM on this machine) or ``core.ssh`` / ``core.ssh_async`` (a real cluster).
    workdir
        Scratch folder on the computer; default ``<AiiDA folder>/scratch/<profile>-slurm`` for ``core.local``.
        Required for SSH.
    mpiprocs_per_machine
        Default MPI processes per node (the node's cores).
    poll_interval
        Minimum seconds between two ``squeue`` calls of the daemon (keep >= 10 s on a shared cluster).
    configure
        Keyword arguments of ``Computer.configure`` (for ``core.ssh``: ``username``, ``key_filename``, ...). An
        existing computer that is not configured for the current user is configured with them.

    Returns
    -------
    aiida.orm.Computer

    Notes
    -----
    Partition, account and QOS are per job: ``metadata.options.queue_name``, ``account``, ``qos`` (``#SBATCH
    --partition/--account/--qos``), e.g. through the workflow overrides ``gap_fit_options`` and ``job_options``.
    """
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    if transport not in _TRANSPORTS:
        raise ValueError(f'field `transport`: expected one of {", ".join(_TRANSPORTS)}, got {transport!r}')
    if int(mpiprocs_per_machine) < 1:
        raise ValueError(f'field `mpiprocs_per_machine`: expected a positive integer, got {mpiprocs_per_machine!r}')
    try:
        computer = orm.load_computer(label)
    except NotExistent:
        computer = None
    if computer is not None:
        if computer.scheduler_type != 'core.slurm':
            raise ValueError(
                f'field `label`: computer `{label}` exists with scheduler `{computer.scheduler_type}`, not core.slurm'
            )
        report.record(f'computer {label}', False)
    else:
        if workdir is None:
            if transport != 'core.local':
                raise ValueError('field `workdir`: required for a remote computer (e.g. /scratch/{username}/aiida)')
            from aiida.manage.configuration import get_config, get_profile

            workdir = str(pathlib.Path(get_config().dirpath) / 'scratch' / f'{get_profile().name}-slurm')
        computer = orm.Computer(
            label=label,
            hostname=hostname,
            description=f'SLURM ({transport}) created by gaprss setup --scheduler slurm',
            transport_type=transport,
            scheduler_type='core.slurm',
            workdir=workdir,
        ).store()
        computer.set_minimum_job_poll_interval(float(poll_interval))
        computer.set_default_mpiprocs_per_machine(int(mpiprocs_per_machine))
        LOGGER.info('created computer %s (core.slurm over %s, workdir %s)', label, transport, workdir)
        report.record(f'computer {label}', True)
    if not computer.is_configured:
        defaults = LOCAL_TRANSPORT if computer.transport_type == 'core.local' else {}
        computer.configure(**{**defaults, **(configure or {})})
    return computer


def setup_slurm(report: SetupReport, *, label: str = SLURM_LABEL, threads: int = 2) -> dict[str, object]:
    """Create (if missing) the ``core.slurm`` computer on this machine and its gap_fit, job-Python and pw.x codes.

    Needs a loaded profile. Warns, but does not fail, if ``sinfo`` does not answer: the computer and codes are
    created anyway, the jobs wait for SLURM.

    Returns
    -------
    dict
        The codes by role: ``gap_fit``, ``python`` and (if pw.x is installed) ``pw``.
    """
    import shutil
    import subprocess

    sinfo = shutil.which('sinfo')
    answer = subprocess.run([sinfo, '-h'], capture_output=True, text=True, check=False) if sinfo else None
    if answer is None or answer.returncode != 0:
        LOGGER.warning('sinfo does not answer: SLURM is not running here (tests/integration/slurm/setup_slurm.sh)')
    computer = ensure_slurm_computer(report, label)
    return ensure_codes(computer, report, threads=threads)
