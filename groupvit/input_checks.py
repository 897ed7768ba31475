"""Input validation shared by both backends (plain Python on shapes and values).

Each check raises a ValueError that says what must hold and what was received.
"""

from __future__ import annotations

from typing import Sequence

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig


def check_pixel_values(shape: Sequence[int], config: GroupViTVisionConfig, interpolate_pos_encoding: bool,
                       whole_patches: bool = False) -> None:
    """`whole_patches`: height and width must be multiples of the patch (an exported graph's shapes); the models
    themselves take any size holding one patch and drop a partial last patch, as the ports do."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(
            f"pixel_values must be a 4-D batch in NCHW layout (batch, {config.num_channels}, height, width). "
            f"Received: shape={shape}"
        )
    _, channels, height, width = shape
    if channels != config.num_channels:
        hint = " (channels-last input? transpose it to NCHW)" if shape[-1] == config.num_channels else ""
        raise ValueError(
            f"pixel_values must have num_channels={config.num_channels} channels in axis 1 (NCHW){hint}. "
            f"Received: shape={shape}"
        )
    (h, w), (ph, pw) = config.image_hw, config.patch_hw
    if not interpolate_pos_encoding and (height, width) != (h, w):
        raise ValueError(
            f"pixel_values must be {h}x{w} (config.image_size), or pass interpolate_pos_encoding=True "
            f"for other sizes. Received: {height}x{width}"
        )
    if whole_patches and (height % ph or width % pw or height < ph or width < pw):
        raise ValueError(
            f"pixel_values height and width must be positive multiples of the patch size {ph}x{pw}. "
            f"Received: {height}x{width}"
        )
    if height < ph or width < pw:  # a partial last patch is dropped by the patch convolution, as in the ports
        raise ValueError(
            f"pixel_values must hold at least one patch ({ph}x{pw}). Received: {height}x{width}"
        )


def check_input_ids(shape: Sequence[int], config: GroupViTTextConfig,
                    min_id: int | None = None, max_id: int | None = None) -> None:
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(f"input_ids must be 2-D (batch, sequence_length). Received: shape={shape}")
    if shape[1] > config.max_position_embeddings or shape[1] == 0:
        raise ValueError(
            f"input_ids sequence length must be between 1 and max_position_embeddings="
            f"{config.max_position_embeddings}. Received: sequence_length={shape[1]}"
        )
    if min_id is not None and (min_id < 0 or max_id >= config.vocab_size):
        raise ValueError(
            f"input_ids must lie in [0, vocab_size={config.vocab_size}). Received: ids from {min_id} to {max_id}"
        )


def check_attention_mask(mask_shape: Sequence[int] | None, ids_shape: Sequence[int]) -> None:
    if mask_shape is not None and tuple(mask_shape) != tuple(ids_shape):
        raise ValueError(
            f"attention_mask must have the shape of input_ids {tuple(ids_shape)}. Received: {tuple(mask_shape)}"
        )


def check_loss_pairs(num_images: int, num_texts: int) -> None:
    if num_images != num_texts:
        raise ValueError(
            "return_loss needs as many images as texts (image i is paired with text i). "
            f"Received: {num_images} images and {num_texts} texts"
        )


def check_segmentation(config: GroupViTVisionConfig) -> None:
    if not config.grouping_stages:
        raise ValueError(
            "output_segmentation needs at least one stage with group tokens. "
            f"Received: num_group_tokens={config.num_group_tokens}"
        )


def check_gumbel_noise(num_given: int, config: GroupViTVisionConfig) -> None:
    expected = len(config.grouping_stages)
    if num_given != expected:
        raise ValueError(
            f"gumbel_noise must hold one tensor per grouping stage ({expected}). Received: {num_given}"
        )


def check_drop_path_scales(shape: tuple[int, ...], config: GroupViTVisionConfig, batch: int) -> None:
    """[B, layers of the vision tower, 2]: the attention and MLP branch scales of each layer."""
    expected = (batch, sum(config.depths), 2)
    if tuple(shape) != expected:
        raise ValueError(
            "drop_path_scales must be [batch, vision layers (sum of depths), 2] (each layer's attention and MLP "
            f"branch scale) = {list(expected)}. Received: shape={list(shape)}"
        )


def check_ids_dtype(kind: str, dtype_name: str, name: str = "input_ids") -> None:
    """`kind`: "int", "uint", "float", "complex" or "bool" (the dtype's family); ids must be integers."""
    if kind not in ("int", "uint"):
        raise ValueError(f"{name} must hold integer token ids (int32 or int64). Received: dtype={dtype_name}")


def check_pixel_dtype(kind: str, dtype_name: str) -> None:
    """Pixels must be floating point: normalised values, not raw uint8 / integer pixels or booleans."""
    if kind != "float":
        raise ValueError(
            "pixel_values must be floating point (normalised pixels, e.g. from groupvit.images."
            f"segmentation_preprocess; raw integer pixels need it first). Received: dtype={dtype_name}"
        )


def check_finite_pixels(finite: bool, bad: int | None = None) -> None:
    if not finite:
        raise ValueError(f"pixel_values must be finite. Received: {bad} NaN or infinite value(s)")


def check_batch(size: int, name: str) -> None:
    if size == 0:
        raise ValueError(f"{name} must hold at least one row. Received: an empty batch (shape[0] = 0)")
