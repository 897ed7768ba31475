"""Run an export folder on the inputs `groupvit verify` uses, with output names the comparison knows.

Every format gives the names of the eager model's outputs (`groupvit.equivalence.runner.run_pytorch`):
the full graphs `logits_per_image`, `logits_per_text`, `text_embeds`, `image_embeds`,
`segmentation_logits`; the image graphs `image_features`, `group_features` and the soft maps as
`vision.attentions.{k}` (so the hard assignments are compared too); the text graphs `text_features`.
"""

from __future__ import annotations

import os

import numpy as np

from groupvit.equivalence.runner import GROUP_FEATURES, Inputs, Outputs
from groupvit.export import metadata


def _rename(values: dict[str, np.ndarray]) -> Outputs:
    out = {}
    for name, value in values.items():
        if name.startswith("soft_maps_stage"):
            name = "vision.attentions." + name[len("soft_maps_stage"):]
        out[name] = np.asarray(value)
    return out


def padded(inputs: Inputs, length: int, pad_id: int) -> Inputs:
    """The same texts padded (masked) to `length` tokens: for graphs of a static text length."""
    ids, mask = inputs.input_ids, inputs.attention_mask
    if mask is None:
        mask = np.ones_like(ids)
    extra = length - ids.shape[1]
    if extra < 0:
        raise ValueError(f"The texts must fit the export's {length} tokens. Received: {ids.shape[1]} tokens")
    ids = np.pad(ids, ((0, 0), (0, extra)), constant_values=pad_id)
    mask = np.pad(mask, ((0, 0), (0, extra)), constant_values=0)
    return Inputs(inputs.pixel_values, ids.astype(np.int64), mask.astype(np.int64), inputs.interpolate_pos_encoding)


def run_export(folder: str, inputs: Inputs) -> Outputs:
    record = metadata.read_export(folder)
    kind, parts = record["kind"], record["parts"]
    mask = inputs.attention_mask if inputs.attention_mask is not None else np.ones_like(inputs.input_ids)
    if kind == "onnx":
        from groupvit.export.runtime import OnnxGroupViT

        model = OnnxGroupViT(folder)
        if parts == "full":
            return _rename(model(pixel_values=inputs.pixel_values, input_ids=inputs.input_ids, attention_mask=mask))
        vision = model.encode_images(inputs.pixel_values)
        out = {"image_features": vision.image_features, GROUP_FEATURES: vision.group_features,
               "text_features": model.get_text_features(inputs.input_ids, mask)}
        out.update({f"vision.attentions.{k}": soft for k, soft in enumerate(vision.soft_maps)})
        return out
    if kind == "torch-export":
        import torch

        program = torch.export.load(os.path.join(folder, record["files"]["model"])).module()
        with torch.no_grad():
            values = program(torch.from_numpy(inputs.pixel_values), torch.from_numpy(inputs.input_ids),
                             torch.from_numpy(mask))
        return {name: value.numpy() for name, value in zip(metadata.FULL_OUTPUTS, values)}
    import tensorflow as tf

    loaded = tf.saved_model.load(folder)
    pixels, ids, mask = (tf.constant(v) for v in (inputs.pixel_values, inputs.input_ids, mask.astype(np.int64)))
    out = {k: v.numpy() for k, v in loaded.signatures["segment"](pixel_values=pixels, input_ids=ids,
                                                                 attention_mask=mask).items()}
    out.update(_rename({k: v.numpy() for k, v in loaded.signatures["image_features"](pixel_values=pixels).items()}))
    out.update({k: v.numpy() for k, v in loaded.signatures["text_features"](input_ids=ids,
                                                                            attention_mask=mask).items()})
    return out
