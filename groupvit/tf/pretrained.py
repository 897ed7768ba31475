"""Base class of the Keras models: strict numpy loading, `from_pretrained` / `save_pretrained`, config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from groupvit.configs import GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
from groupvit.outputs import ModelOutput
from groupvit.tf.graph_call import GraphCache, check_call_mode
from groupvit.tf.weight_names import torch_key, transforms
from groupvit.weights_bridge.keys import IGNORED_KEYS, OPTIONAL_BUFFER_SUFFIXES, expected_shapes
from groupvit.weights_bridge.model_files import (auto_dtype, check_loading_options, config_overrides,
                                                  load_with_overrides, loading_info, locate_for_model, save_for_model)
from groupvit.weights_bridge.strict import check_weights

AnyConfig = GroupViTConfig | GroupViTTextConfig | GroupViTVisionConfig


def _skipped(key: str) -> bool:
    """Keys of a PyTorch state dict with no Keras slot behind them."""
    return key in IGNORED_KEYS or key.rsplit(".", 1)[-1] in OPTIONAL_BUFFER_SUFFIXES


def plain_structure(value: Any) -> Any:
    """ModelOutput -> dict (recursively), so Keras' tree utilities can walk `predict` results."""
    if isinstance(value, ModelOutput):
        return {k: plain_structure(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain_structure(v) for v in value)
    return value


class TFGroupViTPreTrainedModel(keras.Model):
    """Shared behaviour of `TFGroupViTModel`, `TFGroupViTTextModel` and `TFGroupViTVisionModel`.

    Weights are exchanged as numpy arrays keyed and laid out as the PyTorch state dict
    (`groupvit.weights_bridge.keys.expected_shapes`); `num_batches_tracked` has no Keras
    twin and is neither read nor written.

    `call_mode` says how an eager call runs: "graph" (default; a cached `tf.function` per input
    signature, batch dimension dynamic, see `groupvit.tf.graph_call`), "xla" (the same with
    `jit_compile=True`: one XLA compilation per new input shape, faster for small batches) or
    "eager" (op by op, for debugging). Setting a new mode drops the cached graphs.
    """

    config_class: ClassVar[type] = GroupViTConfig
    default_name: ClassVar[str] = "groupvit"

    def __init__(self, config: AnyConfig, **kwargs: Any) -> None:
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}. Received: {type(config).__name__}"
            )
        kwargs.setdefault("name", self.default_name)
        super().__init__(**kwargs)
        self.config = config
        self._call_mode = "graph"
        self._graphs = GraphCache()

    @property
    def call_mode(self) -> str:
        return self._call_mode

    @call_mode.setter
    def call_mode(self, mode: str) -> None:
        self._call_mode = check_call_mode(mode)
        self._graphs.clear()

    def _run(self, fn, tensors: dict[str, Any], **flags: Any) -> Any:
        """`fn(**tensors, **flags)`: as a cached graph when called eagerly, directly when already traced."""
        if self._call_mode == "eager" or not tf.executing_eagerly():
            return fn(**tensors, **flags)
        return self._graphs.run(fn, tensors, flags, jit_compile=self._call_mode == "xla",
                                relax_batch=tensors.get("gumbel_noise") is None)

    # ----- variables <-> PyTorch keys -----------------------------------------------------------
    def _weight_slots(self) -> dict[str, tuple[Any, Any, Any]]:
        """{PyTorch key: (variable, to_torch, from_torch)}, checked against `expected_shapes`."""
        prefix = self.path + "/"
        slots: dict[str, tuple[Any, Any, Any]] = {}
        for variable in self.variables:
            if not variable.path.startswith(prefix):
                raise RuntimeError(f"Variable outside the model scope {prefix!r}. Received: {variable.path!r}")
            relative = variable.path[len(prefix):]
            key = torch_key(relative)
            if key in slots:
                raise RuntimeError(f"Two variables map to one PyTorch key. Received: {key!r}")
            slots[key] = (variable, *transforms(relative, len(variable.shape)))
        expected = {k for k in expected_shapes(self.config) if not _skipped(k)}
        if set(slots) != expected:
            raise RuntimeError(
                "The Keras variables must map onto expected_shapes(config). Received: "
                f"extra={sorted(set(slots) - expected)}, missing={sorted(expected - set(slots))}"
            )
        return slots

    def assign_numpy(self, weights: Mapping[str, np.ndarray], source: str = "the given weights") -> None:
        """Assign a PyTorch-named, PyTorch-laid-out state dict (as numpy); strict, all or nothing.

        `num_batches_tracked` and `text_model.embeddings.position_ids` are skipped by name.
        Anything else missing, unexpected or mis-shaped is listed in one ValueError before any
        variable changes.
        """
        weights = check_weights(self.config, dict(weights), source, fill_optional=True)
        for key, (variable, _, from_torch) in self._weight_slots().items():
            value = np.asarray(weights[key]).astype(variable.dtype, copy=False)
            variable.assign(np.array(from_torch(value), order="C"))

    def to_numpy(self) -> dict[str, np.ndarray]:
        """{PyTorch key: float32 array in PyTorch layout} for every key of expected_shapes but
        `num_batches_tracked` (a bfloat16 model's values widened to float32, exactly)."""
        return {
            key: np.array(to_torch(variable.numpy()), order="C", dtype=np.float32 if variable.dtype == "bfloat16"
                          else None, copy=True)
            for key, (variable, to_torch, _) in self._weight_slots().items()
        }

    # ----- checkpoint directories -------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, *, safe_serialization: bool = True,
                        max_shard_size: int | str | None = None, push_to_hub: bool = False) -> None:
        """Write config.json and model.safetensors in PyTorch names and layouts (all files appear at once), or
        shards and model.safetensors.index.json past `max_shard_size` (bytes or "500MB").
        `safe_serialization=False` writes the old Keras 2 port's `tf_model.h5` instead (its default there; a
        full GroupViT model only), which that port and every loader here read. `push_to_hub` must stay False."""
        if push_to_hub:
            raise ValueError("push_to_hub must be False: this library writes local files only. Received: True")
        if not safe_serialization and max_shard_size is not None:
            raise ValueError("max_shard_size shards safetensors only: with safe_serialization=False it must be None. "
                             f"Received: max_shard_size={max_shard_size!r}")
        save_for_model(self.config, self.to_numpy(), save_directory, max_shard_size=max_shard_size,
                       keras2_h5=not safe_serialization)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, config: AnyConfig | None = None, *,
                        revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                        local_files_only: bool | None = None, subfolder: str = "", from_pt: bool = False,
                        use_safetensors: bool | None = None, output_loading_info: bool = False,
                        token: str | bool | None = None, force_download: bool = False,
                        ignore_mismatched_sizes: bool = False, **kwargs: Any):
        """Load a checkpoint in any format of the weight bridge, strictly.

        `path`: a directory (config.json + model.safetensors, pytorch_model.bin, tf_model.h5,
        model.weights.h5 or an authors' .pth) or a weight file with a config.json beside it.
        A text or vision model also takes its part of a full GroupViT checkpoint.
        `path` may also be a shipped model's name (`shapes-tiny`) or a Hugging Face hub id (`org/name`,
        with `revision`, `cache_dir`, `local_files_only`; groupvit.hub).
        The old port's `from_pt=True` is accepted (PyTorch files are read either way, before tf_model.h5);
        `subfolder`, `use_safetensors` and `output_loading_info` (returns `(model, info)`; loading is strict,
        so the info's lists are empty) work as there; `token` and `force_download` go to huggingface_hub;
        `ignore_mismatched_sizes` must stay False (loading is strict). Keyword arguments naming config fields
        set them (`output_segmentation=True`), as in the port; the others go to the Keras model
        (`dtype="bfloat16"`, `name`, ...; `dtype="auto"`: bfloat16 where config.json names it, else float32).
        """
        del from_pt  # the folder's order already reads PyTorch's files first
        overrides, kwargs = config_overrides(cls.config_class, kwargs)
        check_loading_options(ignore_mismatched_sizes)
        path = locate_for_model(path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                                token=token, force_download=force_download, subfolder=subfolder,
                                use_safetensors=use_safetensors)
        config, weights = load_with_overrides(path, cls.config_class, config, overrides)
        if kwargs.get("dtype") == "auto":  # transformers' "auto": bfloat16 variables where config.json names it
            kwargs["dtype"] = "bfloat16" if auto_dtype(path) == "bfloat16" else "float32"
        model = cls(config, **kwargs)
        model.assign_numpy(weights, source=os.fspath(path))
        return (model, loading_info()) if output_loading_info else model

    # ----- Keras plumbing ------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "config": self.config.to_dict()}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = dict(config)
        model_config = cls.config_class.from_dict(config.pop("config"))
        config.pop("dtype", None)
        return cls(model_config, **config)

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return plain_structure(self(x, training=False))
