"""`groupvit train --backend tf` end to end (no torch): loss falls, checkpoints load, resume is exact."""

import json
import os
import shutil

import numpy as np

from groupvit.cli import main
from groupvit.tf import TFGroupViTModel
from groupvit.weights_bridge.safetensors_io import read_safetensors
from train_data import tiny_train_config, write_colour_dataset

BASE = ["--backend", "tf", "--tokenizer-vocab", "600", "--batch-size", "8", "--lr", "1e-3", "--multi-label", "2",
        "--no-progress"]


def _log(out):
    with open(os.path.join(out, "log.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_keras_training_run_loss_falls_and_resumes_exactly(tmp_path):
    data, config = write_colour_dataset(tmp_path / "data"), tiny_train_config(tmp_path / "config.json")
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    args = ["--data", data, "--config", config, *BASE, "--steps", "40", "--save-every", "20", "--keep", "5"]
    assert main(["train", *args, "--out", str(straight)]) == 0
    log = _log(straight)
    first, last = np.mean([r["loss"] for r in log[:5]]), np.mean([r["loss"] for r in log[-5:]])
    assert last < 0.8 * first, (first, last)  # falls by a fifth or more within the run
    model = TFGroupViTModel.from_pretrained(straight / "checkpoints" / "step-000020")
    assert model.config.text_config.vocab_size == 700

    shutil.copytree(straight, stopped)  # forget everything after step 20, then resume
    shutil.rmtree(stopped / "checkpoints" / "step-000040")
    os.remove(stopped / "model.safetensors")
    os.remove(stopped / "summary.json")
    assert main(["train", *args, "--out", str(stopped), "--resume"]) == 0
    a, b = read_safetensors(straight / "model.safetensors"), read_safetensors(stopped / "model.safetensors")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert [r["loss"] for r in _log(stopped)] == [r["loss"] for r in log]


def test_keras_run_scores_its_checkpoints_with_the_keras_backend(tmp_path):
    from groupvit.segmentation.evaluation import evaluate_folder

    data, config = write_colour_dataset(tmp_path / "data"), tiny_train_config(tmp_path / "config.json")
    voc = tmp_path / "voc"
    assert main(["shapes", str(voc), "--scenes", "2", "--seed", "2", "--layout", "voc", "--size", "32"]) == 0
    out = tmp_path / "run"
    assert main(["train", "--data", data, "--config", config, *BASE, "--steps", "2", "--save-every", "2",
                 "--out", str(out), "--eval-data", str(voc)]) == 0
    with open(out / "eval.jsonl", encoding="utf-8") as f:
        (entry,) = [json.loads(line) for line in f]
    scores = evaluate_folder(str(out / entry["checkpoint"]), str(voc), backend="tf")[2]
    assert entry["step"] == 2 and entry["miou"] == float(scores.mean)
