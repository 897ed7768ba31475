"""The one default-size test: GroupViTConfig() with seeded random weights, both backends, a non-square input."""

import functools

import numpy as np
from seg_helpers import near_ties, sample_image

from groupvit.configs import GroupViTConfig
from groupvit.images import segmentation_preprocess
from groupvit.random_checkpoint import random_weights
from groupvit.segmentation import Segmenter


def test_default_size_backends_agree_on_non_square_input():
    from groupvit.pt import GroupViTModel
    from groupvit.tf import TFGroupViTModel

    config = GroupViTConfig()
    weights = random_weights(config, 0)
    pt_model = GroupViTModel(config)
    pt_model.load_weights(weights)
    tf_model = TFGroupViTModel(config)
    tf_model.assign_numpy(weights)
    def tokenizer(names):
        """Distinct in-vocabulary captions per name (start, words, end); the class names do not matter here."""
        ids = np.array([[49406, 320, 1125 + i, 539, 320, 2368, 269, 49407] for i in range(len(names))], np.int64)
        return ids, np.ones_like(ids)

    transform = functools.partial(segmentation_preprocess, short_side=224)
    image = sample_image(150, 200)  # -> 224 x 299 input, padded to 224 x 304 (14 x 19 patches)
    kw = dict(background_threshold=0.0, templates=1)
    names = ["sky", "grass", "house", "sun"]
    a = Segmenter(pt_model.eval(), tokenizer, image_transform=transform).segment(image, names, **kw)[0]
    b = Segmenter(tf_model, tokenizer, image_transform=transform).segment(image, names, **kw)[0]
    assert a.input_hw == (224, 299) and a.labels.shape == (150, 200)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    clear = ~(near_ties(a.scores) | near_ties(b.scores))
    np.testing.assert_array_equal(a.labels[clear], b.labels[clear])
    for ga, gb in zip(a.group_maps, b.group_maps):
        assert (ga == gb).mean() > 0.99
