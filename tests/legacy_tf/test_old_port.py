"""Files we write load in the old Keras 2 TensorFlow port (transformers 4.57 + tf-keras).

Runs in the legacy-tf tox environment only (transformers 4.57 with TensorFlow, tf-keras, Keras 3).
"""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import transformers  # noqa: E402

from groupvit.tf import TFGroupViTModel  # noqa: E402
from groupvit.weights_bridge import convert, load_checkpoint, save_checkpoint  # noqa: E402

assert hasattr(transformers, "TFGroupViTModel"), "the legacy-tf environment needs transformers 4.57 with TensorFlow"

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_tf"
FLAGS = dict(output_attentions=False, output_hidden_states=False, return_dict=True)
INPUT_NAMES = ("input_ids", "attention_mask", "pixel_values")


@pytest.fixture(scope="module")
def fixture_outputs():
    return dict(np.load(FIXTURE / "outputs.npz"))


@pytest.fixture(scope="module")
def port_reference(fixture_outputs):
    """The port's outputs on the port's own tf_model.h5, in this run: what a file we write must reproduce bit for
    bit. (outputs.npz was computed once, by other library versions: today's port differs from it by an ulp.)"""
    return port_outputs(transformers.TFGroupViTModel.from_pretrained(FIXTURE), fixture_outputs)


def test_the_port_on_its_own_file_still_gives_the_stored_outputs(port_reference, fixture_outputs):
    for name, value in port_reference.items():
        np.testing.assert_allclose(value, fixture_outputs[name], rtol=1e-6, atol=1e-6, err_msg=name)


def port_outputs(model, data):
    out = model(**{k: data[k] for k in INPUT_NAMES}, training=False)
    return {"logits_per_image": out.logits_per_image.numpy(), "text_embeds": out.text_embeds.numpy(),
            "image_embeds": out.image_embeds.numpy()}


def test_our_tf_model_h5_loads_in_the_port_and_gives_its_outputs(tmp_path, fixture_outputs, port_reference):
    config, weights = load_checkpoint(FIXTURE)
    save_checkpoint(config, weights, tmp_path / "ours", format="h5")
    model = transformers.TFGroupViTModel.from_pretrained(tmp_path / "ours")
    got = port_outputs(model, fixture_outputs)
    for name, value in got.items():
        np.testing.assert_array_equal(value, port_reference[name], err_msg=name)


def test_round_trip_through_safetensors_then_h5_loads_in_the_port(tmp_path, fixture_outputs, port_reference):
    convert(FIXTURE, tmp_path / "st")
    convert(tmp_path / "st", tmp_path / "h5", format="h5")
    model = transformers.TFGroupViTModel.from_pretrained(tmp_path / "h5")
    np.testing.assert_array_equal(port_outputs(model, fixture_outputs)["logits_per_image"],
                                  port_reference["logits_per_image"])


@pytest.mark.parametrize("cls_name, tower", [("TFGroupViTTextModel", "text"), ("TFGroupViTVisionModel", "vision")])
def test_tower_models_of_the_port_load_our_full_model_file(tmp_path, cls_name, tower, fixture_outputs):
    """The port's tower classes read a full-model tf_model.h5 (their names sit under the same `groupvit/`)."""
    config, weights = load_checkpoint(FIXTURE)
    save_checkpoint(config, weights, tmp_path / "ours", format="h5")
    full = transformers.TFGroupViTModel.from_pretrained(tmp_path / "ours")
    tower_model = getattr(transformers, cls_name).from_pretrained(tmp_path / "ours")
    if tower == "text":
        kwargs = {k: fixture_outputs[k] for k in ("input_ids", "attention_mask")}
        expected = full.groupvit.text_model(**kwargs, position_ids=None, **FLAGS).pooler_output.numpy()
    else:
        kwargs = {"pixel_values": fixture_outputs["pixel_values"]}
        expected = full.groupvit.vision_model(**kwargs, **FLAGS).pooler_output.numpy()
    np.testing.assert_array_equal(tower_model(**kwargs).pooler_output.numpy(), expected)


