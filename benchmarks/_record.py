"""What every benchmark result records beside its figures: the commit measured, when, the load, the machine.

Each benchmark script puts :func:`provenance` under the key ``provenance`` of the JSON it writes to
``benchmarks/results/``, so that a figure in ``docs/benchmarks.md`` can be traced to the code and the conditions it was
measured with (``tests/test_benchmark_records.py`` checks the documented figures against these files).
"""

from __future__ import annotations

import datetime
import os
import pathlib
import platform
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Paths whose uncommitted changes would change what a benchmark measures.
MEASURED_PATHS = ('aiida_gaprss', 'benchmarks')


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def _cpu_model() -> str | None:
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text(encoding='utf-8').splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        for line in pathlib.Path('/proc/meminfo').read_text(encoding='utf-8').splitlines():
            if line.startswith('MemTotal:'):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def provenance() -> dict:
    """The commit, date (UTC), load average and machine of a measurement, as recorded when its result is written.

    Returns
    -------
    dict
        ``commit`` (``git rev-parse HEAD``, ``None`` outside a checkout), ``uncommitted`` (files of
        ``aiida_gaprss/`` and ``benchmarks/`` that differ from that commit: the measured code is the commit plus
        these), ``date`` (ISO 8601, UTC), ``loadavg`` (1, 5 and 15 min when written), ``machine`` (host name, CPU
        model, CPU count, memory in GB, OS, Python).
    """
    status = _git('status', '--porcelain', '--untracked-files=no', '--', *MEASURED_PATHS)
    return {
        'commit': _git('rev-parse', 'HEAD'),
        # `_git` strips the output, so the first line may have lost its leading blank: split, do not slice
        'uncommitted': sorted(line.split(maxsplit=1)[1] for line in status.splitlines()) if status else [],
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'loadavg': [round(value, 2) for value in os.getloadavg()],
        'machine': {
            'hostname': platform.node(),
            'cpu': _cpu_model(),
            'cpu_count': os.cpu_count(),
            'memory_gb': _memory_gb(),
            'os': platform.platform(),
            'python': platform.python_version(),
        },
    }


def write_results(name: str, figures: dict, tag: str = '', path: pathlib.Path | None = None) -> pathlib.Path:
    """Write ``figures`` (with :func:`provenance` under ``provenance``) as ONE JSON line to
    ``benchmarks/results/<name>.json`` (``<name>.<tag>.json`` with a tag; ``path`` instead when given, e.g. a
    benchmark's ``--output``), print that line, return the path."""
    import json

    figures = {**figures, 'provenance': provenance()}
    if path is None:
        path = ROOT / 'benchmarks' / 'results' / (f'{name}.{tag}.json' if tag else f'{name}.json')
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(figures)
    path.write_text(line + '\n')
    print(line)
    return path
