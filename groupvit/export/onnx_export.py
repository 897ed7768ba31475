"""ONNX graphs of the PyTorch model through torch's exporter (`torch.onnx.export(..., dynamo=True)`).

Dynamic axes: the number of images, their height and width (any multiple of the patch size; positions
are interpolated as `interpolate_pos_encoding=True` does), the number of texts and their length. The
graph's metadata (`metadata_props`) repeats what `export.json` says about sizes and the logit scale, so a
graph copied alone still tells its users what it takes.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from typing import Any

import numpy as np
import torch

from groupvit.configs import GroupViTConfig
from groupvit.export import metadata
from groupvit.export.torch_graphs import FullGraph, ImageGraph, TextGraph, eager_model, example_inputs


def _dims(config: GroupViTConfig) -> dict[str, Any]:
    from torch.export import Dim

    ph, pw = config.vision_config.patch_hw
    max_len = config.text_config.max_position_embeddings
    images, texts = Dim("images", min=1, max=4096), Dim("texts", min=1, max=65536)
    length = Dim("length", min=2, max=max_len) if max_len > 2 else None
    pixels = {0: images, 2: ph * Dim("rows", min=1, max=1024), 3: pw * Dim("columns", min=1, max=1024)}
    ids = {0: texts} if length is None else {0: texts, 1: length}
    return {"pixel_values": pixels, "input_ids": ids, "attention_mask": dict(ids)}


def trace_inputs(config: GroupViTConfig, size: tuple[int, int]):
    """Example inputs at a non-square size other than the trained one, so that no size test of the eager code
    (the trained-size shortcut of the position table) is frozen into a dynamic graph."""
    ph, pw = config.vision_config.patch_hw
    return example_inputs(config, (size[0] + ph, size[1] + 2 * pw))


def _export(module: torch.nn.Module, args: tuple, names: tuple[str, ...], outputs: tuple[str, ...], dims: dict,
            path: str, opset: int | None, props: dict[str, str]) -> None:
    import onnx

    shapes = {name: dims[name] for name in names}
    kwargs = {} if opset is None else {"opset_version": opset}
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # its notes on optional torchvision ops it skips
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on its own internals
            program = torch.onnx.export(module, args, dynamo=True, input_names=list(names), output_names=list(outputs),
                                        dynamic_shapes=shapes, verbose=False, **kwargs)
    finally:
        exporter_log.setLevel(level)
    if program is None:
        raise RuntimeError("torch.onnx.export must return an ONNX program (dynamo=True). Received: None")
    program.save(path)
    proto = onnx.load(path)
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def write_onnx(folder: str, config: GroupViTConfig, weights: dict[str, np.ndarray], *, parts: str,
               opset: int | None, size: tuple[int, int]) -> dict[str, Any]:
    model = eager_model(config, weights)
    dims = _dims(config)
    pixels, ids, mask = trace_inputs(config, size)
    props = {"groupvit.parts": parts, "groupvit.patch_size": json.dumps(list(config.vision_config.patch_hw)),
             "groupvit.image_size": "any multiple of groupvit.patch_size",
             "groupvit.logit_scale": repr(float(np.asarray(weights["logit_scale"]).reshape(-1)[0])),
             "groupvit.max_text_length": str(config.text_config.max_position_embeddings)}
    if parts == "full":
        _export(FullGraph(model), (pixels, ids, mask), metadata.FULL_INPUTS, metadata.FULL_OUTPUTS, dims,
                os.path.join(folder, "model.onnx"), opset, props)
        files = {"model": "model.onnx"}
        graphs = {"model": {"inputs": list(metadata.FULL_INPUTS), "outputs": list(metadata.FULL_OUTPUTS)}}
    else:
        image_out = metadata.image_outputs(config)
        _export(ImageGraph(model), (pixels,), ("pixel_values",), image_out, dims,
                os.path.join(folder, "image.onnx"), opset, props)
        _export(TextGraph(model), (ids, mask), metadata.TEXT_INPUTS, metadata.TEXT_OUTPUTS, dims,
                os.path.join(folder, "text.onnx"), opset, props)
        files = {"image": "image.onnx", "text": "text.onnx"}
        graphs = {"image": {"inputs": ["pixel_values"], "outputs": list(image_out)},
                  "text": {"inputs": list(metadata.TEXT_INPUTS), "outputs": list(metadata.TEXT_OUTPUTS)}}
    return {"files": files, "graphs": graphs, "dynamic_image_size": True, "opset": opset,
            "torch_version": torch.__version__}
