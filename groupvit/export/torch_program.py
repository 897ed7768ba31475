"""`model.pt2`: a `torch.export.ExportedProgram` of the full graph, reloaded with `torch.export.load`.

Dynamic: the number of images, texts and tokens, and the image height and width (multiples of the patch
size). Call the reloaded program as `torch.export.load(path).module()(pixel_values, input_ids,
attention_mask)`; it returns the five outputs of `groupvit.export.metadata.FULL_OUTPUTS`, in that order.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch

from groupvit.configs import GroupViTConfig
from groupvit.export import metadata
from groupvit.export.onnx_export import _dims, trace_inputs
from groupvit.export.torch_graphs import FullGraph, eager_model

PROGRAM_NAME = "model.pt2"


def write_program(folder: str, config: GroupViTConfig, weights: dict[str, np.ndarray], *, parts: str,
                  opset: int | None, size: tuple[int, int]) -> dict[str, Any]:
    graph = FullGraph(eager_model(config, weights))
    dims = _dims(config)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.export.export(graph, trace_inputs(config, size),
                                      dynamic_shapes={name: dims[name] for name in metadata.FULL_INPUTS})
    torch.export.save(program, os.path.join(folder, PROGRAM_NAME))
    return {"files": {"model": PROGRAM_NAME}, "dynamic_image_size": True, "opset": None,
            "graphs": {"model": {"inputs": list(metadata.FULL_INPUTS), "outputs": list(metadata.FULL_OUTPUTS)}},
            "torch_version": torch.__version__}
