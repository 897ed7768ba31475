"""Zero-shot segmentation on onnxruntime and numpy alone: run where neither torch nor TensorFlow is installed
(tox env onnx-runtime). The exports and eager PyTorch's answers on them are tests/fixtures/onnx_tiny/
(tests/fixtures/scripts/make_onnx_fixture.py; the export environment checks that they are current)."""

import importlib.util
import json
import os
import sys

import numpy as np
import pytest

from groupvit.cli import main
from groupvit.export.runtime import OnnxGroupViT
from groupvit.segmentation.loading import load_segmenter

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "onnx_tiny")
sys.path.insert(0, os.path.join(FIXTURE, "..", "scripts"))
from make_onnx_fixture import IMAGE_HW, LABELS, SHORT_SIDE, STRIDE, WINDOW  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(os.path.join(FIXTURE, "reference.npz")))


def test_no_framework_is_installed():
    assert importlib.util.find_spec("torch") is None and importlib.util.find_spec("tensorflow") is None


@pytest.mark.parametrize("mode", ["whole", "slide"])
def test_segmenter_on_onnxruntime_gives_pytorch_labels(reference, mode):
    from groupvit.random_checkpoint import example_image

    segmenter = load_segmenter(os.path.join(FIXTURE, "towers"), "onnx", short_side=SHORT_SIDE)
    result = segmenter.segment(example_image(*IMAGE_HW), LABELS, mode=mode, window=WINDOW, stride=STRIDE)[0]
    assert np.array_equal(result.labels, reference[f"{mode}_labels"])
    np.testing.assert_allclose(result.scores, reference[f"{mode}_scores"], atol=1e-5)
    assert "torch" not in sys.modules and "tensorflow" not in sys.modules


def test_full_graph_gives_pytorch_outputs(reference):
    model = OnnxGroupViT(os.path.join(FIXTURE, "full"))
    out = model(**{k[len("input_"):]: v for k, v in reference.items() if k.startswith("input_")})
    for name in ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds", "segmentation_logits"):
        scale = max(1.0, float(np.abs(reference[name]).max()))
        np.testing.assert_allclose(out[name], reference[name], atol=1e-5 * scale, err_msg=name)
    assert np.array_equal(out["segmentation_logits"].argmax(1), reference["segmentation_logits"].argmax(1))


def test_segment_command_with_backend_onnx(reference, tmp_path):
    from PIL import Image

    from groupvit.png import write_png
    from groupvit.random_checkpoint import example_image

    write_png(str(tmp_path / "scene.png"), example_image(*IMAGE_HW))
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "scene.png"), "--checkpoint", os.path.join(FIXTURE, "towers"),
                 "--labels", ",".join(LABELS), "--backend", "onnx", "--mode", "slide", "--short-side",
                 str(SHORT_SIDE), "--window", str(WINDOW), "--stride", str(STRIDE), "--out", str(out)]) == 0
    labels = np.asarray(Image.open(out / "scene_labels.png"))
    assert np.array_equal(labels, reference["slide_labels"])
    assert json.load(open(out / "scene.json"))["backend"] == "onnx"


def test_verify_needs_torch_and_says_so(capsys):
    assert main(["verify", os.path.join(FIXTURE, "towers")]) == 1
    assert "compares an export with eager PyTorch, which needs torch" in capsys.readouterr().err
