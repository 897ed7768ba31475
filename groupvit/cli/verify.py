"""`groupvit verify CHECKPOINT`: run a checkpoint in both backends and compare every output."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from groupvit.equivalence.compare import HEADER
from groupvit.equivalence.runner import Inputs, build_models, compare_outputs, float32_error, run_keras, run_pytorch
from groupvit.random_checkpoint import clip_normalize, example_image


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="load a checkpoint in PyTorch and Keras, run both, compare every output",
        description="Exits 1 when any output differs by more than its tolerance "
        "(groupvit.equivalence.tolerances) or a clear hard decision differs.",
    )
    parser.add_argument("checkpoint", help="checkpoint directory or weight file (any format of groupvit convert), "
                        "or a folder of groupvit export (then compared with eager PyTorch on its source)")
    parser.add_argument("--reference", help="for an export: the checkpoint it came from (default: the source "
                        "recorded in its export.json)")
    parser.add_argument("--image", help="image file (needs Pillow); default: a built-in synthetic picture")
    parser.add_argument(
        "--texts", help='comma-separated texts, e.g. "a cat,a dog" (needs a tokenizer in the checkpoint)'
    )
    parser.add_argument("--config", help="config.json for a weight file without one beside it")
    parser.add_argument("--out", help="folder for the two backends' segmentation maps as PNG, side by side")
    parser.add_argument("--jit", action="store_true", help="run the Keras model compiled with XLA")
    parser.add_argument("--dtype", choices=("bfloat16", "int8"),
                        help="compare this reduced precision with float32 of the same backend (--backend) instead "
                             "of the two backends: differences, embedding cosines, assignment and pixel agreement")
    parser.add_argument("--backend", choices=("pt", "tf"), default=None,
                        help="with --dtype: the backend whose float32 it is compared with (default pt; int8: pt only)")
    parser.add_argument("--data", help="with --dtype: a VOC-layout folder (groupvit shapes --layout voc) on which "
                        "both precisions' mIoU is measured with the checkpoint's evaluation defaults")
    parser.set_defaults(func=run)


def default_token_ids(config, count: int = 4, length: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic captions inside the vocabulary (start, words, end, right padding) and their mask, no longer
    than the text config's max_position_embeddings."""
    text = config.text_config
    vocab = text.vocab_size
    length = max(1, min(length, text.max_position_embeddings))

    def in_vocab(token: int | None, fallback: int) -> int:
        return token if token is not None and 0 <= token < vocab else fallback

    ids = np.random.default_rng(0).integers(0, min(vocab, 49400), size=(count, length))
    mask = np.ones((count, length), np.int64)
    for row in range(count):
        end = length - 1 - (row % 3 if length > 3 else 0)  # unequal lengths, so padding is exercised
        ids[row, 0] = in_vocab(text.bos_token_id, ids[row, 0])
        ids[row, end] = in_vocab(text.eos_token_id, vocab - 1)
        ids[row, end + 1:] = in_vocab(text.pad_token_id, 0)
        mask[row, end + 1:] = 0
    return ids.astype(np.int64), mask


def build_inputs(config, image_path: str | None, texts: str | None, checkpoint: str,
                 size: tuple[int, int] | None = None) -> Inputs:
    """Pixels at `size` (default the config's image size), token ids of `texts` or the default captions."""
    height, width = size or config.vision_config.image_hw
    if image_path:
        from groupvit.images import load_rgb, clip_preprocess

        pixels = clip_preprocess(load_rgb(image_path), height, width)
    else:
        pixels = clip_normalize(example_image(height, width))
    channels = config.vision_config.num_channels
    if channels != pixels.shape[1]:  # an RGB picture for a model of other channels: its grey, on every channel
        pixels = np.repeat(pixels.mean(axis=1, keepdims=True), channels, axis=1)
    if texts:
        from groupvit.tokenizer import load_tokenizer

        names = [t.strip() for t in texts.split(",") if t.strip()]
        if not names:
            raise ValueError(f'--texts must name at least one text. Received: --texts "{texts}"')
        ids, mask = load_tokenizer(checkpoint, config.text_config.max_position_embeddings)(names)
    else:
        ids, mask = default_token_ids(config)
    return Inputs(pixel_values=pixels.astype(np.float32), input_ids=ids, attention_mask=mask)


def run(args: argparse.Namespace) -> int:
    from groupvit.export.metadata import is_export

    if is_export(args.checkpoint):
        return verify_export(args.checkpoint, reference=args.reference, image=args.image, texts=args.texts,
                             out=args.out, config=args.config)
    if args.dtype:
        ignored = [name for name, value in (("--out", args.out), ("--jit", args.jit)) if value]
        if ignored:  # they belong to the PyTorch-against-Keras comparison, which --dtype replaces
            raise ValueError(f"{' and '.join(ignored)} apply without --dtype (the PyTorch-against-Keras comparison). "
                             f"Received: --dtype {args.dtype} with {', '.join(ignored)}")
        return verify_dtype(args.checkpoint, args.dtype, backend=args.backend or "pt", image=args.image,
                            texts=args.texts, config=args.config, data=args.data)
    if args.data:
        raise ValueError(f"--data applies with --dtype. Received: --data {args.data!r} without it")
    if args.backend:  # without --dtype, verify runs and compares both backends
        raise ValueError(f"--backend applies with --dtype (without it, verify compares the two backends). "
                         f"Received: --backend {args.backend} without it")
    if args.reference:
        raise ValueError(f"--reference applies to a folder of groupvit export. Received: {args.checkpoint!r}, "
                         f"which holds no export.json")
    return main_verify(args.checkpoint, image=args.image, texts=args.texts, config=args.config, out=args.out,
                       jit=args.jit)


