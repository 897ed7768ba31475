"""An independent reference of the authors' zero-shot segmentation inference, for tests only.

Written from NVlabs/GroupViT (segmentation/evaluation/group_vit_seg.py `GroupViTSegInference`:
`get_attn_maps`, `resize_attn_map`, `encode_decode`; models/multi_label_contrastive.py
`build_text_embedding`) and mmseg 0.x (`EncoderDecoder.whole_inference` / `slide_inference` /
`inference`, mmcv's `rescale_size`), in torch, on our PyTorch model's towers only: nothing of
`groupvit.segmentation` is used, so a test comparing the two checks our pipeline against the
authors' rules (grid stretched over a non-multiple image, smaller crops at the border, the
template averaging, the top-k mask, the background threshold).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def rescale_size(height: int, width: int, img_scale: tuple[int, int] = (2048, 448)) -> tuple[int, int]:
    """mmcv's rescale_size with a tuple scale and keep_ratio: min(long / longer side, short / shorter side)."""
    longest, shortest = max(img_scale), min(img_scale)
    scale = min(longest / max(height, width), shortest / min(height, width))
    return int(height * scale + 0.5), int(width * scale + 0.5)


def text_embedding(model, tokenizer, class_names, templates) -> torch.Tensor:
    """build_text_embedding: every template of every class encoded, the projections averaged, normalized."""
    prompts = [t.format(c) for c in class_names for t in templates]
    ids, mask = tokenizer(prompts)
    with torch.no_grad():
        features = model.text_features(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).float()
    return F.normalize(features.reshape(len(class_names), len(templates), -1).mean(dim=1), dim=-1)


def _resize_attn_map(attentions: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B, heads, N, G] -> [B, heads, h, w, G]: the token grid recovered from the area, then stretched."""
    scale = (h * w // attentions.shape[2]) ** 0.5
    if h > w:
        w_grid = w // int(np.round(scale))
        h_grid = attentions.shape[2] // w_grid
    else:
        h_grid = h // int(np.round(scale))
        w_grid = attentions.shape[2] // h_grid
    batch, heads, _, groups = attentions.shape
    maps = attentions.reshape(batch * heads, h_grid, w_grid, groups).permute(0, 3, 1, 2)
    maps = F.interpolate(maps, size=(h, w), mode="bilinear", align_corners=False)
    return maps.permute(0, 2, 3, 1).reshape(batch, heads, h, w, groups)


def _encode_decode(model, image: torch.Tensor, text: torch.Tensor, bg_thresh: float) -> torch.Tensor:
    """[1, 3, h, w] -> [1, C + 1, h, w]: GroupViTSegInference.encode_decode with background."""
    with torch.no_grad():
        out = model.vision_model(image, output_attentions=True, interpolate_pos_encoding=True)
        chained = None
        for soft in out.attentions:  # [B, G, N] per grouping stage, as `b h n g` with one head
            step = soft.unsqueeze(1).transpose(-1, -2)
            chained = step if chained is None else chained @ step
        attn = _resize_attn_map(chained, *image.shape[-2:]).squeeze(1)[0]  # [h, w, G]
        last = out.last_hidden_state
        groups = F.normalize(model.visual_projection(last.reshape(-1, last.shape[-1])), dim=-1)
        image_embed = F.normalize(model.visual_projection(out.pooler_output), dim=-1)
        onehot = F.one_hot(attn.argmax(dim=-1), num_classes=attn.shape[-1]).to(attn.dtype)
        scale = torch.clamp(model.logit_scale.exp(), max=100)
        affinity = (groups @ text.T) * scale
        pre = F.softmax(affinity, dim=-1)
        image_probs = F.softmax((image_embed @ text.T) * scale, dim=-1)
        keep = torch.zeros_like(image_probs)
        top = image_probs.topk(dim=-1, k=min(5, text.shape[0]))
        keep.scatter_add_(dim=-1, index=top.indices, src=torch.ones_like(top.values))
        affinity = F.softmax(affinity.masked_fill(~keep.bool(), float("-inf")), dim=-1) * pre
        pixel_scores = onehot @ affinity  # [h, w, C]
        logits = torch.zeros(text.shape[0] + 1, *attn.shape[:2])
        logits[1:] = pixel_scores.permute(2, 0, 1)
        threshold = min(bg_thresh, affinity.max().item())
        logits[0, pixel_scores.max(dim=-1).values < threshold] = 1
        return logits.unsqueeze(0)


def predict(model, pixels: np.ndarray, original_hw: tuple[int, int], text: torch.Tensor, bg_thresh: float,
            mode: str, crop: int = 448, stride: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """(scores [C + 1, H, W] at the original size, labels [H, W]) of one preprocessed image [1, 3, h, w]."""
    image = torch.from_numpy(pixels)
    if mode == "whole":
        logits = _encode_decode(model, image, text, bg_thresh)
    else:
        _, _, h, w = image.shape
        logits = torch.zeros((1, text.shape[0] + 1, h, w))
        count = torch.zeros((1, 1, h, w))
        for row in range(max(h - crop + stride - 1, 0) // stride + 1):
            for col in range(max(w - crop + stride - 1, 0) // stride + 1):
                y2, x2 = min(row * stride + crop, h), min(col * stride + crop, w)
                y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
                window = _encode_decode(model, image[:, :, y1:y2, x1:x2], text, bg_thresh)
                logits += F.pad(window, (x1, w - x2, y1, h - y2))
                count[:, :, y1:y2, x1:x2] += 1
        logits = logits / count
    logits = F.interpolate(logits, size=original_hw, mode="bilinear", align_corners=False)
    return logits[0].numpy(), F.softmax(logits, dim=1).argmax(dim=1)[0].numpy()
