"""Write the wall time of every CI step to ``benchmarks/results/ci_run.json`` (with the commit, date, load, machine).

Called by ``.ci/run`` when it ends (also when a step failed or CI was interrupted): ``record_steps.py STEPS_FILE
STATUS TOTAL``, where ``STEPS_FILE`` has one line per finished step, ``name<TAB>seconds<TAB>load1 load5 load15``,
STATUS is the exit status of ``.ci/run`` and TOTAL its wall time in seconds. docs/cluster.md quotes its figures
(tests/test_benchmark_records.py checks).
"""

from __future__ import annotations

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._record import provenance  # noqa: E402


def main(steps_file: str, status: str, total: str) -> None:
    steps = []
    for line in pathlib.Path(steps_file).read_text(encoding='utf-8').splitlines():
        name, seconds, load = line.split('\t')
        steps.append({'step': name, 'seconds': int(seconds), 'loadavg_at_end': [float(x) for x in load.split()]})
    figures = {
        'exit_status': int(status),
        'total_seconds': int(total),
        'total_minutes': round(int(total) / 60, 1),
        'budget_minutes': 60,
        'steps': steps,
        'provenance': provenance(),
    }
    target = ROOT / 'benchmarks' / 'results' / 'ci_run.json'
    target.write_text(json.dumps(figures, indent=1) + '\n', encoding='utf-8')
    sys.stdout.write(json.dumps(figures) + '\n')


if __name__ == '__main__':
    main(*sys.argv[1:4])
