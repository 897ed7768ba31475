"""safetensors and old-port h5 round trips, bit for bit (numpy only: runs without torch and TF)."""

import time

import h5py
import numpy as np
import pytest

from bridge_helpers import assert_same_weights, random_weights
from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge import convert, load_checkpoint, save_checkpoint
from groupvit.weights_bridge.h5_names import tf_name


def test_safetensors_round_trip_is_exact(tmp_path, config, weights):
    save_checkpoint(config, weights, tmp_path / "ckpt")
    loaded_config, loaded = load_checkpoint(tmp_path / "ckpt")
    assert loaded_config == config
    assert_same_weights(weights, loaded)
    assert loaded["logit_scale"].shape == ()


def test_safetensors_without_batchnorm_counters_reads_them_as_zero(tmp_path, config, weights):
    """As written by a Keras model's to_numpy(), which has no num_batches_tracked."""
    from groupvit.weights_bridge.safetensors_io import write_safetensors

    config.save_pretrained(tmp_path)
    write_safetensors(
        {k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}, tmp_path / "model.safetensors"
    )
    _, loaded = load_checkpoint(tmp_path)
    assert_same_weights(weights, loaded, skip_counters=True)
    assert loaded["text_projection.1.num_batches_tracked"].dtype == np.int64


def test_h5_round_trip_is_exact_but_the_batchnorm_counter(tmp_path, config, weights):
    save_checkpoint(config, weights, tmp_path / "ckpt", format="h5")
    assert (tmp_path / "ckpt" / "tf_model.h5").is_file()
    _, loaded = load_checkpoint(tmp_path / "ckpt")
    assert_same_weights(weights, loaded, skip_counters=True)
    assert loaded["visual_projection.1.num_batches_tracked"] == 0  # no TF twin: reset, as the port does


def test_h5_layout_is_the_old_ports(tmp_path, config, weights):
    path = tmp_path / "tf_model.h5"
    save_checkpoint(config, weights, path)
    with h5py.File(path, "r") as f:
        assert list(f.attrs["layer_names"]) == ["groupvit"]
        assert f.attrs["backend"] == "tensorflow"
        names = list(f["groupvit"].attrs["weight_names"])
        assert names[0] == "tf_group_vi_t_model/groupvit/logit_scale:0"
        assert f["groupvit/tf_group_vi_t_model/groupvit/logit_scale:0"].shape == (1,)
        q = "tf_group_vi_t_model/groupvit/vision_model/encoder/stages_._0/layers_._0/self_attn/q_proj/kernel:0"
        np.testing.assert_array_equal(
            f["groupvit"][q][()], weights["vision_model.encoder.stages.0.layers.0.self_attn.q_proj.weight"].T
        )
        conv = "tf_group_vi_t_model/groupvit/vision_model/embeddings/patch_embeddings/projection/kernel:0"
        w = weights["vision_model.embeddings.patch_embeddings.projection.weight"]
        np.testing.assert_array_equal(f["groupvit"][conv][()], w.transpose(2, 3, 1, 0))
        assert "tf_group_vi_t_model/groupvit/text_projection.1/moving_variance:0" in names
        assert not any("num_batches_tracked" in n for n in names)


@pytest.mark.parametrize(
    "key, name",
    [
        (
            "vision_model.encoder.stages.1.group_projector.0.weight",
            "vision_model/encoder/stages_._1/group_projector.0/gamma",
        ),
        (
            "vision_model.encoder.stages.1.group_projector.1.fc2.weight",
            "vision_model/encoder/stages_._1/group_projector.1/fc2/kernel",
        ),
        ("text_model.embeddings.token_embedding.weight", "text_model/embeddings/token_embedding/weight"),
        ("text_model.embeddings.position_embedding.weight", "text_model/embeddings/position_embedding/embeddings"),
        ("visual_projection.1.running_mean", "visual_projection.1/moving_mean"),
        ("text_projection.1.num_batches_tracked", None),
        ("vision_model.embeddings.position_embeddings", "vision_model/embeddings/position_embeddings"),
    ],
)
def test_h5_name_table(key, name):
    assert tf_name(key)[0] == name


def test_h5_name_table_refuses_unknown_modules():
    with pytest.raises(ValueError, match="h5 name table"):
        tf_name("vision_model.encoder.stages.0.mystery.weight")


def test_default_size_pt_h5_pt_and_convert_acceptance(tmp_path):
    """Default config (55.7 M parameters): dir -> h5 -> safetensors reproduces every tensor, each step < 5 s."""
    config = GroupViTConfig()
    weights = random_weights(config, seed=1)
    save_checkpoint(config, weights, tmp_path / "src")
    start = time.perf_counter()
    to_h5 = convert(tmp_path / "src", tmp_path / "out_h5", format="h5")
    back = convert(tmp_path / "out_h5", tmp_path / "back", format="safetensors")
    total = time.perf_counter() - start
    _, loaded = load_checkpoint(tmp_path / "back")
    assert_same_weights(weights, loaded, skip_counters=True)
    assert to_h5.parameters == 55_726_609 and to_h5.tensors == len(weights)
    assert to_h5.seconds < 5 and back.seconds < 5, (to_h5.seconds, back.seconds, total)
    print(f"default-size convert: safetensors->h5 {to_h5.seconds:.2f} s, h5->safetensors {back.seconds:.2f} s")


def test_safetensors_files_get_the_mode_the_umask_gives_every_other_file(tmp_path, config, weights):
    """safetensors 0.8 writes 0600 whatever the umask: a model others on the machine could not read."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        save_checkpoint(config, weights, tmp_path / "ckpt")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "ckpt" / "model.safetensors").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == 0o644
