"""The zero-shot segmentation math of docs/computation.md in numpy (framework-free).

Backends only produce soft maps, group embeddings, image and text embeddings; everything
from there to a label map happens here, once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MAX_LOGIT_SCALE = 100.0


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax that tolerates -inf entries (masked classes get exactly 0)."""
    x = np.asarray(x, dtype=np.float64)
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def clamped_scale(logit_scale: float) -> float:
    """s = min(exp(logit_scale), 100): the original clamps, the port does not."""
    return float(min(np.exp(float(logit_scale)), MAX_LOGIT_SCALE))


def _axis_weights(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of half-pixel bilinear resizing along one axis (PyTorch rule)."""
    src = (np.arange(size_out, dtype=np.float64) + 0.5) * (size_in / size_out) - 0.5
    src = np.maximum(src, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    hi = np.minimum(lo + 1, size_in - 1)
    return lo, hi, src - lo


def bilinear_resize(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """[C, h, w] -> [C, height, width], bilinear with half-pixel centres, no antialias."""
    maps = np.asarray(maps, dtype=np.float64)
    lo, hi, frac = _axis_weights(maps.shape[1], height)
    rows = maps[:, lo, :] * (1.0 - frac)[None, :, None] + maps[:, hi, :] * frac[None, :, None]
    lo, hi, frac = _axis_weights(maps.shape[2], width)
    return rows[:, :, lo] * (1.0 - frac)[None, None, :] + rows[:, :, hi] * frac[None, None, :]


def chain_soft_maps(soft_maps: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Soft maps [O_s, N_s] of one image -> token-to-group maps [N_0, O_s] after each grouping stage."""
    if not soft_maps:
        raise ValueError("Segmentation needs at least one grouping stage. Received: no soft assignment maps")
    chained = [np.asarray(soft_maps[0], dtype=np.float64).T]
    for soft in soft_maps[1:]:
        chained.append(chained[-1] @ np.asarray(soft, dtype=np.float64).T)
    return chained


def group_index_map(chained: np.ndarray, grid_hw: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """Token-to-group map [N, O] on a grid_h x grid_w token grid -> group index per pixel [H, W].

    The soft map is upsampled bilinearly (half-pixel) to out_hw, then argmax over groups
    (first index on ties): the one-hot A of docs/computation.md.
    """
    grid_h, grid_w = grid_hw
    tokens, groups = chained.shape
    if grid_h * grid_w != tokens:
        raise ValueError(f"The token grid must hold every token. Received: grid={grid_hw}, tokens={tokens}")
    maps = chained.T.reshape(groups, grid_h, grid_w)
    return np.argmax(bilinear_resize(maps, *out_hw), axis=0)


def group_affinity(
    group_embeds: np.ndarray, image_embed: np.ndarray, text_embeds: np.ndarray, scale: float, top_k: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(aff [O, C], image-level class probabilities [C], top-k class indices) for one image.

    All embeddings must already be L2-normalized; `scale` is the clamped logit scale.
    """
    logits = (group_embeds @ text_embeds.T) * scale  # (O, C)
    pre = softmax(logits, axis=-1)
    image_probs = softmax((image_embed @ text_embeds.T) * scale, axis=-1)  # (C,)
    k = min(int(top_k), text_embeds.shape[0])
    if k < 1:
        raise ValueError(f"top_k must be at least 1. Received: top_k={top_k}")
    top = np.argsort(-image_probs, kind="stable")[:k]
    masked = np.full_like(logits, -np.inf)
    masked[:, top] = logits[:, top]
    return softmax(masked, axis=-1) * pre, image_probs, top


def score_map(group_index: np.ndarray, aff: np.ndarray, background_threshold: float) -> np.ndarray:
    """[C + 1, H, W] logits of one model input, as the authors build them.

    Channel c + 1 = onehot(A) @ aff (class c); channel 0 = 1 where the best class score is
    strictly below min(bg_thresh, max(aff)), else 0. The group holding max(aff) therefore
    always keeps its class.
    """
    scores = np.moveaxis(aff[group_index], -1, 0)  # (C, H, W)
    threshold = min(float(background_threshold), float(aff.max()))
    out = np.empty((aff.shape[1] + 1,) + group_index.shape, dtype=np.float64)
    out[0] = (scores.max(axis=0) < threshold).astype(np.float64)
    out[1:] = scores
    return out


def labels_from_scores(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[C + 1, H, W] (possibly averaged over windows and resized) -> (labels, confidence).

    labels: argmax over the channels, first index on ties (background wins a tie), int64 [H, W].
    confidence: the best class score of each pixel (also where background won), float32 [H, W].
    """
    labels = np.argmax(scores, axis=0).astype(np.int64)
    return labels, scores[1:].max(axis=0).astype(np.float32)


def class_embeddings(prompt_features: np.ndarray, prompts_per_class: Sequence[int]) -> np.ndarray:
    """Projected prompt features [sum(n), P] -> class embeddings [C, P]: the projections averaged per class, then
    normalized, as the authors' `build_text_embedding` (models/multi_label_contrastive.py); not CLIP's
    zero-shot classifier, which normalizes each prompt first."""
    features = np.asarray(prompt_features, dtype=np.float64)
    bounds = np.cumsum([0, *prompts_per_class])
    if bounds[-1] != features.shape[0]:
        raise ValueError(
            f"prompts_per_class must add up to the feature rows. Received: {list(prompts_per_class)}, "
            f"rows={features.shape[0]}"
        )
    means = np.stack([features[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
    return l2_normalize(means)
