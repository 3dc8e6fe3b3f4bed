"""Idempotent set-up of profiles, computers and codes: ``gaprss setup``.

:mod:`~aiida_gaprss.setup.local` makes the embedded default (a ``verdi presto`` profile, the localhost computer, the
daemon), :mod:`~aiida_gaprss.setup.slurm` a ``core.slurm`` computer, :mod:`~aiida_gaprss.setup.common` the codes on
either. Nothing in the workflows depends on this package: production profiles (PostgreSQL + RabbitMQ, SLURM computers)
can be set up with ``verdi`` and point the workflows at their own codes.
"""

from __future__ import annotations

from .common import SetupReport, ensure_codes, ensure_pseudo_family
from .local import ensure_daemon, ensure_localhost, ensure_profile
from .slurm import setup_slurm

__all__ = ('setup',)


def setup(
    profile: str | None = None,
    *,
    daemon: bool = True,
    pseudos: bool = True,
    threads: int = 2,
    scheduler: str | None = None,
) -> SetupReport:
    """Run the local set-up (the embedded default) and return what it found and created.

    ``scheduler='slurm'`` also creates the ``core.slurm`` computer ``localhost-slurm`` and its codes
    (:func:`aiida_gaprss.setup.slurm.setup_slurm`); ``None`` (the default) does only the local set-up.
    """
    if scheduler not in (None, 'slurm'):
        raise ValueError(f'field `scheduler`: expected `slurm` or nothing, got {scheduler!r}')
    report = SetupReport()
    ensure_profile(profile, report)
    computer = ensure_localhost(report)
    codes = ensure_codes(computer, report, threads=threads)
    if scheduler == 'slurm':
        setup_slurm(report, threads=threads)
    if pseudos and 'pw' in codes:
        ensure_pseudo_family(report)
    if daemon:
        ensure_daemon(report)
    return report
