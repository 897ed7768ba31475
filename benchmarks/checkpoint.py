"""Writes the default-size random checkpoint twice: model.safetensors and the Keras 2 port's tf_model.h5.

Run as `python -m benchmarks.checkpoint OUT_DIR [--seed S]` (numpy only; any worker environment).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from groupvit.configs import GroupViTConfig
from groupvit.random_checkpoint import random_weights
from groupvit.weights_bridge import save_checkpoint

FORMATS = {"safetensors": "safetensors", "h5": "h5"}  # sub-directory -> weight format


def write_checkpoints(out_dir: Path, seed: int) -> dict[str, str]:
    """{format: directory}; a directory already holding its config.json is kept as it is."""
    config = GroupViTConfig()
    weights = None
    written = {}
    for sub, fmt in FORMATS.items():
        target = out_dir / f"default-seed{seed}-{sub}"
        if not (target / "config.json").exists():
            weights = weights if weights is not None else random_weights(config, seed)
            save_checkpoint(config, weights, target, format=fmt)
        written[sub] = str(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for sub, path in write_checkpoints(args.out_dir, args.seed).items():
        print(f"{sub} {path}")


if __name__ == "__main__":
    main()
