"""`groupvit train --backend pt` end to end: loss falls, resume, Ctrl-C, torchrun, bad data, outputs."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from groupvit.cli import main
from groupvit.pt import GroupViTModel
from groupvit.tokenizer import load_tokenizer
from groupvit.weights_bridge.safetensors_io import read_safetensors
from train_data import tiny_train_config, with_listing_skips, write_colour_dataset
from training_invariants import adam_drift_bound, drifts

BASE = ["--backend", "pt", "--tokenizer-vocab", "600", "--batch-size", "4", "--lr", "1e-3", "--multi-label", "2",
        "--no-progress"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    return write_colour_dataset(root / "data"), tiny_train_config(root / "config.json")


def _train(data, config, out, *extra):
    return main(["train", "--data", data, "--config", config, "--out", str(out), *BASE, *extra])


def _log(out):
    with open(os.path.join(out, "log.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_loss_falls_and_outputs_load(dataset, tmp_path):
    data, config = dataset
    out = tmp_path / "run"
    assert _train(data, config, out, "--steps", "40", "--batch-size", "8", "--save-every", "20") == 0
    log = _log(out)
    assert [r["step"] for r in log] == list(range(1, 41))
    assert set(log[0]) >= {"step", "loss", "contrastive", "multi_label", "lr", "logit_scale", "images_per_s"}
    first, last = np.mean([r["loss"] for r in log[:5]]), np.mean([r["loss"] for r in log[-5:]])
    assert last < 0.8 * first, (first, last)  # falls by a fifth or more within the run
    model = GroupViTModel.from_pretrained(out)  # the final model, standard layout
    assert model.config.text_config.vocab_size == 700
    tokenizer = load_tokenizer(out)
    assert tokenizer.end_id == model.config.text_config.eos_token_id
    assert "multi_label_logit_scale" not in read_safetensors(out / "model.safetensors")
    assert sorted(os.listdir(out / "checkpoints")) == ["step-000020", "step-000040"]
    GroupViTModel.from_pretrained(out / "checkpoints" / "step-000020")
    load_tokenizer(out / "checkpoints" / "step-000020")


def _same_weights(a, b, learning_rates):
    wa, wb = read_safetensors(a), read_safetensors(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key], err_msg=key)


def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(dataset, tmp_path):
    data, config = dataset
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert _train(data, config, straight, "--steps", "6", "--save-every", "3", "--keep", "5") == 0
    shutil.copytree(straight, stopped)  # then forget everything after step 3
    shutil.rmtree(stopped / "checkpoints" / "step-000006")
    for name in ("model.safetensors", "summary.json"):
        os.remove(stopped / name)
    assert _train(data, config, stopped, "--steps", "6", "--save-every", "3", "--resume") == 0
    _same_weights(straight / "model.safetensors", stopped / "model.safetensors", None)
    assert [r["loss"] for r in _log(stopped)] == [r["loss"] for r in _log(straight)]


def test_the_authors_augmentation_and_drop_path_reach_the_step_and_are_fixed_on_resume(dataset, tmp_path, capsys):
    data, config = dataset
    authors = ["--rand-augment", "rand-m9-mstd0.5-inc1", "--interpolation", "bilinear", "--random-erasing", "0.25"]
    assert _train(data, config, tmp_path / "plain", "--steps", "2") == 0
    assert _train(data, config, tmp_path / "authors", "--steps", "2", "--save-every", "1", *authors) == 0
    assert _log(tmp_path / "plain")[0]["loss"] != _log(tmp_path / "authors")[0]["loss"]
    for name, option in [("drop_path", ["--drop-path-rate", "0.5"]), ("rand_augment", authors[:2]),
                         ("bilinear", authors[2:4])]:  # each on its own reaches the step
        assert _train(data, config, tmp_path / name, "--steps", "2", *option) == 0
        assert _log(tmp_path / "plain")[0]["loss"] != _log(tmp_path / name)[0]["loss"], name
    os.remove(tmp_path / "authors" / "model.safetensors")
    shutil.rmtree(tmp_path / "authors" / "checkpoints" / "step-000002")
    assert _train(data, config, tmp_path / "authors", "--steps", "2", "--resume", *authors[2:],
                  "--rand-augment", "rand-m9-inc1") != 0
    assert "--rand-augment: 'rand-m9-mstd0.5-inc1' -> 'rand-m9-inc1'" in capsys.readouterr().err


def test_eval_data_scores_each_checkpoint_as_groupvit_evaluate_does(dataset, tmp_path, capsys):
    from groupvit.segmentation.evaluation import evaluate_folder

    data, config = dataset
    voc = tmp_path / "voc"
    assert main(["shapes", str(voc), "--scenes", "3", "--seed", "2", "--layout", "voc", "--size", "32"]) == 0
    out = tmp_path / "run"
    evaluation = ["--eval-data", str(voc), "--eval-limit", "2", "--eval-bg-thresh", "0.5"]
    assert _train(data, config, out, "--steps", "4", "--save-every", "2", "--keep", "0", *evaluation) == 0
    with open(out / "eval.jsonl", encoding="utf-8") as f:
        entries = [json.loads(line) for line in f]
    assert [e["step"] for e in entries] == [2, 4] and all(e["images"] == 2 for e in entries)
    for entry in entries:  # the same number `groupvit evaluate --limit 2 --bg-thresh 0.5` gives for the checkpoint
        scores = evaluate_folder(str(out / entry["checkpoint"]), str(voc), limit=2, bg_thresh=0.5)[2]
        assert entry["miou"] == pytest.approx(float(scores.mean), abs=1e-12)
        assert entry["settings"]["bg_thresh"] == 0.5 and set(entry["per_class"]) >= {"background", "circle"}
    with open(out / "summary.json", encoding="utf-8") as f:
        assert json.load(f)["eval"]["last"] == {"step": 4, "miou": entries[-1]["miou"]}
    # resumed from step 2, the run scores step 4 once again, not twice
    shutil.rmtree(out / "checkpoints" / "step-000004")
    assert _train(data, config, out, "--steps", "4", "--save-every", "2", "--keep", "0", "--resume", *evaluation) == 0
    with open(out / "eval.jsonl", encoding="utf-8") as f:
        assert [json.loads(line)["step"] for line in f] == [2, 4]
    # a finished run resumed saves its last step again, and does not score it twice
    assert _train(data, config, out, "--steps", "4", "--save-every", "2", "--keep", "0", "--resume", *evaluation) == 0
    with open(out / "eval.jsonl", encoding="utf-8") as f:
        assert [json.loads(line)["step"] for line in f] == [2, 4]
    # --keep 1 keeps the newest checkpoint and the best-scoring one
    kept = tmp_path / "kept"
    assert _train(data, config, kept, "--steps", "6", "--save-every", "1", "--keep", "1", *evaluation) == 0
    with open(kept / "summary.json", encoding="utf-8") as f:
        best = json.load(f)["eval"]["best"]["step"]
    assert sorted(os.listdir(kept / "checkpoints")) == sorted({f"step-{best:06d}", "step-000006"})
    # a folder that is not a VOC layout fails before any training, leaving no output
    capsys.readouterr()
    assert _train(data, config, tmp_path / "bad", "--steps", "2", "--eval-data", str(tmp_path / "missing")) != 0
    assert "--eval-data must be a Pascal VOC layout folder (JPEGImages/" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    assert _train(data, config, tmp_path / "bad", "--steps", "2", "--eval-limit", "3") != 0
    assert "--eval-limit set how --eval-data is scored: give --eval-data too. Received: --eval-data=None with " \
           "--eval-limit=3" in capsys.readouterr().err


def test_a_failed_evaluation_is_logged_and_training_goes_on(dataset, tmp_path, capsys):
    from PIL import Image

    data, config = dataset
    voc = tmp_path / "voc"
    assert main(["shapes", str(voc), "--scenes", "2", "--seed", "2", "--layout", "voc", "--size", "32"]) == 0
    label = next((voc / "SegmentationClass").iterdir())
    Image.open(label).resize((20, 20)).save(label)  # a label map that no longer matches its image
    out = tmp_path / "run"
    assert _train(data, config, out, "--steps", "2", "--save-every", "1", "--eval-data", str(voc)) == 0
    with open(out / "eval.jsonl", encoding="utf-8") as f:
        entries = [json.loads(line) for line in f]
    assert [e["step"] for e in entries] == [1, 2]
    assert all("must match its image's size" in e["error"] and "miou" not in e for e in entries)
    assert "step 1: evaluation failed, training goes on" in capsys.readouterr().out
    with open(out / "summary.json", encoding="utf-8") as f:
        assert json.load(f)["eval"] is None
    GroupViTModel.from_pretrained(out)


def test_a_crash_after_the_first_checkpoint_keeps_it(dataset, tmp_path, monkeypatch):
    """A failure after a checkpoint is written (here an evaluation that raises what it does not catch) leaves the
    run's folder and the checkpoint: only a run that fails before its first checkpoint removes what it made."""
    import groupvit.training.loop as loop

    data, config = dataset
    voc = tmp_path / "voc"
    assert main(["shapes", str(voc), "--scenes", "2", "--seed", "2", "--layout", "voc", "--size", "32"]) == 0

    def broken(run, checkpoint, step):
        raise RuntimeError("evaluation broke")

    monkeypatch.setattr(loop, "evaluate_checkpoint", broken)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="evaluation broke"):
        _train(data, config, out, "--steps", "4", "--save-every", "2", "--eval-data", str(voc))
    assert os.listdir(out / "checkpoints") == ["step-000002"]
    assert _train(data, config, out, "--steps", "4", "--save-every", "2", "--resume") == 0


