"""`groupvit demo`: run a default-size GroupViT end to end on a built-in example and print the logits."""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.random_checkpoint import RANDOM_WEIGHTS_LABEL, clip_normalize, example_image, random_weights

# Token ids of four short "captions" (bos ... eos); a random checkpoint has no tokenizer.
EXAMPLE_IDS = [
    [49406, 320, 1125, 539, 320, 2390, 49407],
    [49406, 320, 1125, 539, 320, 1237, 49407],
    [49406, 320, 1125, 539, 320, 2184, 49407],
    [49406, 320, 1125, 539, 320, 3289, 49407],
]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run GroupViT end to end on a built-in example (PyTorch backend)")
    parser.add_argument("--checkpoint", help="checkpoint directory; default: seeded random default-size weights")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    parser.add_argument("--out", default="runs/demo", help="folder for the example image and segmentation PNGs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from groupvit.png import colorize, write_png
    from groupvit.pt import GroupViTModel

    start = time.perf_counter()
    if args.checkpoint:
        model = GroupViTModel.from_pretrained(args.checkpoint)
        print(f"checkpoint: {args.checkpoint}")
    else:
        config = GroupViTConfig()
        model = GroupViTModel(config)
        model.load_weights(random_weights(config, args.seed), source=f"random_weights(seed={args.seed})")
        model.eval()
        print(f"checkpoint: default-size GroupViT, {RANDOM_WEIGHTS_LABEL}, seed {args.seed}")
    config = model.config
    height, width = config.vision_config.image_hw
    image = example_image(height, width)
    ids = torch.tensor(EXAMPLE_IDS)
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=torch.from_numpy(clip_normalize(image)), output_segmentation=True)
    params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {params / 1e6:.1f} M; forward + load in {time.perf_counter() - start:.2f} s")
    print("logits_per_image (1 image x 4 texts):")
    print("  " + "  ".join(f"{v:8.4f}" for v in out.logits_per_image[0].tolist()))
    labels = out.segmentation_logits[0].argmax(dim=0).numpy()
    counts = np.bincount(labels.ravel(), minlength=len(EXAMPLE_IDS))
    print("segmentation map: pixels per text " + ", ".join(f"{i}: {c}" for i, c in enumerate(counts)))
    os.makedirs(args.out, exist_ok=True)
    write_png(os.path.join(args.out, "example.png"), image)
    write_png(os.path.join(args.out, "segmentation_pt.png"), colorize(labels + 1))
    print(f"wrote {args.out}/example.png and {args.out}/segmentation_pt.png")
    return 0
