"""tests/fixtures/onnx_tiny (what the torch-free onnx-runtime environment tests against) is current: its
stored answers are still eager PyTorch's on the checkpoint it was made from, and its graphs still give them."""

import os
import sys

import numpy as np

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "onnx_tiny")
sys.path.insert(0, os.path.join(FIXTURE, "..", "scripts"))
from make_onnx_fixture import reference_answers, write_source  # noqa: E402


def test_fixture_answers_are_eager_pytorch(tmp_path):
    write_source(str(tmp_path / "tiny"))
    fresh = reference_answers(str(tmp_path / "tiny"))
    stored = dict(np.load(os.path.join(FIXTURE, "reference.npz")))
    assert sorted(fresh) == sorted(stored)
    for name, value in fresh.items():
        if name.endswith("_labels") or name.startswith("input_"):
            assert np.array_equal(value, stored[name]), name
        else:
            np.testing.assert_allclose(value, stored[name], atol=1e-5, rtol=1e-5, err_msg=name)


def test_fixture_graphs_reproduce_eager_on_the_fixture_checkpoint(tmp_path, capsys):
    from groupvit.cli import main

    source = str(tmp_path / "tiny")
    write_source(source)
    for parts in ("towers", "full"):
        assert main(["verify", os.path.join(FIXTURE, parts), "--reference", source]) == 0
    assert capsys.readouterr().out.count("OK:") == 2
