"""Build a `Segmenter` from a checkpoint directory (weights, config and tokenizer files)."""

from __future__ import annotations

import os

from groupvit.segmentation.segmenter import Segmenter

BACKENDS = ("pt", "tf", "onnx")
DTYPES = ("float32", "bfloat16", "int8")
BACKEND_DTYPES = {"pt": DTYPES, "tf": ("float32", "bfloat16"), "onnx": ("float32",)}


def check_dtype(backend: str, dtype: str) -> None:
    if dtype not in BACKEND_DTYPES.get(backend, DTYPES):
        raise ValueError(f"dtype must be one of {BACKEND_DTYPES.get(backend, DTYPES)} for backend {backend!r}. "
                         f"Received: dtype={dtype!r}")


def load_model(checkpoint: str, backend: str = "pt", dtype: str = "float32"):
    """A GroupViT model of `backend` ("pt" or "tf") with the checkpoint's weights, in inference mode; or, for
    "onnx", the `groupvit export --format onnx --parts towers` folder `checkpoint` on onnxruntime.

    `dtype`: "float32" (the default: exact to the reference), "bfloat16" (the products in bfloat16, float32
    islands: groupvit.pt.precision / groupvit.tf.precision) or "int8" (PyTorch: dynamic int8 linear layers).
    """
    from groupvit.weights_bridge import load_checkpoint

    from groupvit.pretrained import resolve_checkpoint

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}. Received: backend={backend!r}")
    check_dtype(backend, dtype)
    checkpoint = resolve_checkpoint(checkpoint)
    if not os.path.exists(checkpoint):
        raise FileNotFoundError(f"The checkpoint must exist. Received: checkpoint={checkpoint!r}")
    from groupvit.export.metadata import is_export

    if backend == "onnx" or is_export(checkpoint):
        if backend != "onnx" or not is_export(checkpoint):
            raise ValueError(f"backend 'onnx' runs a folder written by `groupvit export --format onnx`, and such "
                             f"a folder only that backend. Received: backend={backend!r}, checkpoint={checkpoint!r}")
        from groupvit.export.runtime import OnnxGroupViT

        return OnnxGroupViT(checkpoint)
    from groupvit.keras_format import ensure_keras_format

    ensure_keras_format(checkpoint)
    config, weights = load_checkpoint(checkpoint)
    if backend == "pt":
        from groupvit.pt import GroupViTModel

        model = GroupViTModel(config)
        model.load_weights(weights, source=checkpoint)
        if dtype == "int8":
            from groupvit.pt.precision import quantize_int8

            return quantize_int8(model)
        if dtype == "bfloat16":
            import torch

            model = model.to(torch.bfloat16)
        return model.eval()
    from groupvit.tf import TFGroupViTModel

    # bfloat16 variables (the weights rounded once, as PyTorch's .to(torch.bfloat16)): at the default size
    # 1.32x / 1.77x the port on 1x8 / 8x8 with segmentation, where mixed_bfloat16 (a cast of every
    # weight on every call) gave 0.93x / 1.53x (benchmarks/RESULTS-precision-tf.md)
    model = TFGroupViTModel(config, **({"dtype": "bfloat16"} if dtype == "bfloat16" else {}))
    model.assign_numpy(weights, source=checkpoint)
    return model


SEGMENTATION_DEFAULTS_NAME = "segmentation_defaults.json"
# the authors' segmentation evaluation (configs/default.yml `evaluate.seg`): threshold 0.95, the "simple" template
# set (one prompt, "a photo of a {}."), sliding windows
AUTHORS_DEFAULTS = {"bg_thresh": 0.95, "templates": 1, "mode": "slide"}


def checkpoint_defaults(checkpoint: str) -> dict:
    """Evaluation settings that fit a checkpoint: the authors' sizes relative to the model's training size
    (shorter side and window 2 x image_size, stride 1 x: 448 / 448 / 224 for the released 224-px models),
    the authors' threshold, templates and mode, and whatever the checkpoint's own
    `segmentation_defaults.json` sets (a shipped model records the settings its card reports)."""
    import json

    from groupvit.configs import GroupViTConfig
    from groupvit.pretrained import resolve_checkpoint

    path = resolve_checkpoint(checkpoint)
    if not os.path.exists(path):
        raise FileNotFoundError(f"The checkpoint must exist. Received: checkpoint={checkpoint!r}")
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    # the config the model loads with: config.json beside the weights, else the default (an authors' .pth)
    has_config = os.path.isfile(os.path.join(folder, "config.json"))
    from groupvit.segmentation.segmenter import default_sizes

    vision = (GroupViTConfig.from_pretrained(folder) if has_config else GroupViTConfig()).vision_config
    short_side, window, stride = default_sizes(vision)
    out = {"short_side": short_side, "window": window, "stride": stride, **AUTHORS_DEFAULTS}
    file = os.path.join(folder, SEGMENTATION_DEFAULTS_NAME)
    if os.path.isfile(file):
        with open(file, encoding="utf-8") as f:
            given = json.load(f)
        unknown = sorted(set(given) - set(out))
        if unknown:
            raise ValueError(f"{file} may set {sorted(out)}. Received unknown keys: {unknown}")
        out.update(given)
    return out


def fill_defaults(args) -> None:
    """Set the CLI options left unset (None) from `checkpoint_defaults`."""
    defaults = checkpoint_defaults(args.checkpoint)
    for name, value in defaults.items():
        if getattr(args, name, "absent") is None:
            setattr(args, name, value)


def load_segmenter(checkpoint: str, backend: str = "pt", *, short_side: int | None = None, batch_size: int = 4,
                   dtype: str = "float32") -> Segmenter:
    """Model (in `dtype`, see `load_model`) + the tokenizer stored with the checkpoint + the authors' transform
    (shorter side `short_side`, default the checkpoint's); `segment` then takes the checkpoint's settings
    (`checkpoint_defaults`: what `groupvit segment` / `evaluate` use) for those it is not given."""
    import functools

    from groupvit.images import segmentation_preprocess
    from groupvit.tokenizer import load_tokenizer

    from groupvit.pretrained import resolve_checkpoint

    checkpoint = resolve_checkpoint(checkpoint)
    model = load_model(checkpoint, backend, dtype)
    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
    tokenizer = load_tokenizer(folder, model.config.text_config.max_position_embeddings)
    settings = checkpoint_defaults(checkpoint)
    transform = functools.partial(segmentation_preprocess, short_side=short_side or settings["short_side"])
    return Segmenter(model, tokenizer, image_transform=transform, batch_size=batch_size, defaults=settings)
