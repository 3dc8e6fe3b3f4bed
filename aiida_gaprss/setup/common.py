"""What the local and the SLURM set-up share: the report of what exists, executables, the gaprss codes."""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import sys
from dataclasses import dataclass, field

LOGGER = logging.getLogger(__name__)

__all__ = (
    'CODE_LABELS',
    'LOCAL_TRANSPORT',
    'SetupReport',
    'ensure_code',
    'ensure_codes',
    'ensure_pseudo_family',
    'executable',
)

#: Labels of the codes the embedded set-up creates on the computer.
CODE_LABELS = {'gap_fit': 'gap_fit', 'python': 'gaprss-python', 'pw': 'pw'}

#: Transport settings of a ``core.local`` computer the set-up creates (or takes over from ``verdi presto``): no wait
#: between connections, and jobs started with ``bash``, not a login shell: the codes are absolute paths, and a login
#: shell reads the user's profile at every submission (slow, and a stale lock in it stalls every job).
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

    from aiida_gaprss.pseudos import DEFAULT_FAMILY_LABEL, install_debian_family

    groups = orm.QueryBuilder().append(orm.Group, filters={'label': DEFAULT_FAMILY_LABEL}).all(flat=True)
    before = {node.element for node in groups[0].nodes} if groups else set()
    family = install_debian_family()
    report.record(f'pseudopotential family {DEFAULT_FAMILY_LABEL}', not groups)
    added = sorted({node.element for node in family.nodes} - before) if groups else []
    if added:
        report.record(f'{", ".join(added)} added to pseudopotential family {DEFAULT_FAMILY_LABEL}', True)
