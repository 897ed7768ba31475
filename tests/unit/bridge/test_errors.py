"""Clear, specific errors: foreign and truncated files, wrong model, missing and mis-shaped tensors."""

import h5py
import numpy as np
import pytest

from groupvit.weights_bridge import (
    CheckpointFormatError,
    CheckpointMismatchError,
    convert,
    load_checkpoint,
    save_checkpoint,
)
from tiny_configs import tiny_config


def test_text_file_named_model_safetensors(tmp_path, config):
    (tmp_path / "model.safetensors").write_text("hello, I am not a tensor file\n")
    config.save_pretrained(tmp_path)
    with pytest.raises(CheckpointFormatError, match=r"model\.safetensors must be a safetensors file"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("format, name", [("safetensors", "model.safetensors"), ("h5", "tf_model.h5")])
def test_truncated_files(tmp_path, config, weights, format, name):
    save_checkpoint(config, weights, tmp_path, format=format)
    path = tmp_path / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CheckpointFormatError, match=name):
        load_checkpoint(tmp_path)


def test_h5_that_is_not_a_keras_weights_file(tmp_path, config):
    config.save_pretrained(tmp_path)
    with h5py.File(tmp_path / "tf_model.h5", "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(CheckpointFormatError, match="layer_names"):
        load_checkpoint(tmp_path)


def test_checkpoint_of_another_config(tmp_path, config, weights):
    save_checkpoint(config, weights, tmp_path)
    other = tiny_config(text={"hidden_size": 48})
    with pytest.raises(CheckpointMismatchError, match="different config") as info:
        load_checkpoint(tmp_path, config=other)
    assert ("text_model.final_layer_norm.weight", (48,), (32,)) in info.value.mis_shaped
    assert "text_model.embeddings.token_embedding.weight (expected (99, 48), received (99, 32))" in str(info.value)


def test_checkpoint_of_another_stage_layout(tmp_path, config, weights):
    save_checkpoint(config, weights, tmp_path, format="h5")
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(tmp_path, config=tiny_config("two_stage"))
    assert info.value.missing and info.value.unexpected


def test_missing_tensor(tmp_path, config, weights):
    del weights["vision_model.layernorm.bias"]
    with pytest.raises(CheckpointMismatchError, match=r"missing 1: vision_model\.layernorm\.bias") as info:
        save_checkpoint(config, weights, tmp_path / "out")
    assert not info.value.unexpected and not info.value.mis_shaped
    assert not (tmp_path / "out").exists()


def test_mis_shaped_tensor(tmp_path, config, weights):
    weights["text_model.encoder.layers.1.mlp.fc1.weight"] = np.zeros((37, 31), np.float32)
    with pytest.raises(CheckpointMismatchError) as info:
        save_checkpoint(config, weights, tmp_path / "out")
    assert "text_model.encoder.layers.1.mlp.fc1.weight (expected (37, 32), received (37, 31))" in str(info.value)
    assert not info.value.missing and not info.value.unexpected


def test_unexpected_tensor_but_position_ids_is_allowed(tmp_path, config, weights):
    weights["text_model.embeddings.position_ids"] = np.arange(16)[None]
    save_checkpoint(config, weights, tmp_path / "ok")
    weights["extra.weight"] = np.zeros(2, np.float32)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected 1: extra\.weight"):
        save_checkpoint(config, weights, tmp_path / "bad")


def test_failed_conversion_leaves_no_file_behind(tmp_path, config, weights, monkeypatch):
    save_checkpoint(config, weights, tmp_path / "src")
    import groupvit.weights_bridge.keras2_h5 as keras2_h5

    real = keras2_h5.np.asarray
    calls = {"n": 0}

    def failing_asarray(value, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return real(value, *args, **kwargs)

    monkeypatch.setattr(keras2_h5.np, "asarray", failing_asarray)
    with pytest.raises(KeyboardInterrupt):
        convert(tmp_path / "src", tmp_path / "dst", format="h5")
    monkeypatch.undo()
    assert not (tmp_path / "dst").exists()
    (tmp_path / "dst2").mkdir()
    (tmp_path / "dst2" / "notes.txt").write_text("keep me")
    (tmp_path / "src" / "model.safetensors").write_bytes(b"broken")
    with pytest.raises(CheckpointFormatError):
        convert(tmp_path / "src", tmp_path / "dst2", format="h5")
    assert sorted(p.name for p in (tmp_path / "dst2").iterdir()) == ["notes.txt"]


def test_directory_without_weights(tmp_path, config):
    config.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_checkpoint(tmp_path)


def test_weight_file_without_config(tmp_path, config, weights):
    save_checkpoint(config, weights, tmp_path / "model.safetensors")
    with pytest.raises(FileNotFoundError, match="needs a config"):
        load_checkpoint(tmp_path / "model.safetensors")
    loaded_config, _ = load_checkpoint(tmp_path / "model.safetensors", config=config)
    assert loaded_config == config


def test_tower_only_config_is_refused_by_name(tmp_path, config, weights):
    save_checkpoint(config, weights, tmp_path)
    config.text_config.save_pretrained(tmp_path / "text")
    with pytest.raises(ValueError, match="model_type 'groupvit'. Received: model_type='groupvit_text_model'"):
        load_checkpoint(tmp_path, config=tmp_path / "text" / "config.json")
    with pytest.raises(TypeError, match="config must be a GroupViTConfig"):
        load_checkpoint(tmp_path, config=config.text_config)