def test_our_keras3_model_agrees_with_the_port(fixture_outputs):
    """Same weights in our Keras 3 TFGroupViTModel and the port: logits to 1e-5."""
    config, weights = load_checkpoint(FIXTURE)
    model = TFGroupViTModel(config)
    model.assign_numpy(weights)
    out = model(**{k: fixture_outputs[k] for k in INPUT_NAMES}, training=False)
    logits = np.asarray(out["logits_per_image"] if isinstance(out, dict) else out.logits_per_image)
    np.testing.assert_allclose(logits, fixture_outputs["logits_per_image"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("how, index", [("sharded h5", "tf_model.h5.index.json"),
                                        ("safetensors", None),
                                        ("sharded safetensors", "model.safetensors.index.json")])
def test_what_the_port_saves_sharded_or_as_safetensors_reads_as_its_tf_model_h5(tmp_path, how, index, fixture_outputs,
                                                                                 port_reference):
    """The port's save_pretrained(max_shard_size=...) writes tf_model.h5.index.json + shards whose datasets drop
    the model's scope; with safe_serialization=True it writes its own variable names and layouts into
    model.safetensors (metadata format "tf"), sharded or not. All read as the port's unsharded file."""
    port = transformers.TFGroupViTModel.from_pretrained(FIXTURE)
    kwargs = {"safe_serialization": "safetensors" in how}
    if "sharded" in how:
        kwargs["max_shard_size"] = "100KB"
    port.save_pretrained(tmp_path / "saved", **kwargs)
    files = sorted(p.name for p in (tmp_path / "saved").iterdir())
    assert (index or "model.safetensors") in files and len(files) > (3 if index else 1), files
    _, expected = load_checkpoint(FIXTURE)
    _, got = load_checkpoint(tmp_path / "saved")
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
    ours = TFGroupViTModel.from_pretrained(tmp_path / "saved")
    out = ours(**{k: fixture_outputs[k] for k in INPUT_NAMES})
    np.testing.assert_allclose(out.logits_per_image.numpy(), port_reference["logits_per_image"], rtol=1e-5, atol=1e-5)


def test_our_keras_save_pretrained_as_the_port_writes_loads_in_the_port(tmp_path, fixture_outputs, port_reference):
    """safe_serialization=False: tf_model.h5, the port's own default; the port reads it and answers as on its file."""
    ours = TFGroupViTModel.from_pretrained(FIXTURE)
    ours.save_pretrained(tmp_path / "ours", safe_serialization=False)
    model = transformers.TFGroupViTModel.from_pretrained(tmp_path / "ours")
    got = port_outputs(model, fixture_outputs)
    for name, value in got.items():
        np.testing.assert_array_equal(value, port_reference[name], err_msg=name)


@pytest.mark.parametrize("tower", ["text", "vision"])
@pytest.mark.parametrize("how", ["h5", "sharded h5", "safetensors"])
def test_a_tower_the_port_saved_alone_loads_in_our_tower_model(tmp_path, tower, how, fixture_outputs):
    """The port's TFGroupViTTextModel / TFGroupViTVisionModel save their own checkpoint (model_type
    groupvit_text_model / groupvit_vision_model, the same `groupvit/` names); our towers refused it (they read
    PyTorch files only for a tower's own checkpoint)."""
    from groupvit.tf import TFGroupViTTextModel, TFGroupViTVisionModel

    config, _ = load_checkpoint(FIXTURE)
    port_class = {"text": transformers.TFGroupViTTextModel, "vision": transformers.TFGroupViTVisionModel}[tower]
    ours_class = {"text": TFGroupViTTextModel, "vision": TFGroupViTVisionModel}[tower]
    sub = {"text": config.text_config, "vision": config.vision_config}[tower].to_dict()
    port_config = {"text": transformers.GroupViTTextConfig, "vision": transformers.GroupViTVisionConfig}[tower](**sub)
    inputs = ({k: fixture_outputs[k] for k in ("input_ids", "attention_mask")} if tower == "text"
              else {"pixel_values": fixture_outputs["pixel_values"]})
    port = port_class(port_config)
    expected = port(**inputs).pooler_output.numpy()
    options = {"h5": {}, "sharded h5": {"max_shard_size": "20KB"}, "safetensors": {"safe_serialization": True}}[how]
    port.save_pretrained(tmp_path / "tower", **options)
    ours = ours_class.from_pretrained(tmp_path / "tower")
    got = ours(**inputs).pooler_output.numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
