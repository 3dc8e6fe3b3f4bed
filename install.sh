#!/usr/bin/env bash
# One command on a fresh Debian machine: system packages, a virtual environment with aiida-gaprss, the embedded
# AiiDA set-up (verdi presto profile, localhost computer, codes, pseudopotentials, daemon) and the main job.
#   ./install.sh            everything, then the demo
#   ./install.sh --no-demo  everything but the demo (what CI does before the tests)
set -euo pipefail
cd "$(dirname "$0")"
DEMO=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) DEMO=0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# System packages: Quantum ESPRESSO (the embedded reference code), OpenBLAS (pw.x 1.5-1.7x faster), graphviz (verdi
# node graph), OpenMPI comes with quantum-espresso. Chromium (headless) and a font renders `gaprss report` pages for
# the report's screenshot test (installed without its recommends: no printing stack).
PACKAGES="quantum-espresso libopenblas0-serial graphviz"
BROWSER_PACKAGES="chromium fonts-liberation"
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
missing_browser=""
for p in $BROWSER_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing_browser="$missing_browser $p"; done
if [ -n "$missing$missing_browser" ]; then
  $SUDO apt-get update -qq
fi
if [ -n "$missing" ]; then
  echo "==> apt-get install$missing"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
if [ -n "$missing_browser" ]; then
  echo "==> apt-get install --no-install-recommends$missing_browser"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing_browser
fi

# Python environment.
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> pip install -e .[dev]"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'

# The PBE Ti of the embedded pseudopotential family (Debian ships only an LDA Ti): generated with Debian's ld1.x from
# pslibrary 1.0.0's parameters and checked (aiida_gaprss/pseudo_generation.py), once: it is cached in
# ${XDG_CACHE_HOME:-~/.cache}/aiida-gaprss/pseudos and `gaprss setup` puts it in the family gaprss/debian-pbe.
echo "==> PBE Ti pseudopotential (ld1.x)"
.venv/bin/python -m aiida_gaprss.pseudo_generation

if [ "$DEMO" = "1" ]; then
  export PATH="$PWD/.venv/bin:$PATH"
  echo "==> gaprss setup"
  gaprss setup
  echo "==> the main job"
  verdi run workflows/demo.py
fi
