"""`Segmenter`: zero-shot semantic segmentation with a PyTorch or Keras GroupViT model (docs/computation.md)."""

from __future__ import annotations

import copy
import functools
import os
from typing import Any, Callable, Sequence

import numpy as np

from groupvit.segmentation import backends, zero_shot
from groupvit.segmentation.result import SegmentationResult
from groupvit.segmentation.templates import prompts_for, resolve_templates
from groupvit.segmentation.windows import nearest_resize, window_origins

ImageInput = Any  # uint8 RGB array [H, W, 3], uint8 grey [H, W], a PIL image or a path
WHOLE_PATCHES_FACTOR = 16  # whole mode: at most 16 x the model's own number of patches (4 x 4 its image size)
MODES = ("whole", "slide")


def default_sizes(vision_config) -> tuple[int, int, int]:
    """(short side, slide window, slide stride) a checkpoint is segmented at by default: twice, twice and once its
    image size (the authors' 448 / 448 / 224 at 224 px), the window floored to a multiple of both patch sides (at
    least one such multiple: a 31-px model with patch 4 slides 60-px windows, not 62)."""
    import math

    size = int(vision_config.image_hw[0])
    ph, pw = (int(p) for p in vision_config.patch_hw)
    step = ph * pw // math.gcd(ph, pw)
    window = max(step, (2 * size) // step * step)
    return 2 * size, window, min(size, window)


class Segmenter:
    """Zero-shot segmentation: class names in, one `SegmentationResult` per image out.

    `model`: a `groupvit.pt.GroupViTModel` or `groupvit.tf.TFGroupViTModel` (detected from its class).
    `tokenizer`: `names -> (ids, mask)`, e.g. `groupvit.tokenizer.load_tokenizer(checkpoint_dir)`.
    `image_transform`: uint8 [H, W, 3] -> float32 [1, 3, h, w]; default the authors' transform with the shorter
    side at 2 x the model's image size (448 for the 224-px models), ImageNet mean/std. `batch_size`: images or
    windows per forward pass. `defaults`: what `segment` takes for the settings it is not given (keys
    `bg_thresh`, `templates`, `mode`, `window`, `stride`); unset ones are the authors' threshold 0.95, 1
    template, whole mode, window 2 x and stride 1 x the model's image size (a `short_side` key, which
    `checkpoint_defaults` holds, is left to `image_transform`). `load_segmenter(checkpoint)` passes the
    checkpoint's (`checkpoint_defaults`), so Python gives what `groupvit segment` gives.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]],
        *,
        image_transform: Callable[[np.ndarray], np.ndarray] | None = None,
        batch_size: int = 4,
        text_batch_size: int = 256,
        defaults: dict | None = None,
    ) -> None:
        from groupvit.images import segmentation_preprocess

        self.model = model
        self.backend = backends.backend_of(model)
        limit = int(model.config.text_config.max_position_embeddings)
        if getattr(tokenizer, "max_length", 0) > max(2, limit):  # load_tokenizer(ckpt)'s 77 for a model of 32
            tokenizer = copy.copy(tokenizer)
            tokenizer.max_length = max(2, limit)  # prompts cut as the model's own limit, keeping the end token
        self.tokenizer = tokenizer
        short_side, window, stride = default_sizes(model.config.vision_config)
        self.defaults = {"bg_thresh": 0.95, "templates": 1, "mode": "whole", "window": window, "stride": stride}
        unknown = sorted(set(defaults or {}) - set(self.defaults) - {"short_side"})
        if unknown:
            raise ValueError(f"defaults may set {sorted(self.defaults)}. Received unknown keys: {unknown}")
        self.defaults.update({k: v for k, v in (defaults or {}).items() if k in self.defaults and v is not None})
        self.image_transform = image_transform or functools.partial(segmentation_preprocess, short_side=short_side)
        self.batch_size = int(batch_size)
        self.text_batch_size = int(text_batch_size)
        self.patch_hw = tuple(model.config.vision_config.patch_hw)
        # whole mode attends over every patch at once (cost grows with its square): at most this many
        self.max_whole_patches = WHOLE_PATCHES_FACTOR * model.config.vision_config.num_patches
        self.scale = zero_shot.clamped_scale(backends.logit_scale_of(model))
        self._text_cache: dict[tuple, np.ndarray] = {}

    def text_embeddings(self, class_names: Sequence[str], templates: int | Sequence[str] = 1) -> np.ndarray:
        """Normalized class embeddings [C, P]: prompts (templates x synonyms) averaged after projection."""
        names = _check_names(class_names)
        templates = resolve_templates(templates)
        key = (tuple(names), templates)
        if key not in self._text_cache:
            prompts = [prompts_for(n, templates) for n in names]
            flat = [p for group in prompts for p in group]
            features = []
            for start in range(0, len(flat), self.text_batch_size):
                ids, mask = self.tokenizer(flat[start:start + self.text_batch_size])
                features.append(backends.encode_texts(self.model, ids, mask))
            self._text_cache[key] = zero_shot.class_embeddings(np.concatenate(features), [len(p) for p in prompts])
        return self._text_cache[key]

    def segment(
        self,
        images: ImageInput | Sequence[ImageInput],
        class_names: Sequence[str],
        *,
        background_threshold: float | None = None,
        templates: int | Sequence[str] | None = None,
        mode: str | None = None,
        window: int | None = None,
        stride: int | None = None,
        top_k: int = 5,
    ) -> list[SegmentationResult]:
        """One result per image (labels at the image's original size; 0 = background). Settings left None take
        the segmenter's `defaults`."""
        given = {"bg_thresh": background_threshold, "templates": templates, "mode": mode, "window": window,
                 "stride": stride}
        settings = {k: (v if v is not None else self.defaults[k]) for k, v in given.items()}
        background_threshold, templates, mode = settings["bg_thresh"], settings["templates"], settings["mode"]
        window, stride = settings["window"], settings["stride"]
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}. Received: mode={mode!r}")
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1 (image-level classes a group may take). "
                             f"Received: top_k={top_k!r}")
        if not 0.0 <= float(background_threshold) <= 1.0:  # also refuses NaN
            raise ValueError("background_threshold must be in [0, 1] (it is compared with class probabilities). "
                             f"Received: background_threshold={background_threshold!r}")
        if isinstance(images, (str, os.PathLike)) or (isinstance(images, np.ndarray) and images.ndim in (2, 3)) \
                or _is_pil(images):
            images = [images]
        names = _check_names(class_names)
        text = self.text_embeddings(names, templates)
        run = functools.partial(self._segment_whole if mode == "whole" else self._segment_slide,
                                text=text, names=names, bg=background_threshold, top_k=top_k)
        if mode == "slide":
            for size, name in ((window, "window"), (stride, "stride")):
                if size < 1 or (name == "window" and (size % self.patch_hw[0] or size % self.patch_hw[1])):
                    raise ValueError(f"{name} must be positive (window a multiple of the patch size "
                                     f"{self.patch_hw}). Received: {name}={size}")
            if stride > window:  # mmseg asserts it too: pixels between windows would have no score
                raise ValueError(f"stride must be at most the window, so that windows cover every pixel. "
                                 f"Received: window={window}, stride={stride}")
            run = functools.partial(run, window=window, stride=stride)
        return [run(_as_image(image)) for image in images]

    def _vision(self, pixels: np.ndarray) -> backends.VisionArrays:
        parts = [backends.encode_images(self.model, pixels[i:i + self.batch_size])
                 for i in range(0, pixels.shape[0], self.batch_size)]
        return backends.VisionArrays(
            [np.concatenate([p.soft_maps[s] for p in parts]) for s in range(len(parts[0].soft_maps))],
            np.concatenate([p.group_features for p in parts]),
            np.concatenate([p.image_features for p in parts]),
        )

    def _window_scores(
        self, out: backends.VisionArrays, index: int, hw: tuple[int, int], text: np.ndarray, bg: float, top_k: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
        """(scores [C + 1, h, w], aff, image probabilities, top-k, group index maps per stage) of one input."""
        grid = (hw[0] // self.patch_hw[0], hw[1] // self.patch_hw[1])
        chained = zero_shot.chain_soft_maps([m[index] for m in out.soft_maps])
        group_maps = [zero_shot.group_index_map(c, grid, hw) for c in chained]
        groups = zero_shot.l2_normalize(out.group_features[index])
        image = zero_shot.l2_normalize(out.image_features[index])
        aff, probs, top = zero_shot.group_affinity(groups, image, text, self.scale, top_k)
        return zero_shot.score_map(group_maps[-1], aff, bg), aff, probs, top, group_maps

    def _segment_whole(self, image: np.ndarray, *, text, names, bg, top_k) -> SegmentationResult:
        pixels = self.image_transform(image)
        h, w = pixels.shape[-2:]
        patches = -(-h // self.patch_hw[0]) * -(-w // self.patch_hw[1])
        if patches > self.max_whole_patches:
            raise ValueError(
                f"Whole mode attends over every patch at once, so an image may hold at most {self.max_whole_patches} "
                f"patches ({WHOLE_PATCHES_FACTOR} x the model's {self.max_whole_patches // WHOLE_PATCHES_FACTOR}) "
                f"once resized. Received: {image.shape[0]}x{image.shape[1]} px resized to {h}x{w} = {patches} "
                f"patches; use mode 'slide' (its cost grows with the area), a smaller short side, or crop the image")
        # As the authors: the model sees whole patches only (its patch convolution drops a partial last one), and
        # the maps of that grid are stretched over the whole resized image (resize_attn_map).
        out = self._vision(self._whole_patches(pixels))
        scores, aff, probs, top, group_maps = self._window_scores(out, 0, (h, w), text, bg, top_k)
        result = self._finish(scores, image, names, probs, top, (h, w))
        result.group_maps = [nearest_resize(g, *image.shape[:2]) for g in group_maps]
        result.group_affinity = aff
        result.group_to_class = np.argmax(aff, axis=1)
        return result

    def _whole_patches(self, pixels: np.ndarray) -> np.ndarray:
        """The pixels the model reads: a partial last patch row / column dropped, as its patch convolution does."""
        h, w = pixels.shape[-2:]
        if h < self.patch_hw[0] or w < self.patch_hw[1]:
            raise ValueError(f"The resized image (or window) must hold at least one patch {self.patch_hw}. "
                             f"Received: {h}x{w} px")
        return pixels[:, :, :h - h % self.patch_hw[0], :w - w % self.patch_hw[1]]

    def _segment_slide(self, image: np.ndarray, *, text, names, bg, top_k, window, stride) -> SegmentationResult:
        pixels = self.image_transform(image)
        h, w = pixels.shape[-2:]
        # mmseg's slide inference: a side shorter than the window is read whole (a smaller crop, no padding)
        crop_h, crop_w = min(window, h), min(window, w)
        origins = [(y, x) for y in window_origins(h, crop_h, stride) for x in window_origins(w, crop_w, stride)]
        crops = np.concatenate([pixels[:, :, y:y + crop_h, x:x + crop_w] for y, x in origins])
        out = self._vision(self._whole_patches(crops))
        total = np.zeros((text.shape[0] + 1, h, w))
        count = np.zeros((h, w))
        probs_sum, tops = np.zeros(text.shape[0]), set()
        for i, (y, x) in enumerate(origins):
            scores, _, probs, top, _ = self._window_scores(out, i, (crop_h, crop_w), text, bg, top_k)
            total[:, y:y + crop_h, x:x + crop_w] += scores
            count[y:y + crop_h, x:x + crop_w] += 1
            probs_sum += probs
            tops.update(int(t) for t in top)
        scores = total / count
        return self._finish(scores, image, names, probs_sum / len(origins), np.array(sorted(tops)), (h, w))

    @staticmethod
    def _finish(scores: np.ndarray, image: np.ndarray, names: list[str], probs: np.ndarray, top: np.ndarray,
                input_hw: tuple[int, int]) -> SegmentationResult:
        if scores.shape[1:] != image.shape[:2]:
            scores = zero_shot.bilinear_resize(scores, *image.shape[:2])
        labels, confidence = zero_shot.labels_from_scores(scores)
        return SegmentationResult(labels=labels, confidence=confidence, class_scores=probs, class_names=list(names),
                                  top_classes=np.asarray(top, dtype=np.int64), scores=scores.astype(np.float32),
                                  input_hw=input_hw)


def _check_names(class_names: Sequence[str]) -> list[str]:
    if isinstance(class_names, str):
        class_names = [class_names]
    names = [str(n).strip() for n in class_names if str(n).strip()]
    if not names:
        raise ValueError(f"class_names must name at least one class. Received: class_names={list(class_names)!r}")
    from groupvit.tokenizer import clean_text

    seen: dict[str, str] = {}
    for name in names:
        key = clean_text(name)  # what the tokenizer sees: equal texts give the same embedding
        if key in seen:
            raise ValueError(f"class_names must be distinct after CLIP's text cleaning (case, spacing, "
                             f"entities); a repeated class could never be chosen. Received: {seen[key]!r} and "
                             f"{name!r} in {names!r}")
        seen[key] = name
    return names


def _is_pil(image: Any) -> bool:
    return hasattr(image, "getbands") and hasattr(image, "size") and not isinstance(image, np.ndarray)


def _as_image(image: ImageInput) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        from groupvit.images import load_rgb

        return load_rgb(image)
    if _is_pil(image):  # any mode, as a file of it would load
        from groupvit.images import to_rgb

        return to_rgb(image)
    image = np.asarray(image)
    if image.ndim == 2 and image.dtype == np.uint8:  # grey
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"An image must be uint8 RGB [H, W, 3], uint8 grey [H, W], a PIL image or a path. "
                         f"Received: shape={image.shape}, dtype={image.dtype}")
    return image
