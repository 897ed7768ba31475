#!/usr/bin/env bash
# The main job: set up a virtual environment (pinned installs) and run the GroupViT demo.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "torch==2.13.0" "tensorflow-cpu==2.21.*" -e ".[torch,tf,segment]"
export TF_CPP_MIN_LOG_LEVEL=2
"$VENV/bin/groupvit" demo "$@"
