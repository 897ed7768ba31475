"""One rank's training batches as numpy arrays: augmented images, tokenized captions, multi-label prompts."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from groupvit.segmentation.templates import IMAGENET_TEMPLATES
from groupvit.tokenizer import ClipTokenizer
from groupvit.training.data.augment import AugmentConfig, augment_image
from groupvit.training.data.nouns import NounsUnavailable, extract_nouns, noun_id, prompts_and_nouns
from groupvit.training.data.skips import SkipCounter
from groupvit.training.data.sources import SampleError, SampleRef, Source
from groupvit.training.data.stream import Sample, SampleStream


NOUN_SLOTS = 16  # distinct nouns kept per image for the grouped loss's positives (more are rare)


class TrainSample:
    """Per-sample work of a loader process: augment the image, then draw the prompts, from one generator."""

    def __init__(self, augment: AugmentConfig, multi_label_k: int, templates: Sequence[str] = IMAGENET_TEMPLATES):
        self.augment, self.multi_label_k, self.templates = augment, int(multi_label_k), tuple(templates)

    def __call__(self, image: np.ndarray, ref: SampleRef,
                 rng: np.random.Generator) -> tuple[np.ndarray, list[str], list[int], list[int]]:
        """(pixels, prompts, noun id of each prompt (-1: the caption), ids of the image's distinct nouns)."""
        pixels = augment_image(image, self.augment, rng, train=True)  # (3, S, S)
        if self.multi_label_k == 0:
            return pixels, [], [], []
        try:
            nouns = extract_nouns(ref.caption, ref.nouns)
        except NounsUnavailable as err:  # skipped and counted; the run checks up front that some samples have them
            raise SampleError("missing_nouns", str(err)) from err
        prompts, chosen = prompts_and_nouns(ref.caption, nouns, self.multi_label_k, rng, self.templates)
        distinct = list(dict.fromkeys(noun_id(n) for n in nouns if n))
        return pixels, prompts, [-1 if n is None else noun_id(n) for n in chosen], distinct[:NOUN_SLOTS]


class TrainBatches:
    """Iterate for this rank's endless batches, one dict of numpy arrays per step:

    pixel_values float32 (b, 3, S, S), input_ids / attention_mask int64 (b, L), positions int64 (b,)
    (global stream positions), and with `multi_label_k` > 0 prompt_ids / prompt_mask int64 (b, k, L);
    with `noun_ids` also prompt_nouns int64 (b, k) (-1 for a caption) and image_nouns int64 (b, NOUN_SLOTS)
    (-1 padding), the noun ids the grouped multi-label loss takes its positives from.
    L is always `context_length`, so every step has the same shapes.
    """

    def __init__(
        self,
        source: Source,
        tokenizer: ClipTokenizer,
        augment: AugmentConfig,
        global_batch: int,
        rank: int,
        world_size: int,
        seed: int,
        context_length: int,
        multi_label_k: int,
        noun_ids: bool = False,
        shuffle_buffer: int = 10000,
        num_workers: int = 0,
        templates: Sequence[str] = IMAGENET_TEMPLATES,
    ):
        if multi_label_k < 0:
            raise ValueError(f"multi_label_k must be >= 0. Received: multi_label_k={multi_label_k}")
        # Fixed (b, L) whatever the captions: padded to the model's context length.
        self.tokenizer = ClipTokenizer(tokenizer.backend, max_length=context_length, pad_id=tokenizer.pad_id,
                                       pad_to_max_length=True)
        self.context_length, self.multi_label_k = int(context_length), int(multi_label_k)
        self.noun_ids = bool(noun_ids) and self.multi_label_k > 0
        self.stream = SampleStream(source, global_batch, rank, world_size, seed, shuffle_buffer=shuffle_buffer,
                                   num_workers=num_workers, process=TrainSample(augment, multi_label_k, templates))

    @property
    def skips(self) -> SkipCounter:
        return self.stream.skips

    @property
    def local_batch(self) -> int:
        return self.stream.local_batch

    def state(self) -> dict[str, int]:
        return self.stream.state()

    def restore(self, state: dict[str, int], skipped: dict[str, int] | None = None) -> None:
        self.stream.restore(state, skipped)

    def num_samples(self) -> int:
        return self.stream.num_samples()

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> TrainBatches:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for samples in self.stream:
            yield self.collate(samples)

    def collate(self, samples: list[Sample]) -> dict[str, np.ndarray]:
        input_ids, attention_mask = self.tokenizer([s.ref.caption for s in samples])
        batch = {
            "pixel_values": np.stack([s.value[0] for s in samples]).astype(np.float32, copy=False),
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "positions": np.asarray([s.position for s in samples], dtype=np.int64),
        }
        if self.multi_label_k:
            ids, mask = self.tokenizer([prompt for s in samples for prompt in s.value[1]])
            shape = (len(samples), self.multi_label_k, self.context_length)
            batch["prompt_ids"], batch["prompt_mask"] = ids.reshape(shape), mask.reshape(shape)
        if self.noun_ids:
            batch["prompt_nouns"] = np.asarray([s.value[2] for s in samples], dtype=np.int64)
            image_nouns = np.full((len(samples), NOUN_SLOTS), -1, dtype=np.int64)
            for row, s in enumerate(samples):
                image_nouns[row, :len(s.value[3])] = s.value[3]
            batch["image_nouns"] = image_nouns
        return batch
