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
