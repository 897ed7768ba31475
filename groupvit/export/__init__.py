"""Deployment formats of a GroupViT checkpoint: ONNX, TF SavedModel and torch.export.

`export_checkpoint(checkpoint, out, format=...)` writes a new folder `out` (all or nothing: it is built
beside `out` and renamed into place, and an existing non-empty `out` is refused):

- `onnx` (from the PyTorch model, torch's exporter): `--parts full` is one graph `model.onnx`
  (`pixel_values`, `input_ids`, `attention_mask` -> `logits_per_image`, `logits_per_text`,
  `text_embeds`, `image_embeds`, `segmentation_logits`); `--parts towers` is `image.onnx`
  (`pixel_values` -> `image_features`, `group_features`, `soft_maps_stage{k}`) and `text.onnx`
  (`input_ids`, `attention_mask` -> `text_features`), what zero-shot segmentation needs, so a
  vocabulary is encoded once and reused. `groupvit.export.runtime.OnnxGroupViT` runs either with
  onnxruntime and numpy alone, and `Segmenter` / `groupvit segment --backend onnx` use the towers.
- `saved-model` (from the Keras model): a TF SavedModel with the serving signatures
  `image_features`, `text_features` and `segment`, loadable with `tf.saved_model.load` alone.
- `torch-export`: `model.pt2`, a `torch.export.ExportedProgram` of the full graph (`torch.export.load`).

Every export folder also holds `export.json` (format, parts, files, image size, the logit scale, the
source checkpoint), the checkpoint's `config.json` and its tokenizer files. Frameworks are imported
only by the format that needs them: this module imports none.
"""

from __future__ import annotations

import os

from groupvit.export.metadata import FORMATS, PARTS

__all__ = ["FORMATS", "PARTS", "export_checkpoint"]


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike, *, format: str = "onnx",
                      parts: str = "full", opset: int | None = None, image_size: int | None = None,
                      config: str | os.PathLike | None = None) -> str:
    """Export `checkpoint` (a folder, weight file, shipped name or hub id) to the new folder `out`.

    `config`: a config.json for a weight file without one beside it (as the weight bridge's `config`).

    `image_size`: the square input size the graphs are traced at (default the config's `image_size`);
    ONNX and torch.export graphs take any size that is a multiple of the patch size, the SavedModel
    signatures that one size. Returns `out`."""
    from groupvit.export import metadata

    metadata.check_request(format, parts, opset)
    source, config, weights = metadata.load_source(checkpoint, config)
    size = metadata.trace_size(config, image_size)
    if format == "saved-model" and config.vision_config.grouping_stages:  # its segment signature, at that size
        from groupvit.token_grid import patch_grid

        h, w = size
        try:
            patch_grid(h, w, config.vision_config.patch_hw)
        except ValueError as error:
            raise ValueError(f"The saved-model's segment signature needs a token grid at the traced size "
                             f"{h}x{w} (--image-size): {error}") from None
    if format == "onnx":
        from groupvit.export.onnx_export import write_onnx as writer
    elif format == "torch-export":
        from groupvit.export.torch_program import write_program as writer
    else:
        from groupvit.export.saved_model import write_saved_model as writer
    return metadata.write_export(out, source, config, weights, format=format, parts=parts, opset=opset, size=size,
                                 writer=writer)
