"""`groupvit verify`: passes on a default-size checkpoint, fails when one backend's copy is perturbed."""

import numpy as np
import pytest

from groupvit.cli import main
from groupvit.configs import GroupViTConfig
from groupvit.equivalence import runner
from groupvit.random_checkpoint import random_weights
from groupvit.weights_bridge import convert, save_checkpoint


@pytest.fixture(scope="module")
def default_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    config = GroupViTConfig()
    save_checkpoint(config, random_weights(config, seed=3), root / "pt")
    convert(root / "pt", root / "h5", format="h5")
    return root


def test_verify_default_size_h5_checkpoint_passes(default_checkpoint, capsys):
    out_dir = default_checkpoint / "maps"
    assert main(["verify", str(default_checkpoint / "h5"), "--out", str(out_dir)]) == 0
    printed = capsys.readouterr().out
    assert "segmentation map (argmax over texts)" in printed and "OK:" in printed
    assert (out_dir / "segmentation_pt_vs_tf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "key", ["vision_model.encoder.stages.1.layers.0.mlp.fc2.bias", "text_projection.1.running_var"]
)
def test_one_perturbed_tensor_in_one_backend_fails(default_checkpoint, monkeypatch, capsys, key):
    real_build = runner.build_models

    def perturbed_build(config, weights):
        pt_model, tf_model = real_build(config, weights)
        changed = dict(tf_model.to_numpy())
        # one entry only, after loading, in the Keras copy only (adding the same amount to every
        # channel of a bias would be invisible: the LayerNorms downstream remove it)
        changed[key] = changed[key].copy()
        changed[key][0] += np.float32(0.05)
        tf_model.assign_numpy(changed)
        return pt_model, tf_model

    monkeypatch.setattr("groupvit.cli.verify.build_models", perturbed_build)
    assert main(["verify", str(default_checkpoint / "pt")]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "FAIL" in captured.out


@pytest.mark.parametrize("case", ["short_text", "one_channel", "no_grouping_stage", "no_grid"])
def test_verify_runs_on_any_valid_config(tmp_path, capsys, case):
    """The built-in picture and captions fit the checkpoint: texts of at most max_position_embeddings tokens (they
    were 8 long), the picture in the model's channels (always RGB), and no segmentation maps asked of a model
    without a grouping stage (each of the three refused a valid checkpoint the old Keras 2 port runs)."""
    from tiny_configs import tiny_config

    config = {"short_text": lambda: tiny_config(text={"max_position_embeddings": 6}),
              "one_channel": lambda: tiny_config(vision={"num_channels": 1}),
              # 11 x 11 tokens of patch 2 in 23 x 23 px: the reference grid rule reads no grid (no maps to compare)
              "no_grid": lambda: tiny_config(vision={"image_size": 23, "patch_size": 2}),
              "no_grouping_stage": lambda: GroupViTConfig.from_dict({
                  **tiny_config().to_dict(),
                  "vision_config": {**tiny_config().vision_config.to_dict(), "depths": [2], "num_group_tokens": [0],
                                    "num_output_groups": [0], "num_hidden_layers": 2}})}[case]()
    save_checkpoint(config, random_weights(config, seed=5), tmp_path / "ckpt")
    code = main(["verify", str(tmp_path / "ckpt")])
    printed = capsys.readouterr()
    assert code == 0, printed.out[-3000:] + printed.err[-2000:]
    assert "OK:" in printed.out
    assert ("segmentation map (argmax over texts)" in printed.out) == (case not in ("no_grouping_stage", "no_grid"))


def test_verify_refuses_a_file_as_out_before_comparing(tmp_path, capsys, monkeypatch):
    (tmp_path / "maps").write_text("mine")
    monkeypatch.setattr("groupvit.cli.verify.build_models", lambda *a: pytest.fail("compared before refusing --out"))
    assert main(["verify", "shapes-tiny", "--out", str(tmp_path / "maps")]) != 0
    assert "--out must be a folder" in capsys.readouterr().err
    assert (tmp_path / "maps").read_text() == "mine"
