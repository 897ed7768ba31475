"""`groupvit shapes OUT --scenes N --seed S --layout train|wds|voc`: write the generated shapes world."""

from __future__ import annotations

import argparse

LAYOUTS = ("train", "wds", "voc")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shapes", help="write a seeded world of shapes: captions for training, or true masks for evaluate",
        description="train: images/*.png + captions.jsonl; wds: shards/*.tar (KEY.png + KEY.json); "
        "voc: JPEGImages/, SegmentationClass/, ImageSets/Segmentation/val.txt, classes.txt, classes_alt.txt. "
        "Scene i of a seed is the same in every layout: use different seeds for training and evaluation.",
    )
    parser.add_argument("out", metavar="OUT", help="output folder (must not exist, or be empty)")
    parser.add_argument("--scenes", type=int, required=True, help="number of scenes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=LAYOUTS, default="train")
    parser.add_argument("--size", type=int, default=80, help="image side in pixels (32-256)")
    parser.add_argument("--variant", choices=("default", "hard"), default="default",
                        help="hard: colour independent of class")
    parser.add_argument("--shard-size", type=int, default=1000, help="samples per tar shard (layout wds)")
    parser.add_argument("--background-nouns", action="store_true",
                        help="train/wds: every caption names its background ('... on grass') and the background's "
                        "noun phrase joins the nouns; the images are the same")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from groupvit.datasets.shapes import write_train, write_voc

    if args.layout == "voc" and args.background_nouns:
        raise ValueError("--background-nouns changes captions, which only the train and wds layouts hold. "
                         "Received: --layout voc --background-nouns")
    if args.layout == "voc":
        summary = write_voc(args.out, args.scenes, seed=args.seed, size=args.size, variant=args.variant)
    else:
        summary = write_train(args.out, args.scenes, seed=args.seed, size=args.size, variant=args.variant,
                              layout="jsonl" if args.layout == "train" else "wds", shard_size=args.shard_size,
                              background_nouns=args.background_nouns)
    if sum(summary.objects.values()) < args.scenes:  # every scene holds at least one object
        raise ValueError(f"Every scene must hold an object. Received: {sum(summary.objects.values())} objects "
                         f"in {args.scenes} scenes")
    print(f"groupvit shapes: {summary.line()}")
    return 0
