"""`groupvit demo`: the main job.

1. Segments a few generated scenes of the shapes world (held-out seed) with the shipped trained model
   `shapes-tiny`, in PyTorch and in Keras, and writes one picture per scene: image | ground truth |
   PyTorch labels | Keras labels | the group maps of each grouping stage (PyTorch), with a legend.
2. Scores both backends zero-shot on a held-out set of generated scenes (mIoU, background included)
   and counts the pixels where the two label maps differ.
3. Creates a default-size checkpoint with seeded random weights (labelled as such), converts it to
   the old Keras 2 port's tf_model.h5 with the weight bridge, and runs `groupvit verify` on it.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.random_checkpoint import RANDOM_WEIGHTS_LABEL, example_image, random_weights

HELD_OUT_SEED = 2  # the shapes-tiny training scenes are seed 1 (its MODEL_CARD.md)
SCENE_SIZE = 72
ZOOM = 3  # panels are drawn at ZOOM x the scene size
SCORED_FIRST = 4  # the scored scenes are numbers 4, 5, ... of the held-out seed, however many are drawn as pictures


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="segment generated scenes with the shipped shapes-tiny model in both backends, score them, "
                     "then convert and verify a random default-size checkpoint"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random default-size weights")
    parser.add_argument("--out", default="runs/demo", help="folder for the pictures and checkpoints")
    parser.add_argument("--scenes", type=int, default=4, help="scenes drawn as pictures (default 4)")
    parser.add_argument("--score-scenes", type=int, default=100,
                        help=f"held-out scenes scored for the mIoU of both backends, numbers {SCORED_FIRST} to "
                             f"{SCORED_FIRST} + N - 1 of seed {HELD_OUT_SEED} whatever --scenes is (default 100; "
                             f"0 = skip)")
    parser.set_defaults(func=run)


def _scenes(count: int, start: int = 0):
    from groupvit.datasets.shapes import make_scene, scene_rng

    return [make_scene(scene_rng(HELD_OUT_SEED, i), SCENE_SIZE) for i in range(start, start + count)]


def _segment(segmenter, images, names, settings):
    return segmenter.segment(images, names, background_threshold=settings["bg_thresh"],
                             templates=settings["templates"], mode=settings["mode"], window=settings["window"],
                             stride=settings["stride"])


def _panel_picture(scene, pt_result, tf_result, names, group_maps) -> np.ndarray:
    """One row of panels with titles above and a legend of the classes below."""
    from PIL import Image, ImageDraw

    from groupvit.segmentation.pictures import _font, group_map_picture, label_colors

    colors = label_colors(len(names))
    panels = [("image", scene.image), ("ground truth", colors[scene.mask]),
              ("PyTorch", colors[pt_result.labels]), ("Keras", colors[tf_result.labels])]
    panels += [(f"groups, stage {s + 1}", group_map_picture(scene.image, g))
               for s, g in enumerate(group_maps)]
    side, gap, title_h = SCENE_SIZE * ZOOM, 6, 18
    present = sorted(set(np.unique(scene.mask)) | set(np.unique(pt_result.labels)) | set(np.unique(tf_result.labels)))
    legend_h = 20
    canvas = Image.new("RGB", (len(panels) * (side + gap) + gap, title_h + side + legend_h + gap), (255, 255, 255))
    draw, font = ImageDraw.Draw(canvas), _font(12)
    for i, (title, rgb) in enumerate(panels):
        x = gap + i * (side + gap)
        picture = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize((side, side), Image.NEAREST)
        canvas.paste(picture, (x, title_h))
        draw.text((x + side // 2, title_h // 2), title, fill=(0, 0, 0), font=font, anchor="mm")
    x = gap
    for value in present:
        draw.rectangle([x, title_h + side + 5, x + 12, title_h + side + 17], fill=tuple(int(c) for c in colors[value]),
                       outline=(0, 0, 0))
        draw.text((x + 16, title_h + side + 11), names[value], fill=(0, 0, 0), font=font, anchor="lm")
        x += 24 + int(draw.textlength(names[value], font=font))
    return np.asarray(canvas)


def shapes_tiny_demo(out: str, scenes: int, score_scenes: int) -> dict:
    """Steps 1 and 2: pictures of `scenes` scenes, and both backends' mIoU on `score_scenes` scenes."""
    from groupvit.datasets.shapes import CLASS_NAMES
    from groupvit.segmentation import mean_iou
    from groupvit.segmentation.loading import checkpoint_defaults, load_segmenter
    from groupvit.segmentation.pictures import save_rgb

    settings = checkpoint_defaults("shapes-tiny")
    names = list(CLASS_NAMES)
    segmenters = {b: load_segmenter("shapes-tiny", b, short_side=settings["short_side"]) for b in ("pt", "tf")}
    shown = _scenes(scenes)
    results = {b: _segment(s, [sc.image for sc in shown], names[1:], settings) for b, s in segmenters.items()}
    grouped = results["pt"]
    if settings["mode"] != "whole":  # sliding windows have no single group map: one whole-image pass draws them
        grouped = _segment(segmenters["pt"], [sc.image for sc in shown], names[1:], {**settings, "mode": "whole"})
    os.makedirs(out, exist_ok=True)
    for i, scene in enumerate(shown):
        path = os.path.join(out, f"shapes-tiny-scene-{i}.png")
        save_rgb(path, _panel_picture(scene, results["pt"][i], results["tf"][i], names, grouped[i].group_maps))
        found = sorted({names[v] for v in np.unique(results["pt"][i].labels) if v})
        print(f"   scene {i}: caption {scene.caption!r}; PyTorch finds {found} -> {path}")
    summary = {"settings": settings}
    if score_scenes:
        held_out = _scenes(score_scenes, start=SCORED_FIRST)  # fixed, so the mIoU does not move with --scenes
        truths = [sc.mask.astype(np.int64) for sc in held_out]
        labels = {b: [r.labels for r in _segment(s, [sc.image for sc in held_out], names[1:], settings)]
                  for b, s in segmenters.items()}
        for backend in ("pt", "tf"):
            summary[f"miou_{backend}"] = float(mean_iou(labels[backend], truths, num_classes=len(names)).mean)
        differ = sum(int((a != b).sum()) for a, b in zip(labels["pt"], labels["tf"]))
        summary["pixels_differing"] = differ
        summary["pixels"] = int(sum(t.size for t in truths))
    return summary


