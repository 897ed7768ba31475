"""The shipped trained model `shapes-tiny`: loads by name everywhere, in both backends, and segments
held-out generated scenes as well as its model card says (results.json beside the card)."""

import json
import os

import numpy as np
import pytest

from groupvit.datasets.shapes import CLASS_NAMES, make_scene, scene_rng, write_voc
from groupvit.pretrained import pretrained_dir
from groupvit.segmentation import mean_iou
from groupvit.segmentation.loading import checkpoint_defaults, load_segmenter

CARD = json.load(open(os.path.join(pretrained_dir("shapes-tiny"), "results.json"), encoding="utf-8"))
TEST = CARD["test_scenes"]
MARGIN = 0.005  # half a point: another CPU or BLAS may round a near-tie group the other way


@pytest.fixture(scope="module")
def scenes():
    indices = range(TEST["first"], TEST["first"] + TEST["count"])
    return [make_scene(scene_rng(TEST["seed"], i), TEST["size"]) for i in indices]


def _miou(backend, scenes):
    settings = checkpoint_defaults("shapes-tiny")
    segmenter = load_segmenter("shapes-tiny", backend, short_side=settings["short_side"])
    results = segmenter.segment([s.image for s in scenes], list(CLASS_NAMES[1:]),
                                background_threshold=settings["bg_thresh"], templates=settings["templates"],
                                mode=settings["mode"], window=settings["window"], stride=settings["stride"])
    labels = [r.labels for r in results]
    return float(mean_iou(labels, [s.mask.astype(np.int64) for s in scenes], num_classes=len(CLASS_NAMES)).mean), labels


def test_the_shipped_folder_is_complete_and_small():
    folder = pretrained_dir("shapes-tiny")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "special_tokens_map.json", "MODEL_CARD.md"):
        assert os.path.isfile(os.path.join(folder, name)), name
    assert sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)) <= 10 * 2**20


def test_loads_by_name_in_both_backends_and_the_tokenizer_too():
    from groupvit.pt import GroupViTModel
    from groupvit.tf import TFGroupViTModel
    from groupvit.tokenizer import load_tokenizer

    pt_model, tf_model = GroupViTModel.from_pretrained("shapes-tiny"), TFGroupViTModel.from_pretrained("shapes-tiny")
    assert pt_model.config.to_dict() == tf_model.config.to_dict()
    ids, mask = load_tokenizer("shapes-tiny")(["a red star"])
    assert ids[0, 0] == pt_model.config.text_config.bos_token_id and mask.sum() >= 3


def test_both_backends_reach_the_cards_miou_and_agree(scenes):
    scores = {}
    for backend in ("pt", "tf"):
        scores[backend], labels = _miou(backend, scenes)
        scores[backend + "_labels"] = labels
        assert abs(scores[backend] - CARD["miou"][backend]) <= MARGIN, (backend, scores[backend], CARD["miou"])
    assert scores["pt"] > CARD["best_constant"] + 0.01  # better than giving every pixel one label
    differ = sum(int((a != b).sum()) for a, b in zip(scores["pt_labels"], scores["tf_labels"]))
    assert differ <= CARD["max_pixels_differing"], differ


def test_groupvit_evaluate_by_name_alone_uses_the_cards_settings(tmp_path, capsys):
    from groupvit.cli import main

    write_voc(tmp_path / "voc", scenes=8, seed=TEST["seed"], size=TEST["size"])
    out = tmp_path / "result.json"
    assert main(["evaluate", "--checkpoint", "shapes-tiny", "--data", str(tmp_path / "voc"), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    settings = checkpoint_defaults("shapes-tiny")
    assert result["settings"]["bg_thresh"] == settings["bg_thresh"] and result["images"] == 8


def test_the_demos_scored_scenes_do_not_move_with_the_pictures_drawn(tmp_path, monkeypatch):
    """The demo scored the scenes after the drawn ones, so its mIoU (the README's) changed with --scenes."""
    from groupvit.cli import demo

    summaries = [demo.shapes_tiny_demo(str(tmp_path / f"out{n}"), n, 3) for n in (1, 2)]
    assert summaries[0]["miou_pt"] == summaries[1]["miou_pt"] and summaries[0]["miou_tf"] == summaries[1]["miou_tf"]
