"""`groupvit train --backend tf` end to end (no torch): loss falls, checkpoints load, resume is exact."""

import json
import os
import shutil

import numpy as np

from groupvit.cli import main
from groupvit.tf import TFGroupViTModel
from groupvit.weights_bridge.safetensors_io import read_safetensors
from train_data import tiny_train_config, with_listing_skips, write_colour_dataset

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


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _launch_workers(args, out):
    """Two `groupvit train` processes of one MultiWorkerMirroredStrategy cluster (TF_CONFIG, localhost)."""
    import subprocess
    import sys

    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    procs = []
    for index in range(2):
        env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3",
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen([sys.executable, "-m", "groupvit", "train", *args, "--out", str(out)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def _random_init(tmp_path, data, config):
    """Seeded random weights (well-separated group tokens, so 2 workers and 1 process take the same hard
    assignments) with the tokenizer of a 1-step run."""
    from groupvit.configs import GroupViTConfig
    from groupvit.random_checkpoint import random_weights
    from groupvit.weights_bridge import save_checkpoint

    seed_run = tmp_path / "seed-run"
    assert main(["train", "--data", data, "--config", config, *BASE, "--steps", "1", "--out", str(seed_run)]) == 0
    trained = GroupViTConfig.from_pretrained(seed_run)
    save_checkpoint(trained, random_weights(trained, 0), tmp_path / "init", format="safetensors")
    for name in ("tokenizer.json", "special_tokens_map.json"):
        shutil.copy(seed_run / name, tmp_path / "init" / name)
    return str(tmp_path / "init")


def test_two_workers_with_the_grouped_loss_equal_one_process_and_stop_together(tmp_path):
    """MultiWorkerMirroredStrategy refused the grouped loss's gather of a raw input ("destinations can not be
    empty"); and a SIGTERM that reached one worker only made it start the save's gather alone (a collective
    mismatch, no checkpoint). With samples the listing skips, each log line counts every worker's skips."""
    import signal
    import time

    data = with_listing_skips(write_colour_dataset(tmp_path / "data"), tmp_path / "bad")
    config = tiny_train_config(tmp_path / "config.json")
    init = _random_init(tmp_path, data, config)
    base = [a for a in BASE if a not in ("--tokenizer-vocab", "600")]
    # batch 6: the second epoch (16 usable samples) starts inside worker 1's rows, which count its listing skips
    args = ["--data", data, "--init", init, *base, "--batch-size", "6", "--grouped-multi-label", "--steps", "5"]
    assert main(["train", *args, "--out", str(tmp_path / "single")]) == 0
    procs = _launch_workers(args, tmp_path / "dist")
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    np.testing.assert_allclose([r["loss"] for r in _log(tmp_path / "dist")],
                               [r["loss"] for r in _log(tmp_path / "single")], rtol=2e-5, atol=2e-6)
    assert [r["skipped"] for r in _log(tmp_path / "dist")] == [r["skipped"] for r in _log(tmp_path / "single")]
    summaries = [json.loads((tmp_path / out / "summary.json").read_text())["skipped"] for out in ("dist", "single")]
    assert summaries[0] == summaries[1] and sum(summaries[0].values()) >= 3

    stopped = tmp_path / "stopped"
    procs = _launch_workers([*args[:-1], "400", "--save-every", "1000"], stopped)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((stopped / "log.jsonl").exists()
                                               and len((stopped / "log.jsonl").read_text().splitlines()) >= 3):
        time.sleep(0.1)
    procs[0].send_signal(signal.SIGTERM)  # the other worker gets no signal
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [143, 143], errors[0][-2000:] + errors[1][-2000:]
    assert len(os.listdir(stopped / "checkpoints")) == 1


def test_model_fit_runs_under_multi_worker_mirrored_strategy():
    """Keras' fit first averaged a dict batch over the workers, which MultiWorkerMirroredStrategy cannot do
    ("unsupported type <class 'dict'>"): the README's `model.fit` under TF_CONFIG failed before its first step."""
    import subprocess
    import sys

    script = os.path.join(os.path.dirname(__file__), "fit_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    single = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-2000:]
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    procs = [subprocess.Popen([sys.executable, script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(env, TF_CONFIG=json.dumps({"cluster": cluster,
                                                                  "task": {"type": "worker", "index": i}})))
             for i in range(2)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    expected = json.loads(single.stdout.strip().splitlines()[-1])
    for out, _ in outputs:  # each worker logs the losses one process logs
        np.testing.assert_allclose(json.loads(out.strip().splitlines()[-1]), expected, rtol=2e-5, atol=2e-6)
