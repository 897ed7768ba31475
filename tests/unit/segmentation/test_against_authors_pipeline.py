"""Segmenter (PyTorch backend) against an independent reference of the authors' inference (authors_reference.py):
whole images whose size is no multiple of the patch, sliding windows with smaller crops at the border and on
images smaller than the window, the 1- and 7-template sets, and mmcv's resize rule with its long-side cap."""

import functools

import numpy as np
import pytest
from authors_reference import predict, rescale_size, text_embedding
from seg_helpers import near_ties, sample_image

from groupvit.images import authors_long_side, rescale_size as our_rescale_size, segmentation_preprocess
from groupvit.segmentation import Segmenter
from groupvit.segmentation.templates import SEVEN_TEMPLATES, SINGLE_TEMPLATE

NAMES = ["cat", "dog", "grass", "sky", "tree"]


@pytest.mark.parametrize("mode, short_side, window, stride", [
    ("whole", 31, None, None),   # 31 x 40 px: neither side a multiple of the patch (3)
    ("whole", 30, None, None),
    ("slide", 31, 30, 15),       # crops clipped at the border
    ("slide", 20, 30, 15),       # the image is smaller than the window: one smaller crop, no padding
    ("slide", 45, 30, 12),
])
@pytest.mark.parametrize("templates", [1, 7])
def test_segmenter_equals_the_authors_inference(pt_model, tiny_tokenizer, mode, short_side, window, stride,
                                                templates):
    transform = functools.partial(segmentation_preprocess, short_side=short_side)
    segmenter = Segmenter(pt_model, tiny_tokenizer, image_transform=transform)
    text = text_embedding(pt_model, tiny_tokenizer, NAMES, SINGLE_TEMPLATE if templates == 1 else SEVEN_TEMPLATES)
    np.testing.assert_allclose(segmenter.text_embeddings(NAMES, templates), text.numpy(), atol=2e-6)
    image = sample_image(40, 52)
    for bg in (0.95, 0.3):
        kwargs = {} if mode == "whole" else {"window": window, "stride": stride}
        ours = segmenter.segment(image, NAMES, background_threshold=bg, templates=templates, mode=mode, **kwargs)[0]
        scores, labels = predict(pt_model, transform(image), image.shape[:2], text, bg, mode,
                                 crop=window or 0, stride=stride or 0)
        np.testing.assert_allclose(ours.scores, scores, atol=2e-5)
        differ = (ours.labels != labels) & ~near_ties(scores, 1e-4)
        assert not differ.any(), f"{differ.sum()} pixels differ"


@pytest.mark.parametrize("height, width", [(375, 500), (500, 333), (100, 1000), (3000, 400), (448, 448), (17, 9000)])
def test_resize_is_mmcvs_with_the_long_side_cap(height, width):
    assert authors_long_side(448) == 2048
    assert our_rescale_size(height, width, 448, authors_long_side(448)) == rescale_size(height, width, (2048, 448))


def test_a_stride_longer_than_the_window_is_refused(pt_model, tiny_tokenizer):
    segmenter = Segmenter(pt_model, tiny_tokenizer)
    with pytest.raises(ValueError, match="stride must be at most the window"):
        segmenter.segment(sample_image(), NAMES, mode="slide", window=30, stride=31)
