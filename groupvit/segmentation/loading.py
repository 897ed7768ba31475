"""Build a `Segmenter` from a checkpoint directory (weights, config and tokenizer files)."""

from __future__ import annotations

import os

from groupvit.segmentation.segmenter import Segmenter

BACKENDS = ("pt", "tf")


def load_model(checkpoint: str, backend: str = "pt"):
    """A GroupViT model of `backend` ("pt" or "tf") with the checkpoint's weights, in inference mode."""
    from groupvit.weights_bridge import load_checkpoint

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}. Received: backend={backend!r}")
    if not os.path.exists(checkpoint):
        raise FileNotFoundError(f"The checkpoint must exist. Received: checkpoint={checkpoint!r}")
    config, weights = load_checkpoint(checkpoint)
    if backend == "pt":
        from groupvit.pt import GroupViTModel

        model = GroupViTModel(config)
        model.load_weights(weights, source=checkpoint)
        return model.eval()
    from groupvit.tf import TFGroupViTModel

    model = TFGroupViTModel(config)
    model.assign_numpy(weights, source=checkpoint)
    return model


def load_segmenter(checkpoint: str, backend: str = "pt", *, short_side: int = 448, batch_size: int = 4) -> Segmenter:
    """Model + the tokenizer stored with the checkpoint + the authors' transform (shorter side `short_side`)."""
    import functools

    from groupvit.images import segmentation_preprocess
    from groupvit.tokenizer import load_tokenizer

    model = load_model(checkpoint, backend)
    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
    tokenizer = load_tokenizer(folder, model.config.text_config.max_position_embeddings)
    transform = functools.partial(segmentation_preprocess, short_side=short_side)
    return Segmenter(model, tokenizer, image_transform=transform, batch_size=batch_size)
