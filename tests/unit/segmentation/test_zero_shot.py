"""The numpy core against a loop-form computation written from docs/computation.md (small tensors)."""

import math

import numpy as np
import pytest

from groupvit.segmentation import zero_shot
from groupvit.segmentation.windows import window_origins


def _unit(rng, *shape):
    x = rng.normal(size=shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _softmax_list(values):
    finite = [v for v in values if v != -math.inf]
    top = max(finite)
    exps = [0.0 if v == -math.inf else math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def reference_labels(group_of_pixel, G, z, T, s, bg_thresh, k):
    """The zero-shot segmentation of docs/computation.md with loops: returns (labels [H][W], aff [O][C])."""
    O, C = len(G), len(T)  # noqa: E741 - O groups x C classes, the letters of docs/computation.md and zero_shot.py
    logits = [[s * sum(G[o][p] * T[c][p] for p in range(len(z))) for c in range(C)] for o in range(O)]
    pre = [_softmax_list(row) for row in logits]
    image = _softmax_list([s * sum(z[p] * T[c][p] for p in range(len(z))) for c in range(C)])
    top = sorted(range(C), key=lambda c: -image[c])[: min(k, C)]
    aff = []
    for o in range(O):
        masked = _softmax_list([logits[o][c] if c in top else -math.inf for c in range(C)])
        aff.append([masked[c] * pre[o][c] for c in range(C)])
    threshold = min(bg_thresh, max(max(row) for row in aff))
    labels = []
    for row in group_of_pixel:
        out = []
        for g in row:
            scores = aff[g]
            best = max(range(C), key=lambda c: (scores[c], -c))
            out.append(0 if scores[best] < threshold else best + 1)
        labels.append(out)
    return labels, aff


@pytest.mark.parametrize("bg_thresh, top_k, classes", [(0.95, 5, 7), (0.2, 2, 4), (0.05, 5, 3), (1.0, 1, 6)])
def test_labels_match_loop_reference(bg_thresh, top_k, classes):
    rng = np.random.default_rng(classes)
    groups, dim = 5, 6
    G, z, T = _unit(rng, groups, dim), _unit(rng, dim), _unit(rng, classes, dim)
    group_of_pixel = rng.integers(0, groups, size=(4, 6))
    s = zero_shot.clamped_scale(math.log(30.0))
    aff, probs, top = zero_shot.group_affinity(G, z, T, s, top_k)
    labels, _ = zero_shot.labels_from_scores(zero_shot.score_map(group_of_pixel, aff, bg_thresh))
    ref_labels, ref_aff = reference_labels(group_of_pixel.tolist(), G.tolist(), z.tolist(), T.tolist(), s,
                                           bg_thresh, top_k)
    np.testing.assert_allclose(aff, np.array(ref_aff), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(labels, np.array(ref_labels))
    # masked classes get exactly zero affinity, kept ones a positive one
    masked = np.setdiff1d(np.arange(classes), top)
    assert np.all(aff[:, masked] == 0) and np.all(aff[:, top] > 0)
    # the group holding max(aff) always keeps its class
    best_group = np.unravel_index(np.argmax(aff), aff.shape)[0]
    assert np.all(labels[group_of_pixel == best_group] > 0)


def test_background_threshold_cuts_low_scores():
    aff = np.array([[0.9, 0.05], [0.3, 0.1], [0.2, 0.6]])
    group_of_pixel = np.array([[0, 1, 2]])
    labels, confidence = zero_shot.labels_from_scores(zero_shot.score_map(group_of_pixel, aff, 0.5))
    assert labels.tolist() == [[1, 0, 2]]  # 0.3 < min(0.5, 0.9) -> background; 0.6 stays
    np.testing.assert_allclose(confidence, [[0.9, 0.3, 0.6]])
    labels, _ = zero_shot.labels_from_scores(zero_shot.score_map(group_of_pixel, aff, 0.95))
    assert labels.tolist() == [[1, 0, 0]]  # threshold min(0.95, 0.9) = 0.9


def test_logit_scale_is_clamped_at_100():
    assert zero_shot.clamped_scale(math.log(50.0)) == pytest.approx(50.0)
    assert zero_shot.clamped_scale(10.0) == 100.0


def test_templates_are_averaged_before_normalization_as_the_authors_do():
    """The authors' build_text_embedding: mean of the raw projections over a class's prompts, then normalize
    (CLIP's classifier normalizes each prompt first: with prompts of unequal norms the two differ)."""
    rng = np.random.default_rng(1)
    features = rng.normal(size=(5, 4)) * np.array([[1.0], [10.0], [0.1], [3.0], [2.0]])
    out = zero_shot.class_embeddings(features, [3, 2])
    for row, (a, b) in zip(out, [(0, 3), (3, 5)]):
        mean = features[a:b].mean(axis=0)
        np.testing.assert_allclose(row, mean / np.linalg.norm(mean), rtol=1e-12)
        clip_style = sum(f / np.linalg.norm(f) for f in features[a:b])
        assert not np.allclose(row, clip_style / np.linalg.norm(clip_style), atol=1e-3)
    with pytest.raises(ValueError, match="add up"):
        zero_shot.class_embeddings(features, [2, 2])


def test_bilinear_resize_matches_torch_half_pixel():
    import torch
    rng = np.random.default_rng(2)
    maps = rng.normal(size=(3, 5, 7))
    for size in [(11, 13), (5, 7), (3, 4), (16, 9)]:
        expected = torch.nn.functional.interpolate(torch.from_numpy(maps)[None], size=size, mode="bilinear",
                                                   align_corners=False)[0].numpy()
        np.testing.assert_allclose(zero_shot.bilinear_resize(maps, *size), expected, rtol=1e-12, atol=1e-12)


def test_chained_group_index_map():
    rng = np.random.default_rng(3)
    soft0 = rng.dirichlet(np.ones(4), size=12).T  # (O0=4, N=12): columns sum to 1
    soft1 = rng.dirichlet(np.ones(3), size=4).T   # (O1=3, N1=4)
    chained = zero_shot.chain_soft_maps([soft0, soft1])
    np.testing.assert_allclose(chained[1], soft0.T @ soft1.T)
    index = zero_shot.group_index_map(chained[1], (3, 4), (3, 4))
    np.testing.assert_array_equal(index, np.argmax(chained[1], axis=1).reshape(3, 4))
    with pytest.raises(ValueError, match="grid"):
        zero_shot.group_index_map(chained[1], (2, 4), (3, 4))


def test_window_origins_cover_and_end_at_border():
    assert window_origins(448, 448, 224) == [0]
    assert window_origins(600, 448, 224) == [0, 152]
    assert window_origins(900, 448, 224) == [0, 224, 448, 452]  # mmseg: ceil((900 - 448) / 224) + 1 windows
    assert window_origins(30, 448, 224) == [0]
