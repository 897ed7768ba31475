"""`groupvit demo`: the main job.

Creates a default-size checkpoint with seeded random weights (labelled as such), converts it to
the old Keras 2 port's tf_model.h5 with the weight bridge, and runs `groupvit verify` on the
converted file: both backends on a built-in picture, every output compared, the two
segmentation maps written side by side as PNG.
"""

from __future__ import annotations

import argparse
import os
import time

from groupvit.configs import GroupViTConfig
from groupvit.random_checkpoint import RANDOM_WEIGHTS_LABEL, example_image, random_weights


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="create a random default-size checkpoint, convert it to tf_model.h5, verify both backends"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--out", default="runs/demo", help="folder for the checkpoints, picture and PNGs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from groupvit.cli.verify import main_verify
    from groupvit.png import write_png
    from groupvit.weights_bridge import convert, save_checkpoint

    start = time.perf_counter()
    config = GroupViTConfig()
    source = os.path.join(args.out, "random-default-checkpoint")
    save_checkpoint(config, random_weights(config, args.seed), source, format="safetensors")
    with open(os.path.join(source, "WEIGHTS.txt"), "w", encoding="utf-8") as f:
        f.write(f"{RANDOM_WEIGHTS_LABEL}; groupvit.random_checkpoint.random_weights(seed={args.seed})\n")
    print(f"1. wrote {source}: default-size GroupViT, {RANDOM_WEIGHTS_LABEL}, seed {args.seed}")

    converted = os.path.join(args.out, "random-default-checkpoint-tf_model_h5")
    result = convert(source, converted, format="h5", overwrite=True)
    print(f"2. converted with the weight bridge: {result.summary()}")

    height, width = config.vision_config.image_hw
    write_png(os.path.join(args.out, "example.png"), example_image(height, width))
    print(f"3. groupvit verify {converted} (input picture: {args.out}/example.png)")
    code = main_verify(converted, out=args.out)
    print(f"demo finished in {time.perf_counter() - start:.1f} s")
    return code
