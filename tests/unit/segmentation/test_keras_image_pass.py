"""The Keras segmenter's image pass runs as one cached graph (not op by op) and equals the eager layers."""

import numpy as np

from groupvit.segmentation.backends import encode_images
from groupvit.tf import TFGroupViTModel


def test_encode_images_runs_one_cached_graph_and_matches_eager():
    model = TFGroupViTModel.from_pretrained("shapes-tiny")
    pixels = np.random.default_rng(0).normal(size=(2, 3, 128, 128)).astype(np.float32)  # interpolated positions
    graph = encode_images(model, pixels)
    assert len(model._graphs) == 1
    encode_images(model, pixels[:1])  # another batch size: the same graph (batch dimension relaxed)
    assert len(model._graphs) == 1
    model.call_mode = "eager"
    eager = encode_images(model, pixels)
    assert graph.group_features.shape == (2, 8, model.config.projection_dim)
    np.testing.assert_allclose(graph.group_features, eager.group_features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(graph.image_features, eager.image_features, rtol=1e-5, atol=1e-5)
    for a, b in zip(graph.soft_maps, eager.soft_maps):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
