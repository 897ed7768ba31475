"""Each export format against eager PyTorch on the same checkpoint: every output within the equivalence
tolerances, hard decisions (group assignments, segmentation map) identical wherever the margin is clear;
dynamic batch, text count and length, and image sizes; reloaded in a fresh process."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from groupvit.equivalence.runner import Inputs, compare_outputs, run_pytorch
from groupvit.export.check import padded, run_export
from groupvit.export.torch_graphs import eager_model
from groupvit.weights_bridge import load_checkpoint

# (images, height, width, texts, length): the trained size, portrait, landscape, one image and text of 2 tokens
SHAPES = [(2, 30, 30, 3, 9), (3, 36, 24, 5, 16), (1, 21, 45, 1, 2)]


def make_inputs(config, images, height, width, texts, length, seed=0) -> Inputs:
    rng = np.random.default_rng(seed)
    text = config.text_config
    ids = rng.integers(0, text.vocab_size - 2, (texts, length)).astype(np.int64)
    mask = np.ones_like(ids)
    for row in range(texts):
        end = max(1, length - 1 - row % 3)
        ids[row, 0], ids[row, end] = text.bos_token_id, text.eos_token_id
        ids[row, end + 1:], mask[row, end + 1:] = text.pad_token_id, 0
    pixels = rng.standard_normal((images, 3, height, width)).astype(np.float32)
    return Inputs(pixels, ids, mask, interpolate_pos_encoding=True)


def assert_agree(reference, other):
    rows = compare_outputs({k: reference[k] for k in other}, other, context=reference)
    bad = [row.format() for row in rows if not row.ok]
    assert not bad, "\n".join(bad)
    names = {row.name for row in rows}
    assert set(other) <= names
    return rows


@pytest.fixture(scope="module")
def eager(tiny_checkpoint):
    config, weights = load_checkpoint(tiny_checkpoint)
    return config, eager_model(config, weights)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kind", [("onnx", "full"), ("onnx", "towers"), ("torch-export", "full")],
                         ids=lambda k: "-".join(k))
def test_dynamic_export_matches_eager(exports, eager, kind, shape):
    config, model = eager
    inputs = make_inputs(config, *shape)
    other = run_export(exports[kind], inputs)
    expected = {"full": {"logits_per_image", "logits_per_text", "text_embeds", "image_embeds", "segmentation_logits"},
                "towers": {"image_features", "group_features", "text_features", "vision.attentions.0",
                           "vision.attentions.1"}}[kind[1]]
    assert set(other) == expected
    rows = assert_agree(run_pytorch(model, inputs), other)
    hard = [row for row in rows if row.agreement is not None]
    assert hard and all(row.disagreements in (0, None) for row in hard)


def test_saved_model_matches_eager_with_dynamic_batch(exports, eager):
    config, model = eager
    record = json.load(open(os.path.join(exports["saved-model", "full"], "export.json")))
    assert record["trace_size"] == [30, 30] and record["text_length"] == 16
    for images, texts in ((1, 1), (4, 3)):
        inputs = make_inputs(config, images, 30, 30, texts, 9, seed=images)
        inputs.interpolate_pos_encoding = False
        inputs = padded(inputs, 16, config.text_config.pad_token_id)
        other = run_export(exports["saved-model", "full"], inputs)
        assert other["segmentation_logits"].shape == (images, texts, 30, 30)
        assert_agree(run_pytorch(model, inputs), other)


FRESH_ONNX = """
import sys, numpy as np, onnxruntime as ort
folder, data, out = sys.argv[1:]
feeds = dict(np.load(data))
session = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
names = [o.name for o in session.get_outputs()]
values = session.run(None, feeds)
assert "torch" not in sys.modules and "groupvit" not in sys.modules, sorted(sys.modules)
np.savez(out, **dict(zip(names, values)))
"""

FRESH_SAVED_MODEL = """
import os, sys, numpy as np
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
folder, data, out = sys.argv[1:]
feeds = {k: tf.constant(v) for k, v in np.load(data).items()}
loaded = tf.saved_model.load(folder)
assert {"image_features", "text_features", "segment"} <= set(loaded.signatures), list(loaded.signatures)
values = {k: v.numpy() for k, v in loaded.signatures["segment"](**feeds).items()}
assert "groupvit" not in sys.modules and "torch" not in sys.modules
np.savez(out, **values)
"""

FRESH_PROGRAM = """
import sys, numpy as np, torch
folder, data, out = sys.argv[1:]
feeds = np.load(data)
program = torch.export.load(folder + "/model.pt2").module()
with torch.no_grad():
    values = program(*(torch.from_numpy(feeds[k]) for k in ("pixel_values", "input_ids", "attention_mask")))
assert "groupvit" not in sys.modules
names = ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds", "segmentation_logits"]
np.savez(out, **{n: v.numpy() for n, v in zip(names, values)})
"""


@pytest.mark.parametrize("kind, script, size", [
    (("onnx", "full"), FRESH_ONNX, (24, 33)),
    (("saved-model", "full"), FRESH_SAVED_MODEL, (30, 30)),
    (("torch-export", "full"), FRESH_PROGRAM, (33, 21)),
], ids=["onnx", "saved-model", "torch-export"])
def test_reloads_in_a_fresh_process_without_groupvit(exports, eager, tmp_path, kind, script, size):
    config, model = eager
    inputs = make_inputs(config, 2, *size, 3, 16, seed=5)
    inputs.interpolate_pos_encoding = size != (30, 30)
    data, out = tmp_path / "in.npz", tmp_path / "out.npz"
    np.savez(data, pixel_values=inputs.pixel_values, input_ids=inputs.input_ids, attention_mask=inputs.attention_mask)
    env = dict(os.environ, PYTHONPATH="")
    done = subprocess.run([sys.executable, "-c", script, exports[kind], str(data), str(out)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_agree(run_pytorch(model, inputs), dict(np.load(out)))


def test_onnx_graph_metadata_says_what_it_takes(exports):
    import onnx

    for name in ("image.onnx", "text.onnx"):
        proto = onnx.load(os.path.join(exports["onnx", "towers"], name))
        props = {p.key: p.value for p in proto.metadata_props}
        assert json.loads(props["groupvit.patch_size"]) == [3, 3] and props["groupvit.parts"] == "towers"
        assert float(props["groupvit.logit_scale"]) == pytest.approx(np.log(10.0))
    record = json.load(open(os.path.join(exports["onnx", "towers"], "export.json")))
    assert record["graphs"]["image"]["outputs"] == ["image_features", "group_features", "soft_maps_stage0",
                                                    "soft_maps_stage1"]
    assert {"config.json", "vocab.json", "merges.txt"} <= set(os.listdir(exports["onnx", "towers"]))
