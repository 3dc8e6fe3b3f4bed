#!/usr/bin/env bash
# The test command: the fast default suite (every test not marked slow, slurm or postgres) in the project's environment.
#   ./test.sh              fast suite
#   ./test.sh -m slow      the slow tests (real DFT, long fits); any pytest arguments pass through
set -euo pipefail
cd "$(dirname "$0")"
PY=.venv/bin/python
[ -x "$PY" ] || { echo "run ./install.sh first" >&2; exit 2; }
# The project's programs (verdi, gap_fit, quip, gaprss) come from .venv/bin: put it first on PATH, as an activated venv
# would, so a new shell needs nothing on PATH (aiida-core's daemon fixture runs `verdi`, the fits run `gap_fit`).
export PATH="$PWD/.venv/bin:$PATH"
export VIRTUAL_ENV="$PWD/.venv"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ "$#" -eq 0 ]; then
  set -- -m "not slow and not slurm and not postgres"
fi
exec "$PY" -m pytest -ra --durations=15 "$@"
