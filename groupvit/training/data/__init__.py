"""Framework-neutral training data (numpy + Pillow + stdlib): sources, the distributed sample
stream, augmentation, multi-label prompts, tokenizer training and the per-rank batches."""

from groupvit.training.data.augment import AugmentConfig, RandomResizedCrop, augment_image
from groupvit.training.data.batches import TrainBatches, TrainSample
from groupvit.training.data.caption_files import CaptionFileSource
from groupvit.training.data.nouns import extract_nouns, multi_label_prompts, nltk_available
from groupvit.training.data.skips import SkipCounter
from groupvit.training.data.sources import SampleError, SampleRef, Source, expand_braces, open_source
from groupvit.training.data.stream import Sample, SampleStream, sample_rng, shuffle_buffer
from groupvit.training.data.tar_shards import TarShardSource
from groupvit.training.data.tokenizer_training import save_tokenizer, train_clip_tokenizer

__all__ = [
    "AugmentConfig", "CaptionFileSource", "RandomResizedCrop", "Sample", "SampleError", "SampleRef",
    "SampleStream", "SkipCounter", "Source", "TarShardSource", "TrainBatches", "TrainSample", "augment_image",
    "expand_braces", "extract_nouns", "multi_label_prompts", "nltk_available", "open_source", "sample_rng",
    "save_tokenizer", "shuffle_buffer", "train_clip_tokenizer",
]
