"""`groupvit segment IMAGE_OR_DIR... --checkpoint DIR --labels "cat,dog"`: zero-shot segmentation to files."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from groupvit.cli import positive_int, template_option

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment", help="zero-shot segmentation of images into named classes (docs/computation.md)",
        description="Writes per image: <name>_labels.png (palette; 0 = background, i = i-th label), "
        "<name>_overlay.png, <name>_groups_stage<s>.png (whole mode) and <name>.json.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders of images")
    parser.add_argument(
        "--checkpoint", required=True, help="checkpoint directory (weights, config.json, tokenizer files)"
    )
    parser.add_argument(
        "--labels", required=True, help='comma-separated class names; synonyms with ";": "tv; monitor,cat"'
    )
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "int8"), default="float32",
                        help="precision of the model (bfloat16: pt and tf; int8: pt, dynamic int8 linear layers)")
    parser.add_argument("--backend", choices=("pt", "tf", "onnx"), default="pt",
                        help="onnx: a folder of `groupvit export --format onnx --parts towers` as --checkpoint")
    parser.add_argument(
        "--bg-thresh",
        type=float,
        default=None,
        help="background threshold (default: the checkpoint's, else 0.95 as the authors on VOC; Context 0.35)",
    )
    parser.add_argument("--templates", type=template_option, default=None, metavar="1|7|80|TEMPLATE",
                        help="prompt template set (1, 7, 80) or one template holding {} (default: the checkpoint's, "
                             "else 1)")
    parser.add_argument("--mode", choices=("whole", "slide"), default="whole",
                        help="whole image (default: the mode that writes the group maps) or sliding windows "
                             "(evaluate's default)")
    parser.add_argument(
        "--short-side", type=positive_int, default=None,
        help="default: 2 x the checkpoint's image_size (448 at 224 px)"
    )
    parser.add_argument("--window", type=int, default=None, help="default: 2 x image_size")
    parser.add_argument("--stride", type=int, default=None, help="default: 1 x image_size")
    parser.add_argument("--top-k", type=int, default=5,
                        help="classes each image keeps by its image-level scores (default 5, the authors')")
    parser.add_argument("--out", required=True, help="output folder (its files of the same names are replaced; "
                        "never an input)")
    parser.set_defaults(func=run)


def parse_labels(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f'--labels must name at least one class. Received: --labels "{text}"')
    return names


def collect_images(inputs: list[str]) -> list[str]:
    """Files as given, folders expanded to their image files (sorted); missing paths are an error."""
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(os.path.join(item, n) for n in os.listdir(item) if n.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise ValueError(f"A folder must hold at least one image. Received: {item!r}")
            paths.extend(found)
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise FileNotFoundError(f"Every input must be an image file or a folder. Received: {item!r}")
    return paths


def run(args: argparse.Namespace) -> int:
    from groupvit.images import check_image_file, load_rgb
    from groupvit.pretrained import resolve_checkpoint
    from groupvit.segmentation import pictures
    from groupvit.segmentation.loading import fill_defaults, load_segmenter
    from groupvit.segmentation.progress import ItemProgress
    from groupvit.weights_bridge.atomic import AtomicFiles

    labels = parse_labels(args.labels)
    folders = [item for item in args.inputs if os.path.isdir(item)]
    if any(os.path.realpath(item) == os.path.realpath(args.out) for item in folders):
        raise ValueError("--out must not be an input folder: the next `groupvit segment` of that folder would read "
                         f"the label maps and overlays as images. Received: --out {args.out!r}")
    paths = collect_images(args.inputs)
    if not os.path.exists(resolve_checkpoint(args.checkpoint)):
        raise FileNotFoundError(f"The checkpoint must exist. Received: --checkpoint {args.checkpoint!r}")
    fill_defaults(args)
    for path in paths:  # refuse a file that is not an image before any work (pixels are decoded one at a time)
        check_image_file(path)
    used_stems: set[str] = set()
    stems = [_unique_stem(os.path.splitext(os.path.basename(path))[0], used_stems) for path in paths]
    check_outputs_spare_inputs(paths, stems, args.out)
    segmenter = load_segmenter(args.checkpoint, args.backend, short_side=args.short_side, dtype=args.dtype)
    os.makedirs(args.out, exist_ok=True)
    settings = dict(background_threshold=args.bg_thresh, templates=args.templates, mode=args.mode,
                    window=args.window, stride=args.stride, top_k=args.top_k)
    segmenter.segment([], labels, **settings)  # the labels and settings, checked once: errors of the whole run
    progress = ItemProgress(len(paths), "segment")
    skipped: list[str] = []
    for path, stem in zip(paths, stems):
        try:  # what only decoding finds (a truncated file, an image too thin for one patch) skips that image
            image = load_rgb(path)
            result = segmenter.segment(image, labels, **settings)[0]
        except (OSError, ValueError) as error:
            skipped.append(f"{path}: {error}")
            print(f"skipped {path}: {error}", file=sys.stderr)
            progress.step(os.path.basename(path))
            continue
        summary = dict(image=os.path.abspath(path), labels=labels, backend=args.backend, mode=args.mode,
                       templates=args.templates, bg_thresh=args.bg_thresh, **result.summary())
        with AtomicFiles(args.out) as files:  # an image's files all appear, or none of them
            files.stage(f"{stem}_labels.png", lambda tmp: pictures.save_label_png(tmp, result.labels))
            files.stage(f"{stem}_overlay.png", lambda tmp: pictures.save_rgb(tmp, pictures.overlay(image, result)))
            for stage, groups in enumerate(result.group_maps):
                files.stage(f"{stem}_groups_stage{stage}.png",
                            lambda tmp, g=groups: pictures.save_rgb(tmp, pictures.group_map_picture(image, g)))
            files.stage(f"{stem}.json", lambda tmp: _write_json(tmp, summary))
            files.commit()
        progress.step(os.path.basename(path))
    progress.close()
    print(f"segmented {len(paths) - len(skipped)} image(s) into {args.out}", file=sys.stderr)
    if skipped:  # the others are done; the exit status says the run is incomplete
        print(f"skipped {len(skipped)} of {len(paths)} image(s) that could not be segmented:\n  "
              + "\n  ".join(skipped), file=sys.stderr)
        return 1
    return 0


OUTPUT_NAME = re.compile(r"(?P<stem>.+)(_labels\.png|_overlay\.png|_groups_stage\d+\.png|\.json)")  # of a stem


def check_outputs_spare_inputs(paths: list[str], stems: list[str], out: str) -> None:
    """Refuse an --out where an output file of this run would replace one of its input images."""
    out_dir, stem_set = os.path.realpath(out), set(stems)
    for path in paths:
        match = OUTPUT_NAME.fullmatch(os.path.basename(path))
        if (match and match["stem"] in stem_set
                and os.path.realpath(os.path.dirname(os.path.abspath(path))) == out_dir):
            raise FileExistsError(
                f"The outputs must not replace the inputs. Received: --out {out!r} would write "
                f"{os.path.basename(path)!r} over the input image {path!r}; choose another --out")


def _write_json(path: str, value: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)


def _unique_stem(stem: str, used: set[str]) -> str:
    candidate, n = stem, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}_{n}"
    used.add(candidate)
    return candidate
