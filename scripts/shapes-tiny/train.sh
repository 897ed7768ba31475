#!/usr/bin/env bash
# How groupvit/pretrained/shapes-tiny was made: data, training, measurement (see its MODEL_CARD.md).
# Usage: bash scripts/shapes-tiny/train.sh WORK_DIR   (about 30 min of training on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-runs/shapes-tiny}
mkdir -p "$WORK"
groupvit shapes "$WORK/train" --scenes 20000 --seed 1 --layout train --size 72          # training scenes (seed 1)
groupvit shapes "$WORK/heldout" --scenes 300 --seed 2 --layout voc --size 72            # held-out scenes (seed 2)
groupvit shapes "$WORK/heldout-hard" --scenes 300 --seed 3 --layout voc --size 72 --variant hard
groupvit train --backend pt --data "$WORK/train" --config scripts/shapes-tiny/config.json --out "$WORK/run" \
    --tokenizer-vocab 1024 --steps 1000 --batch-size 64 --lr 5e-4 --warmup-steps 60 --multi-label 3 \
    --crop-scale 0.7 1.0 --no-flip --save-every 100 --keep 20 --seed 0
python scripts/shapes-tiny/measure.py --checkpoint "$WORK/run" --data "$WORK/heldout" \
    --hard-data "$WORK/heldout-hard" --json "$WORK/measure.json"
