#!/usr/bin/env bash
# The test command: set up tox in its own virtual environment and run every tox environment.
# Each tox environment installs only what it needs (pt has no TensorFlow, tf has no torch).
#
# Disk: all nine environments together take about 14 GB (torch and TensorFlow in several of them),
# more than some fresh machines have free (CI once stopped with "No space left on device" in the
# sixth). So the environments run one after another and each is removed once it has run: the peak
# is the largest one (about 2.6 GB) plus pip's cache. KEEP_TOX_ENVS=1 keeps them for quick reruns.
# With arguments (e.g. `-e pt -- -k resume`) the command is plain `tox run ARGS`, nothing removed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=.venv-tox
if [ ! -x "$VENV/bin/tox" ]; then
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "tox>=4.11,<5"
fi
if [ "$#" -gt 0 ]; then
    exec "$VENV/bin/tox" run "$@"
fi

df -h . | tail -n 1 | awk '{print "disk free at start: " $4 " of " $2}'
failed=()
for env in $("$VENV/bin/tox" list --no-desc -d); do
    start=$SECONDS
    df -h . | tail -n 1 | awk -v env="$env" '{print "== " env ": disk free " $4}'
    if "$VENV/bin/tox" run -e "$env"; then
        echo "== $env: OK in $((SECONDS - start)) s"
    else
        echo "== $env: FAILED after $((SECONDS - start)) s"
        failed+=("$env")
    fi
    if [ "${KEEP_TOX_ENVS:-0}" != 1 ]; then
        rm -rf ".tox/$env"
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all tox environments passed"
