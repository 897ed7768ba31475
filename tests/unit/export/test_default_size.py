"""Every format at the default size (55.7 M parameters, random weights): `groupvit verify` on the export
passes (every output within the equivalence tolerances of eager PyTorch, hard decisions identical where
the margin is clear), on two images of other sizes too where the format is dynamic."""

import numpy as np
import pytest

from groupvit.configs import GroupViTConfig
from groupvit.equivalence.runner import Inputs, compare_outputs, run_pytorch
from groupvit.export import export_checkpoint
from groupvit.export.check import run_export
from groupvit.export.torch_graphs import eager_model
from groupvit.random_checkpoint import random_weights

KINDS = [("onnx", "full"), ("onnx", "towers"), ("torch-export", "full"), ("saved-model", "full")]


@pytest.fixture(scope="module")
def default_checkpoint(tmp_path_factory):
    from groupvit.weights_bridge import save_checkpoint

    config = GroupViTConfig()
    weights = random_weights(config, 0)
    folder = tmp_path_factory.mktemp("default")
    save_checkpoint(config, weights, folder)
    return str(folder), eager_model(config, weights)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: "-".join(k))
def test_default_size_export_verifies(default_checkpoint, tmp_path, capsys, kind):
    from groupvit.cli import main

    source, model = default_checkpoint
    out = export_checkpoint(source, tmp_path / "export", format=kind[0], parts=kind[1])
    assert main(["verify", out]) == 0
    report = capsys.readouterr().out
    assert "OK:" in report and ("segmentation map" in report or "hard assignment 1" in report)
    if kind[0] == "saved-model":
        return
    rng = np.random.default_rng(3)  # dynamic formats: a batch of two 160 x 256 images, 5 texts of 12 tokens
    ids = rng.integers(1, 49405, (5, 12)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 49406, 49407
    inputs = Inputs(rng.standard_normal((2, 3, 160, 256)).astype(np.float32), ids, np.ones_like(ids), True)
    reference, other = run_pytorch(model, inputs), run_export(out, inputs)
    rows = compare_outputs({k: reference[k] for k in other}, other, context=reference)
    assert all(row.ok for row in rows), "\n".join(row.format() for row in rows if not row.ok)
