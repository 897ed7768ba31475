#!/usr/bin/env bash
# The test command: set up tox in its own virtual environment and run every tox environment.
# Each tox environment installs only what it needs (pt has no TensorFlow, tf has no torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=.venv-tox
if [ ! -x "$VENV/bin/tox" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "tox>=4.11,<5"
fi
exec "$VENV/bin/tox" run "$@"