EXPORT_NAMES = {"onnx": "ONNX (onnxruntime)", "torch-export": "torch.export program", "saved-model": "TF SavedModel"}


def verify_export(folder: str, *, reference: str | None = None, image: str | None = None, texts: str | None = None,
                  out: str | None = None, config: str | None = None) -> int:
    """An export against eager PyTorch on the checkpoint it came from: the same table and verdict. `config`: the
    config.json of a reference weight file without one beside it (default: the export's own)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        raise ImportError("groupvit verify compares an export with eager PyTorch, which needs torch: "
                          "pip install \"torch==2.13.0\" (to run an ONNX export without it, use Segmenter or "
                          "groupvit segment --backend onnx). Received: no torch installed")
    from groupvit.configs import GroupViTConfig
    from groupvit.export.check import padded, run_export
    from groupvit.export.metadata import read_export
    from groupvit.export.torch_graphs import eager_model
    from groupvit.keras_format import ensure_keras_format
    from groupvit.weights_bridge import load_checkpoint

    record = read_export(folder)
    source = reference or record["source"]
    if not os.path.exists(source):
        raise FileNotFoundError(f"The export's source checkpoint must exist (or pass --reference CHECKPOINT). "
                                f"Received: {source!r}")
    ensure_keras_format(source)
    if config is None and os.path.isfile(source) and not os.path.isfile(os.path.join(os.path.dirname(source),
                                                                                        "config.json")):
        config = os.path.join(folder, "config.json")  # a lone weight file: the config it was exported with
    model_config, weights = load_checkpoint(source, config)
    if model_config.to_dict() != GroupViTConfig.from_pretrained(folder).to_dict():
        raise ValueError(f"The reference checkpoint's config.json must equal the export's. Received: {source!r} "
                         f"differs from {folder!r}")
    if record["dynamic_image_size"]:  # the config's size, whole patches only (an export reads multiples of them)
        vision = model_config.vision_config
        size = tuple(s - s % p for s, p in zip(vision.image_hw, vision.patch_hw))
    else:
        size = tuple(record["trace_size"])
    inputs = build_inputs(model_config, image, texts, folder, size)
    inputs.interpolate_pos_encoding = size != tuple(model_config.vision_config.image_hw)
    if record.get("text_length"):
        text = model_config.text_config
        pad = text.pad_token_id if text.pad_token_id is not None else text.eos_token_id
        inputs = padded(inputs, int(record["text_length"]), int(pad or 0))
    eager = eager_model(model_config, weights)
    full = run_pytorch(eager, inputs)
    other = run_export(folder, inputs)
    rows = compare_outputs({name: full[name] for name in other if name in full}, other, context=full,
                           own_error=float32_error(eager, inputs, full))
    name = EXPORT_NAMES[record["kind"]] + ("" if record["parts"] == "full" else " towers")
    print(f"groupvit verify {folder}: PyTorch eager on {source} (reference) vs {name}, "
          f"{inputs.pixel_values.shape[0]} image(s) x {inputs.input_ids.shape[0]} text(s)")
    return _report(rows, out, full, other, name)


def main_verify(checkpoint: str, *, image: str | None = None, texts: str | None = None, config: str | None = None,
                out: str | None = None, jit: bool = False) -> int:
    """Print the comparison table; 0 when every output is within tolerance, else 1."""
    from groupvit.keras_format import ensure_keras_format
    from groupvit.weights_bridge import load_checkpoint

    if out and os.path.exists(out) and not os.path.isdir(out):  # found before the comparison, not after it
        raise FileExistsError(f"--out must be a folder (new or existing) for the maps. Received: the file {out!r}")
    ensure_keras_format(checkpoint)
    model_config, weights = load_checkpoint(checkpoint, config=config)
    inputs = build_inputs(model_config, image, texts, checkpoint)
    pt_model, tf_model = build_models(model_config, weights)
    reference = run_pytorch(pt_model, inputs)
    other = run_keras(tf_model, inputs, jit_compile=jit)
    rows = compare_outputs(reference, other, own_error=float32_error(pt_model, inputs, reference))
    print(f"groupvit verify {checkpoint}: PyTorch (reference) vs Keras{' (XLA)' if jit else ''}, "
          f"{inputs.pixel_values.shape[0]} image(s) x {inputs.input_ids.shape[0]} text(s)")
    return _report(rows, out, reference, other, "Keras")


def verify_dtype(checkpoint: str, dtype: str, *, backend: str = "pt", image: str | None = None,
                 texts: str | None = None, config: str | None = None, data: str | None = None) -> int:
    """Print how far `dtype` is from float32 of `backend` on the same checkpoint and inputs (and, with `data`,
    both mIoU); 0 unless a reduced-precision output is not finite."""
    from groupvit.equivalence.precision import HEADER as AGREEMENT_HEADER, compare_precision
    from groupvit.segmentation.loading import check_dtype, load_model

    check_dtype(backend, dtype)
    if config is not None:
        raise ValueError(f"--dtype loads the checkpoint with its own config.json. Received: --config {config!r}")
    run_backend = run_pytorch if backend == "pt" else run_keras
    outputs, inputs = {}, None
    for precision in ("float32", dtype):
        model = load_model(checkpoint, backend, precision)
        inputs = inputs or build_inputs(model.config, image, texts, checkpoint)
        outputs[precision] = run_backend(model, inputs)
    rows = compare_precision(outputs["float32"], outputs[dtype])
    name = {"pt": "PyTorch", "tf": "Keras"}[backend]
    print(f"groupvit verify {checkpoint} --dtype {dtype}: {name} {dtype} vs {name} float32, "
          f"{inputs.pixel_values.shape[0]} image(s) x {inputs.input_ids.shape[0]} text(s)")
    print(AGREEMENT_HEADER)
    for row in rows:
        print(row.format())
    if data:
        from groupvit.segmentation.evaluation import evaluate_folder

        labels = {}
        for precision in ("float32", dtype):
            labels[precision] = []
            _, ids, scores, used = evaluate_folder(checkpoint, data, backend=backend, dtype=precision,
                                                   labels_out=labels[precision])
            print(f"mIoU on {data} ({len(ids)} images, {name} {precision}, {used}): {100 * scores.mean:.2f} %")
        same = sum(int((a == b).sum()) for a, b in zip(labels["float32"], labels[dtype]))
        total = sum(a.size for a in labels["float32"])
        print(f"label maps on {data}: {100 * same / max(total, 1):.2f} % of {total} pixels the same in {dtype} "
              f"as in float32")
    bad = [row.name for row in rows if row.max_abs == float("inf")]
    if bad:
        print(f"FAILED: {dtype} outputs not finite: {', '.join(bad)}", file=sys.stderr)
        return 1
    print(f"OK: {dtype} measured against float32 ({len(rows)} rows)")
    return 0


def _report(rows, out: str | None, reference, other, other_name: str) -> int:
    print(HEADER)
    for row in rows:
        print(row.format())
    failed = [row.name for row in rows if not row.ok]
    if out and "segmentation_logits" in other:
        _write_maps(out, reference, other, other_name)
    elif out:
        print(f"no segmentation maps to write to {out}: the model has no grouping stage, or the reference grid "
              f"rule reads no token grid at this image size")
    if failed:
        print(f"FAILED: {len(failed)} of {len(rows)} outputs exceed their tolerance: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    print(f"OK: {len(rows)} outputs agree within tolerance")
    return 0


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    from groupvit.png import colorize

    gap = np.zeros((left.shape[0], 8), dtype=np.int64)
    return colorize(np.concatenate([left, gap - 1, right], axis=1) + 1)


def _group_map(outputs: dict[str, np.ndarray], height: int, width: int) -> np.ndarray | None:
    """Final group of every pixel of image 0: chained soft maps, upsampled, argmax (docs/computation.md's one-hot A)."""
    from groupvit.segmentation.zero_shot import chain_soft_maps, group_index_map
    from groupvit.token_grid import feature_grid

    maps = [outputs[k][0] for k in sorted(k for k in outputs if k.startswith("vision.attentions."))]
    if not maps:
        return None
    chained = chain_soft_maps(maps)[-1]  # (N, O_last)
    return group_index_map(chained, feature_grid(height, width, chained.shape[0]), (height, width))


def _write_maps(out_dir: str, reference: dict[str, np.ndarray], other: dict[str, np.ndarray],
               other_name: str = "Keras") -> None:
    from groupvit.png import write_png

    os.makedirs(out_dir, exist_ok=True)
    seg_ref, seg_other = reference["segmentation_logits"][0], other["segmentation_logits"][0]
    path = os.path.join(out_dir, "segmentation_pt_vs_tf.png")
    write_png(path, _side_by_side(seg_ref.argmax(axis=0), seg_other.argmax(axis=0)))
    print(f"wrote {path} (left: PyTorch, right: {other_name}; per pixel the best-matching text, image 0)")
    height, width = seg_ref.shape[-2:]
    groups_ref, groups_other = _group_map(reference, height, width), _group_map(other, height, width)
    if groups_ref is not None:
        path = os.path.join(out_dir, "groups_pt_vs_tf.png")
        write_png(path, _side_by_side(groups_ref, groups_other))
        print(f"wrote {path} (left: PyTorch, right: {other_name}; per pixel its final group, image 0)")
