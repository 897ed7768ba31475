"""TensorFlow-side wrappers of `groupvit.input_checks`.

Shape checks use static shapes, so they also run while tracing `tf.function`; value checks
(the id range) run eagerly only and are skipped for symbolic tensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Sequence

import numpy as np
import tensorflow as tf

from groupvit import input_checks
from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig


def _shape(x) -> tuple:
    return tuple(x.shape)


def check_text_inputs(input_ids, attention_mask, config: GroupViTTextConfig) -> None:
    if input_ids is None:
        raise ValueError("input_ids must be given. Received: input_ids=None")
    shape = _shape(input_ids)
    if len(shape) == 2 and shape[1] is None:
        raise ValueError(f"input_ids must have a static sequence length. Received: shape={shape}")
    input_checks.check_ids_dtype(_kind(input_ids.dtype), tf.as_dtype(input_ids.dtype).name)
    if len(shape) == 2 and shape[0] is not None:
        input_checks.check_batch(shape[0], "input_ids")
    lo = hi = None
    if tf.executing_eagerly() and hasattr(input_ids, "numpy") and int(np.prod(input_ids.shape)) > 0:
        values = input_ids.numpy()
        lo, hi = int(values.min()), int(values.max())
    input_checks.check_input_ids(_shape(input_ids), config, lo, hi)
    input_checks.check_attention_mask(None if attention_mask is None else _shape(attention_mask), _shape(input_ids))


def check_vision_inputs(pixel_values, config: GroupViTVisionConfig, interpolate_pos_encoding: bool) -> None:
    if pixel_values is None:
        raise ValueError("pixel_values must be given. Received: pixel_values=None")
    shape = _shape(pixel_values)
    if len(shape) == 4 and (shape[2] is None or shape[3] is None):
        raise ValueError(
            "pixel_values must have a static height and width (the position table and the resize "
            f"matrices are built from them). Received: shape={shape}"
        )
    input_checks.check_pixel_values(shape, config, interpolate_pos_encoding)
    if shape[0] is not None:
        input_checks.check_batch(shape[0], "pixel_values")
    # One reduction, no host copy (a NaN or inf makes the sum non-finite); the count only when it is.
    if tf.executing_eagerly() and hasattr(pixel_values, "numpy") and not bool(
            tf.math.is_finite(tf.reduce_sum(pixel_values))):
        bad = int(tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(pixel_values)), tf.int64)))
        if bad:
            input_checks.check_finite_pixels(False, bad)


def _kind(dtype) -> str:
    dtype = tf.as_dtype(dtype)
    if dtype.is_bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating:
        return "float"
    return "uint" if dtype.is_unsigned else "int"


def input_list(first, names: tuple[str, ...], given: dict) -> dict | None:
    """The old Keras 2 port's list form, `model([input_ids, pixel_values, attention_mask])`: a list or tuple whose
    first element is a tensor or array of the first input's rank (ids 2, pixels 4) fills the call's inputs in the
    order of `names`. Returns those inputs, or None when `first` is not such a list (a nested Python list of ids, a
    list of 1-D id rows or of 3-D images stays the batch it spells). `given`: the same inputs passed as arguments,
    which must not be given twice."""
    if not isinstance(first, (list, tuple)) or not first:
        return None
    head = first[0]
    shape = None if isinstance(head, (list, tuple)) else getattr(head, "shape", None)
    ndim = shape.rank if hasattr(shape, "rank") else (None if shape is None else len(shape))  # TensorShape's may
    if ndim != (4 if names[0] == "pixel_values" else 2):                                      # be unknown: None
        return None
    if len(first) > len(names):
        raise ValueError(f"A list of inputs holds at most {len(names)} tensors, in the order {list(names)}. "
                         f"Received a list of {len(first)}")
    inputs = dict(zip(names, first))
    twice = sorted(name for name in inputs if given.get(name) is not None)
    if twice:
        raise ValueError(f"{', '.join(twice)} given both in the list of inputs and as an argument")
    return inputs


def text_inputs(input_ids, attention_mask=None, position_ids=None) -> tuple:
    """(input_ids, attention_mask, position_ids) as tensors; `input_ids` may be one dict holding them (what
    `predict` / `fit` and the old port's methods pass)."""
    listed = input_list(input_ids, ("input_ids", "attention_mask", "position_ids"),
                        {"attention_mask": attention_mask, "position_ids": position_ids})
    if listed is not None:
        input_ids = listed
    if isinstance(input_ids, Mapping):
        inputs = dict(input_ids)
        input_ids = inputs.pop("input_ids", None)
        attention_mask = inputs.pop("attention_mask", attention_mask)
        position_ids = inputs.pop("position_ids", position_ids)
        if inputs:
            raise ValueError("An input dict may hold input_ids, attention_mask and position_ids. "
                             f"Received extra keys: {sorted(inputs)}")
    return tuple(to_tensor(x) for x in (input_ids, attention_mask, position_ids))


def vision_inputs(pixel_values):
    """pixel_values as a tensor (pixels_tensor); it may be one dict holding them (what `predict` passes)."""
    listed = input_list(pixel_values, ("pixel_values",), {})
    if listed is not None:
        pixel_values = listed
    if isinstance(pixel_values, Mapping):
        inputs = dict(pixel_values)
        pixel_values = inputs.pop("pixel_values", None)
        if inputs:
            raise ValueError(f"An input dict may hold pixel_values only. Received extra keys: {sorted(inputs)}")
    return pixels_tensor(pixel_values)


def pixels_tensor(pixel_values):
    """Pixels as float32 tensors after checking they are floating point (None stays None)."""
    if pixel_values is None:
        return None
    dtype = pixel_values.dtype if hasattr(pixel_values, "dtype") else np.asarray(pixel_values).dtype
    input_checks.check_pixel_dtype(_kind(dtype), tf.as_dtype(dtype).name)
    return to_tensor(pixel_values, "float32")


def check_noise(gumbel_noise: Sequence | None, config: GroupViTVisionConfig) -> list | None:
    """Checks the stage count; returns the noise as float32 tensors (None stays None)."""
    if gumbel_noise is None:
        return None
    input_checks.check_gumbel_noise(len(gumbel_noise), config)
    return [to_tensor(noise, "float32") for noise in gumbel_noise]


def check_drop_path(drop_path_scales, config: GroupViTVisionConfig, batch):
    """Checks the shape [B, sum(depths), 2]; returns the scales as a float32 tensor (None stays None)."""
    if drop_path_scales is None:
        return None
    drop_path_scales = to_tensor(drop_path_scales, "float32")
    input_checks.check_drop_path_scales(tuple(drop_path_scales.shape), config, batch)
    return drop_path_scales


def to_tensor(x, dtype: str | None = None):
    """numpy arrays and lists -> tensors; None stays None."""
    if x is None:
        return None
    x = tf.convert_to_tensor(x)
    return tf.cast(x, dtype) if dtype is not None and x.dtype != dtype else x
