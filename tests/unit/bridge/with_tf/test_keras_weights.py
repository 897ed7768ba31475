"""The `keras` format: a Keras 3 model.weights.h5 written by our TFGroupViTModel (tf environment only)."""

import groupvit.tf  # noqa: F401

from bridge_helpers import assert_same_weights  # noqa: E402
from groupvit.weights_bridge import convert, load_checkpoint  # noqa: E402


def test_convert_to_keras_weights_and_back(tmp_path, checkpoint_dir, weights):
    result = convert(checkpoint_dir, tmp_path / "keras", format="keras")
    assert result.format == "keras"
    assert sorted(p.name for p in (tmp_path / "keras").iterdir()) == [
        "config.json",
        "model.weights.h5",
        "tokenizer_config.json",
    ]
    convert(tmp_path / "keras", tmp_path / "back")
    _, loaded = load_checkpoint(tmp_path / "back")
    assert_same_weights(weights, loaded, skip_counters=True)


def test_our_keras_model_loads_the_canonical_weights(checkpoint_dir, weights):
    from groupvit.tf import TFGroupViTModel

    config, canonical = load_checkpoint(checkpoint_dir)
    model = TFGroupViTModel(config)
    model.assign_numpy(canonical)
    assert_same_weights({k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}, model.to_numpy())


def test_the_convert_cli_supplies_the_keras_format_by_itself(tmp_path, checkpoint_dir, weights):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "groupvit", "convert", str(checkpoint_dir), str(tmp_path / "k"),
                           "--format", "keras"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    back = subprocess.run([sys.executable, "-m", "groupvit", "convert", str(tmp_path / "k"), str(tmp_path / "s"),
                           "--format", "safetensors"], capture_output=True, text=True, timeout=300)
    assert back.returncode == 0, back.stderr[-2000:]
    _, loaded = load_checkpoint(tmp_path / "s")
    assert_same_weights(loaded, weights, skip_counters=True)  # Keras keeps no BatchNorm step counter
