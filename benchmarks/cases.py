"""The timed cases: which call, what batch, and seeded numpy inputs (no framework imports)."""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

from groupvit.configs import GroupViTConfig

IMAGE_SIZE = 224
SEQ_LEN = 16

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Case:
    """One timed call. `kind`: "model" (full forward), "image_features", "text_features", "train"
    (forward + backward of the contrastive loss) or "trainer" (one optimiser step: our trainers'
    `step` with AdamW and clipping; the ports' forward + backward + their framework's AdamW)."""

    name: str
    kind: str
    n_images: int = 0
    n_texts: int = 0
    seq_len: int = SEQ_LEN
    segmentation: bool = False

    def inputs(self, config: GroupViTConfig, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded inputs, NCHW float32 pixels and int64 ids with an all-ones mask."""
        import numpy as np  # imported here: the driver needs no numpy

        rng = np.random.default_rng(seed)
        out: dict[str, np.ndarray] = {}
        if self.n_images:
            shape = (self.n_images, 3, IMAGE_SIZE, IMAGE_SIZE)
            out["pixel_values"] = rng.standard_normal(shape, dtype=np.float32)
        if self.n_texts:
            vocab = config.text_config.vocab_size
            ids = rng.integers(1, vocab - 1, (self.n_texts, self.seq_len), dtype=np.int64)
            ids[:, -1] = vocab - 1  # end-of-text: the largest id, as in the CLIP tokenizer
            out["input_ids"] = ids
            out["attention_mask"] = np.ones_like(ids)
        return out


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("1x8", "model", n_images=1, n_texts=8),
        Case("1x8-seg", "model", n_images=1, n_texts=8, segmentation=True),
        Case("8x8", "model", n_images=8, n_texts=8),
        Case("8x8-seg", "model", n_images=8, n_texts=8, segmentation=True),
        Case("image-features-8", "image_features", n_images=8),
        Case("text-features-32x77", "text_features", n_texts=32, seq_len=77),
        Case("train-8x8", "train", n_images=8, n_texts=8),
        Case("trainer-step-8x8", "trainer", n_images=8, n_texts=8),
    )
}

QUICK_CASES = ("1x8", "8x8-seg", "train-8x8", "trainer-step-8x8")
FIRST_ANSWER_CASE = "1x8"