def run(args: argparse.Namespace) -> int:
    from groupvit.cli.verify import main_verify
    from groupvit.png import write_png
    from groupvit.weights_bridge import convert, save_checkpoint

    start = time.perf_counter()
    print(f"1. shapes-tiny (trained from captions only, shipped in the package): {args.scenes} held-out scenes "
          f"(seed {HELD_OUT_SEED}) segmented in PyTorch and in Keras")
    try:
        summary = shapes_tiny_demo(args.out, args.scenes, args.score_scenes)
    except FileNotFoundError as err:  # a checkout without the shipped model (see scripts/shapes-tiny/train.sh)
        print(f"   skipped: {err}")
        summary = {}
    if args.score_scenes and summary:
        last = SCORED_FIRST + args.score_scenes - 1
        print(f"2. zero-shot mIoU on {args.score_scenes} held-out scenes (numbers {SCORED_FIRST}-{last}; 9 classes, "
              f"background included): "
              f"PyTorch {100 * summary['miou_pt']:.2f} %, Keras {100 * summary['miou_tf']:.2f} %; label maps differ "
              f"on {summary['pixels_differing']} of {summary['pixels']} pixels")

    config = GroupViTConfig()
    source = os.path.join(args.out, "random-default-checkpoint")
    save_checkpoint(config, random_weights(config, args.seed), source, format="safetensors")
    with open(os.path.join(source, "WEIGHTS.txt"), "w", encoding="utf-8") as f:
        f.write(f"{RANDOM_WEIGHTS_LABEL}; groupvit.random_checkpoint.random_weights(seed={args.seed})\n")
    print(f"3. wrote {source}: default-size GroupViT, {RANDOM_WEIGHTS_LABEL}, seed {args.seed}")

    converted = os.path.join(args.out, "random-default-checkpoint-tf_model_h5")
    result = convert(source, converted, format="h5", overwrite=True)
    print(f"4. converted with the weight bridge: {result.summary()}")

    height, width = config.vision_config.image_hw
    write_png(os.path.join(args.out, "example.png"), example_image(height, width))
    print(f"5. groupvit verify {converted} (input picture: {args.out}/example.png)")
    code = main_verify(converted, out=args.out)
    print(f"demo finished in {time.perf_counter() - start:.1f} s")
    return code