def test_what_a_trained_tokenizer_changes_is_said(dataset, tmp_path, capsys):
    data, config = dataset
    base = [a for a in BASE if a != "--no-progress"]
    assert main(["train", "--data", data, "--config", config, "--out", str(tmp_path / "run"), *base, "--steps", "1",
                 "--tokenizer-vocab", "650"]) == 0
    out = capsys.readouterr()
    size = load_tokenizer(tmp_path / "run").backend.get_vocab_size()
    assert size < 650 and f"tokenizer: trained on the captions, {size} ids (asked for 650" in out.out
    assert "config: the text config takes the tokenizer's special ids (bos_token_id 97 -> " in out.out


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_saves_and_resume_finishes_the_same_run(dataset, tmp_path, sent, code):
    data, config = dataset
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    args = ["--steps", "400", "--save-every", "1000"]
    command = [sys.executable, "-m", "groupvit", "train", "--data", data, "--config", config, "--out", str(stopped),
               *BASE, *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = stopped / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    proc.send_signal(sent)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    saved = os.listdir(stopped / "checkpoints")
    assert len(saved) == 1 and not (stopped / "model.safetensors").exists()
    step = int(saved[0].split("-")[1])
    assert 3 <= step < 400
    assert _train(data, config, stopped, *args, "--resume") == 0
    assert _train(data, config, straight, *args) == 0
    _same_weights(straight / "model.safetensors", stopped / "model.safetensors", None)


def _signal_during_step(monkeypatch, at_step, signals):
    """Send this process `signals` SIGINTs from inside the trainer's step number `at_step` (1-based)."""
    from groupvit.pt.training.trainer import TorchTrainer

    step_fn, calls = TorchTrainer.step, []

    def step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == at_step:
            for _ in range(signals):
                os.kill(os.getpid(), signal.SIGINT)
        return step_fn(self, *args, **kwargs)

    monkeypatch.setattr(TorchTrainer, "step", step)


def test_a_second_signal_stops_at_once_and_saves_no_state_a_batch_ahead(dataset, tmp_path, monkeypatch, capsys):
    """The second Ctrl-C lands inside a step, after its batch was drawn: a checkpoint there would resume a batch
    ahead of its weights, so none is written and the last periodic one stands. The rank leaves its process group
    without the closing barrier: under torchrun the other ranks are inside a step it never joins (it hung there
    for gloo's 30-minute timeout)."""
    from groupvit.pt.training.trainer import TorchTrainer

    data, config = dataset
    out = tmp_path / "run"
    _signal_during_step(monkeypatch, 4, 2)
    close, waits = TorchTrainer.close, []
    monkeypatch.setattr(TorchTrainer, "close", lambda self, wait=True: waits.append(wait) or close(self, wait=wait))
    assert _train(data, config, out, "--steps", "8", "--save-every", "2", "--keep", "5") == 130
    assert sorted(os.listdir(out / "checkpoints")) == ["step-000002"]
    assert "nothing saved, the last checkpoint is step 2" in capsys.readouterr().out
    assert waits and not any(waits)


def test_a_second_signal_before_the_first_checkpoint_leaves_nothing_to_refuse_a_rerun(dataset, tmp_path,
                                                                                      monkeypatch, capsys):
    """It left log.jsonl and tokenizer/, and the rerun (or --resume) was refused as a run that stopped before its
    first checkpoint."""
    data, config = dataset
    out = tmp_path / "run"
    _signal_during_step(monkeypatch, 2, 2)
    assert _train(data, config, out, "--steps", "8", "--save-every", "4") == 130
    assert "nothing saved, no checkpoint, nothing kept" in capsys.readouterr().out
    assert not out.exists()
    monkeypatch.undo()
    assert _train(data, config, out, "--steps", "8", "--save-every", "4") == 0


def test_a_signal_during_a_saving_step_saves_it_once(dataset, tmp_path, monkeypatch):
    from groupvit.training import checkpoints

    data, config = dataset
    out = tmp_path / "run"
    written, write = [], checkpoints.write_checkpoint
    monkeypatch.setattr(checkpoints, "write_checkpoint", lambda *a, **k: written.append(a[1]) or write(*a, **k))
    _signal_during_step(monkeypatch, 4, 1)
    assert _train(data, config, out, "--steps", "8", "--save-every", "2", "--keep", "5") == 130
    assert written == [2, 4]
    assert _train(data, config, out, "--steps", "8", "--save-every", "2", "--keep", "5", "--resume") == 0


def _random_init(data, config, folder):
    """A checkpoint of `random_weights` (well-separated group tokens) with a tokenizer trained on the captions.

    Started from scratch instead, the group tokens are the authors' 0.02-std tables: the groups' assignment
    logits then lie within float32 noise of each other, and a hard assignment can flip between two runs that
    sum in another order (the near-tie rule of docs/training.md), which is not what this test is about."""
    from groupvit.configs import GroupViTConfig
    from groupvit.random_checkpoint import random_weights
    from groupvit.weights_bridge import save_checkpoint

    seed_run = folder / "seed-run"
    assert _train(data, config, seed_run, "--steps", "1") == 0
    trained_config = GroupViTConfig.from_pretrained(seed_run)
    save_checkpoint(trained_config, random_weights(trained_config, 0), folder / "init", format="safetensors")
    for name in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copy(seed_run / name, folder / "init" / name)
    return str(folder / "init")


@pytest.mark.parametrize("loss, skips", [([], False),
                                         (["--grouped-multi-label", "--group-exclusivity", "0.5", "--group-naming",
                                           "0.5"], False),
                                         ([], True)], ids=["authors", "grouped", "listing-skips"])
def test_torchrun_two_ranks_equal_one_process(dataset, tmp_path, loss, skips):
    data, config = dataset
    if skips:  # skipped as the epochs are listed: the global batches stay one process's, and so do the counts
        data = with_listing_skips(data, tmp_path / "bad")
    init = _random_init(data, config, tmp_path)
    single, dist = tmp_path / "single", tmp_path / "dist"
    args = ["--steps", "5", "--batch-size", "6", "--init", init, *loss]
    base = [a for a in BASE if a not in ("--tokenizer-vocab", "600")]
    assert main(["train", "--data", data, "--out", str(single), *base, *args]) == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with socket.socket() as sock:  # torchrun's --master_port 0 does not pick a port for the static rendezvous
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
               "-m", "groupvit", "train", "--data", data, "--out", str(dist), *base, *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # float32 sums in another order (gathered rows, BatchNorm statistics summed over ranks)
    np.testing.assert_allclose([r["loss"] for r in _log(dist)], [r["loss"] for r in _log(single)],
                               rtol=2e-5, atol=2e-6)
    assert [r["skipped"] for r in _log(dist)] == [r["skipped"] for r in _log(single)]  # summed over the ranks
    summaries = [json.loads((out / "summary.json").read_text())["skipped"] for out in (dist, single)]
    assert summaries[0] == summaries[1] and (sum(summaries[0].values()) >= 3 if skips else summaries[0] == {})
    lrs = [r["lr"] for r in _log(single)]
    wd, ws = read_safetensors(dist / "model.safetensors"), read_safetensors(single / "model.safetensors")
    for key in ws:
        if drifts(key):  # zero true gradient, see tests/training_invariants.py
            np.testing.assert_allclose(wd[key], ws[key], rtol=0, atol=adam_drift_bound(lrs), err_msg=key)
        else:
            np.testing.assert_allclose(wd[key], ws[key], rtol=1e-4, atol=2e-5, err_msg=key)


def test_bad_samples_are_skipped_and_counted(dataset, tmp_path):
    data, config = dataset
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    (bad / "images" / "001.png").write_bytes(b"not a png")
    os.remove(bad / "images" / "002.png")
    with open(bad / "captions.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"image": "images/003.png", "caption": "  "}) + "\n{broken json\n")
    out = tmp_path / "run"
    assert _train(str(bad), config, out, "--steps", "5") == 0  # 20 samples: every usable one read once
    with open(out / "summary.json", encoding="utf-8") as f:
        skipped = json.load(f)["skipped"]
    assert skipped.get("unreadable_image", 0) >= 1 and skipped.get("missing_image", 0) >= 1
    assert skipped.get("empty_caption", 0) >= 1 and skipped.get("bad_json", 0) >= 1


def test_a_resumed_run_counts_skips_as_the_uninterrupted_one_and_mends_a_cut_log(dataset, tmp_path):
    data, config = dataset
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    (bad / "images" / "001.png").write_bytes(b"not a png")  # counted when decoded
    with open(bad / "captions.jsonl", "a", encoding="utf-8") as f:
        f.write("{broken json\n")  # counted when an epoch is listed
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    args = ["--steps", "9", "--save-every", "4", "--keep", "5"]  # 15 usable samples: steps 4-9 span epochs 1, 2
    assert _train(str(bad), config, straight, *args) == 0
    shutil.copytree(straight, stopped)  # then forget everything after step 4
    for step in (8, 9):
        shutil.rmtree(stopped / "checkpoints" / f"step-{step:06d}")
    for name in ("model.safetensors", "summary.json"):
        os.remove(stopped / name)
    lines = (stopped / "log.jsonl").read_text().splitlines(keepends=True)
    (stopped / "log.jsonl").write_text("".join(lines[:5]) + lines[5][:20])  # a crash while writing step 6
    assert _train(str(bad), config, stopped, *args, "--resume") == 0
    assert [r["skipped"] for r in _log(stopped)] == [r["skipped"] for r in _log(straight)]
    assert [r["loss"] for r in _log(stopped)] == [r["loss"] for r in _log(straight)]
    summaries = [json.loads((out / "summary.json").read_text())["skipped"] for out in (straight, stopped)]
    assert summaries[0] == summaries[1] and summaries[0]["bad_json"] >= 2 and summaries[0]["unreadable_image"] >= 2


def test_a_log_line_broken_before_the_last_is_a_clear_error(dataset, tmp_path, capsys):
    data, config = dataset
    out = tmp_path / "run"
    assert _train(data, config, out, "--steps", "4", "--save-every", "2") == 0
    shutil.rmtree(out / "checkpoints" / "step-000004")
    for name in ("model.safetensors", "summary.json"):
        os.remove(out / name)
    lines = (out / "log.jsonl").read_text().splitlines(keepends=True)
    (out / "log.jsonl").write_text(lines[0] + "{cut\n" + "".join(lines[1:]))
    assert _train(data, config, out, "--steps", "4", "--save-every", "2", "--resume") == 1
    assert "line 2 of" in capsys.readouterr().err


@pytest.mark.parametrize("given_empty", [False, True], ids=["new-out", "empty-out"])
def test_nothing_usable_fails_clearly_and_leaves_no_model(dataset, tmp_path, capsys, given_empty):
    """BASE trains a tokenizer into OUT/tokenizer/ first: a folder the run made goes; an empty one the user made
    stays, emptied."""
    _, config = dataset
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "captions.jsonl").write_text(json.dumps({"image": "missing.png", "caption": "a cat"}) + "\n")
    out = tmp_path / "run"
    if given_empty:
        out.mkdir()
    assert _train(str(empty), config, out, "--steps", "3") == 1
    err = capsys.readouterr().err
    assert "missing_image" in err, err
    assert (os.listdir(out) == []) if given_empty else not out.exists()


def test_a_config_differing_from_the_init_checkpoints_names_the_fields(dataset, tmp_path, capsys):
    """A run from scratch takes its trained tokenizer's special ids, so its config differs from the --config it
    was given; starting from it with that --config again is refused, naming the fields that differ."""
    data, config = dataset
    first = tmp_path / "first"
    assert _train(data, config, first, "--steps", "1") == 0
    capsys.readouterr()
    assert _train(data, config, tmp_path / "second", "--steps", "1", "--init", str(first)) == 1
    err = capsys.readouterr().err
    assert "text_config.eos_token_id" in err and "text_config.pad_token_id" in err, err
    assert not (tmp_path / "second").exists()
    # the checkpoint's own config, as transformers writes it (its version, architectures, dtype): the same model
    same = json.loads((first / "config.json").read_text())
    same.update(transformers_version="5.0.0", architectures=["GroupViTModel"], torch_dtype="float32")
    (tmp_path / "same.json").write_text(json.dumps(same))
    assert _train(data, str(tmp_path / "same.json"), tmp_path / "third", "--steps", "1", "--init", str(first)) == 0


def test_a_run_killed_before_its_first_checkpoint_is_named_as_such(dataset, tmp_path, capsys):
    data, config = dataset
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.jsonl").write_text(json.dumps({"step": 1, "loss": 5.0}) + "\n")  # what SIGKILL at step 2 leaves
    for extra in ([], ["--resume"]):
        assert _train(data, config, out, "--steps", "4", *extra) == 1
        assert "stopped before its first checkpoint" in capsys.readouterr().err
    assert os.listdir(out) == ["log.jsonl"]


def test_a_resumed_run_removes_what_a_killed_save_left_staged(dataset, tmp_path):
    data, config = dataset
    out = tmp_path / "run"
    args = ["--steps", "4", "--save-every", "2", "--keep", "5"]
    assert _train(data, config, out, *args) == 0
    shutil.rmtree(out / "checkpoints" / "step-000004")
    for name in ("model.safetensors", "summary.json"):
        os.remove(out / name)
    staged = [out / "checkpoints" / ".tmp-0badc0de-step-000004", out / ".tmp-12345678-model.safetensors"]
    staged[0].mkdir()
    (staged[0] / "model.safetensors").write_bytes(b"half")
    staged[1].write_bytes(b"half")
    keep = out / "checkpoints" / ".tmp-notmine"  # not a name the writers stage under: left alone
    keep.write_text("user file")
    assert _train(data, config, out, *args, "--resume") == 0
    assert not any(path.exists() for path in staged) and keep.exists()
    assert sorted(os.listdir(out / "checkpoints")) == [".tmp-notmine", "step-000002", "step-000004"]


def _without_nouns(data, folder, rows):
    """A copy of `data` whose first `rows` rows lose their `nouns` field (None: every row)."""
    shutil.copytree(data, folder)
    lines = (folder / "captions.jsonl").read_text().splitlines()
    rows = len(lines) if rows is None else rows
    cut = [json.dumps({k: v for k, v in json.loads(line).items() if k != "nouns"}) for line in lines[:rows]]
    (folder / "captions.jsonl").write_text("\n".join(cut + lines[rows:]) + "\n")
    return str(folder)


def test_samples_without_nouns_and_nltk_are_skipped_or_refused_up_front(dataset, tmp_path, monkeypatch, capsys):
    """A sample without nouns stopped the run at the step that drew it ("Extracting nouns needs ..."), after
    checkpoints; a resume met it again."""
    from groupvit.training.data import nouns

    monkeypatch.setattr(nouns, "_nltk", lambda: None)  # as where nltk or its data is not installed
    data, config = dataset
    some = _without_nouns(data, tmp_path / "some", 3)
    out = tmp_path / "run"
    assert _train(some, config, out, "--steps", "6", "--save-every", "2") == 0
    assert "3 of 16 samples have no `nouns` field" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["skipped"]["missing_nouns"] >= 3
    none = _without_nouns(data, tmp_path / "none", None)
    assert _train(none, config, tmp_path / "refused", "--steps", "6") == 1
    err = capsys.readouterr().err
    assert "--multi-label needs each sample's nouns" in err and "none of the 16 samples" in err, err
    assert not (tmp_path / "refused").exists()


def test_a_tokenizer_with_ids_past_vocab_size_is_refused_before_training(dataset, tmp_path, capsys):
    """56 tokens numbered up to CLIP's 49407: the count fitted a vocab_size of 700 and the first step failed
    inside the embedding lookup (IndexError)."""
    import string

    data, config = dataset
    letters = tmp_path / "letters"
    letters.mkdir()
    vocab = {}
    for c in string.ascii_lowercase + ".":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = 49406, 49407
    (letters / "vocab.json").write_text(json.dumps(vocab))
    (letters / "merges.txt").write_text("#version: 0.2\n")
    base = [a for a in BASE if a not in ("--tokenizer-vocab", "600")]
    out = tmp_path / "run"
    assert main(["train", "--data", data, "--config", config, "--out", str(out), *base, "--steps", "1",
                 "--tokenizer", str(letters)]) == 1
    err = capsys.readouterr().err
    assert "must lie below the text config's vocab_size" in err and "largest id 49407" in err, err
    assert not out.exists()


def test_output_folder_rules(dataset, tmp_path, capsys):
    data, config = dataset
    assert _train(data, config, os.path.join(data, "run"), "--steps", "1") == 1
    assert "apart from the inputs" in capsys.readouterr().err
    out = tmp_path / "run"
    assert _train(data, config, out, "--steps", "1") == 0
    assert _train(data, config, out, "--steps", "1") == 1
    assert "pass --resume" in capsys.readouterr().err
    assert _train(data, config, tmp_path / "new", "--steps", "1", "--resume") == 1
    assert "--resume needs a complete checkpoint" in capsys.readouterr().err
    assert _train(data, config, out, "--steps", "2", "--resume") == 1
    assert "keep the settings" in capsys.readouterr().err
    assert _train(data, config, tmp_path / "excl", "--steps", "1", "--group-exclusivity", "0.5") == 1
    err = capsys.readouterr().err
    assert "needs --grouped-multi-label" in err and "--group-exclusivity=0.5" in err, err
    with pytest.raises(SystemExit) as exit_info:
        _train(data, config, tmp_path / "tmpl", "--steps", "1", "--prompt-templates", "a photo of a")
    assert exit_info.value.code == 2
    assert 'exactly one "{}"' in capsys.readouterr().err
    assert _train(data, config, tmp_path / "bare", "--steps", "2", "--save-every", "1",
                  "--prompt-templates", "{}") == 0
    with open(tmp_path / "bare" / "checkpoints" / "step-000002" / "trainer_state.json", encoding="utf-8") as f:
        assert json.load(f)["run"]["prompt_templates"] == "{}"
    assert _train(data, config, tmp_path / "bare", "--steps", "2", "--save-every", "1", "--resume") == 1
    err = capsys.readouterr().err
    assert "keep the settings" in err and "--prompt-templates: '{}' -> 80" in err, err


def test_a_shipped_tokenizer_by_name_is_saved_with_the_run(dataset, tmp_path):
    """`--tokenizer shapes-tiny` (a name every checkpoint argument takes) must be read from the package and saved
    with the run like a folder's files (it was looked for as ./shapes-tiny/ and nothing was saved: the run could
    be neither segmented nor resumed)."""
    data, _ = dataset
    config = tiny_train_config(tmp_path / "config.json", vocab_size=701)  # shapes-tiny's tokenizer has 701 ids
    out = tmp_path / "run"
    args = ["train", "--data", data, "--config", config, "--out", str(out), "--backend", "pt", "--tokenizer",
            "shapes-tiny", "--batch-size", "4", "--steps", "2", "--save-every", "2", "--no-progress"]
    assert main(args) == 0
    shipped = load_tokenizer("shapes-tiny")
    for folder in (out, out / "checkpoints" / "step-000002"):
        assert (folder / "tokenizer.json").is_file()
        np.testing.assert_array_equal(load_tokenizer(folder)("a red circle")[0], shipped("a red circle")[0])


def test_eval_data_is_an_input_the_run_never_writes_into(dataset, tmp_path, capsys):
    data, config = dataset
    voc = tmp_path / "voc"
    assert main(["shapes", str(voc), "--scenes", "2", "--seed", "2", "--layout", "voc", "--size", "32"]) == 0
    before = sorted(os.listdir(voc))
    assert _train(data, config, voc, "--steps", "1", "--eval-data", str(voc)) == 1
    assert "apart from the inputs" in capsys.readouterr().err
    assert _train(data, config, voc / "run", "--steps", "1", "--eval-data", str(voc)) == 1
    assert sorted(os.listdir(voc)) == before


def test_an_evaluation_with_no_score_is_logged_as_null_and_training_goes_on(dataset, tmp_path):
    """A validation split whose label pixels are all ignored (255) scores no class: the entry holds "miou": null,
    and the run goes on (the progress message formatted None and the run died at its first save)."""
    from PIL import Image

    data, config = dataset
    voc = tmp_path / "voc"
    assert main(["shapes", str(voc), "--scenes", "2", "--seed", "2", "--layout", "voc", "--size", "32"]) == 0
    for label in (voc / "SegmentationClass").iterdir():
        Image.fromarray(np.full((32, 32), 255, np.uint8)).save(label)
    out = tmp_path / "run"
    assert _train(data, config, out, "--steps", "2", "--save-every", "2", "--eval-data", str(voc)) == 0
    with open(out / "eval.jsonl", encoding="utf-8") as f:
        entries = [json.loads(line) for line in f]
    assert [(e["step"], e["miou"]) for e in entries] == [(2, None)]


def test_a_non_square_image_size_is_refused_before_anything_is_written(dataset, tmp_path, capsys):
    """The crops are square; a [32, 16] config crashed at the first step on a shape mismatch (both backends)."""
    from tiny_configs import tiny_config

    data, _ = dataset
    config = tiny_config("two_grouping", text=dict(vocab_size=700, max_position_embeddings=12),
                         vision=dict(image_size=[30, 15]))
    path = tmp_path / "config.json"
    path.write_text(config.to_json_string())
    out = tmp_path / "run"
    assert _train(data, str(path), out, "--steps", "2") == 1
    assert "image_size must be square. Received: image_size=[30, 15]" in capsys.readouterr().err
    assert not out.exists()


def test_resuming_a_finished_run_changes_nothing(dataset, tmp_path, capsys):
    """--resume of a run that reached its last step rewrote summary.json with an empty "final", zero images/s and
    listing skips subtracted; now it says the run is complete and leaves every file as it was."""
    data, config = dataset
    out = tmp_path / "run"
    assert _train(data, config, out, "--steps", "2", "--save-every", "2") == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert _train(data, config, out, "--steps", "2", "--save-every", "2", "--resume") == 0
    assert "is complete (2 steps): nothing to resume" in capsys.readouterr().out
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert json.loads((out / "summary.json").read_text())["final"]["step"] == 2


def test_options_that_need_groups_are_refused_for_a_model_without_a_grouping_stage(dataset, tmp_path, capsys):
    """--eval-data logged "Segmentation needs at least one grouping stage" at every checkpoint; --grouped-multi-label
    trained without a word."""
    from groupvit.configs import GroupViTConfig
    from tiny_configs import tiny_config

    data, _ = dataset
    base = tiny_config(text=dict(vocab_size=700, max_position_embeddings=12)).to_dict()
    base["vision_config"].update(depths=[2], num_group_tokens=[0], num_output_groups=[0], num_hidden_layers=2)
    path = tmp_path / "config.json"
    path.write_text(GroupViTConfig.from_dict(base).to_json_string())
    voc = tmp_path / "voc"
    assert main(["shapes", str(voc), "--scenes", "2", "--seed", "2", "--layout", "voc", "--size", "32"]) == 0
    for option in (["--eval-data", str(voc)], ["--grouped-multi-label"]):
        assert _train(data, str(path), tmp_path / "run", "--steps", "2", *option) == 1
        assert f"{option[0]} need a vision config with a grouping stage" in capsys.readouterr().err
        assert not (tmp_path / "run").exists()
