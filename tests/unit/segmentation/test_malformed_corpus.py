"""A corpus of malformed inputs across every public entry point: the models of both backends,
`from_pretrained`, `load_tokenizer`, `load_checkpoint`, and the `convert`, `verify`, `segment`,
`evaluate`, `train` and `shapes` commands. Each case asserts that the error says what must hold
and what was received, that nothing from a file was executed (a pickle that would create a marker
file), and that no output, whole or half-written, is left behind."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil

import numpy as np
import pytest
from seg_helpers import write_tiny_tokenizer

from groupvit.cli import main as cli_main

WHAT_MUST_HOLD = r"must|needs|expected|should|only"


class _RunsCode:
    """A pickle payload that would create `marker` if anything unpickled it with code execution."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_setup):
    """Files the cases read: a good checkpoint, broken variants of it, images and a VOC-layout set."""
    from PIL import Image

    from groupvit.weights_bridge import save_checkpoint

    root = tmp_path_factory.mktemp("corpus")
    config, weights = tiny_setup
    good = root / "good"
    save_checkpoint(config, weights, good)
    write_tiny_tokenizer(good)

    def variant(name, edit):
        folder = root / name
        shutil.copytree(good, folder)
        edit(folder)
        return folder

    def config_edit(change):
        def edit(folder):
            data = json.loads((folder / "config.json").read_text())
            change(data)
            (folder / "config.json").write_text(json.dumps(data))
        return edit

    marker = root / "MARKER_code_ran"
    evil_bin = {"x": _RunsCode(str(marker))}

    def evil(folder):
        (folder / "model.safetensors").unlink()
        with open(folder / "pytorch_model.bin", "wb") as f:
            pickle.dump(evil_bin, f, protocol=2)

    paths = {
        "good": good,
        "marker": marker,
        "bert": variant("bert", config_edit(lambda d: d.update(model_type="bert"))),
        "bad_json": variant("bad_json", lambda f: (f / "config.json").write_text("{not json")),
        "negative_size": variant("negative_size", config_edit(lambda d: d["vision_config"].update(hidden_size=-4))),
        "bad_heads": variant("bad_heads", config_edit(lambda d: d["text_config"].update(num_attention_heads=5))),
        "no_weights": variant("no_weights", lambda f: (f / "model.safetensors").unlink()),
        "truncated": variant("truncated", lambda f: (f / "model.safetensors").write_bytes(
            (f / "model.safetensors").read_bytes()[:200])),
        "not_weights": variant("not_weights", lambda f: (f / "model.safetensors").write_bytes(b"hello world")),
        "evil": variant("evil", evil),
        "no_tokenizer": variant("no_tokenizer", lambda f: [(f / n).unlink() for n in ("vocab.json", "merges.txt")]),
        "bad_merges": variant("bad_merges", lambda f: (f / "merges.txt").write_text("#version: 0.2\na b c\n")),
    }
    images = root / "images"
    images.mkdir()
    Image.fromarray(np.full((40, 52, 3), 120, np.uint8)).save(images / "ok.png")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "text.txt").write_text("not an image")
    paths.update(images=images, broken_image=images / "broken.png", text_file=root / "text.txt",
                 empty_dir=root / "empty_dir")
    (root / "empty_dir").mkdir()
    voc = root / "voc_missing_split"
    (voc / "JPEGImages").mkdir(parents=True)
    (voc / "SegmentationClass").mkdir()
    paths["voc_missing_split"] = voc
    captions = root / "captions_bad"
    captions.mkdir()
    (captions / "captions.jsonl").write_text("{broken\n")
    paths["captions_bad"] = captions
    captions_empty = root / "captions_empty"
    captions_empty.mkdir()
    (captions_empty / "captions.jsonl").write_text("")
    paths["captions_empty"] = captions_empty
    return paths


def _cli(capsys, *argv) -> str:
    code = cli_main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code != 0, f"exit code 0 for {argv}"
    return err


def _pt_model(tiny_setup):
    from groupvit.pt import GroupViTModel

    model = GroupViTModel(tiny_setup[0])
    return model.eval()


def _tf_model(tiny_setup):
    from groupvit.tf import TFGroupViTModel

    return TFGroupViTModel(tiny_setup[0])


def _inputs(config, batch=2, length=5):
    size = config.vision_config.image_size
    pixels = np.random.default_rng(0).normal(size=(batch, 3, size, size)).astype(np.float32)
    ids = np.ones((batch, length), np.int64)
    return pixels, ids, np.ones_like(ids)


def _model_case(backend, edit):
    def run(tiny_setup):
        pixels, ids, mask = _inputs(tiny_setup[0])
        kwargs = edit(dict(pixel_values=pixels, input_ids=ids, attention_mask=mask))
        if backend == "pt":
            import torch

            model = _pt_model(tiny_setup)
            kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
            with torch.no_grad():
                model(**kwargs)
        else:
            _tf_model(tiny_setup)(**kwargs)
    return run


def _nan(kwargs):
    kwargs["pixel_values"] = kwargs["pixel_values"].copy()
    kwargs["pixel_values"][0, 0, 0, 0] = np.nan
    return kwargs


MODEL_EDITS = {
    "float_ids": lambda k: {**k, "input_ids": k["input_ids"].astype(np.float32)},
    "bool_ids": lambda k: {**k, "input_ids": k["input_ids"].astype(bool)},
    "complex_ids": lambda k: {**k, "input_ids": k["input_ids"].astype(np.complex64)},
    "nan_pixels": _nan,
    "inf_pixels": lambda k: {**k, "pixel_values": np.full_like(k["pixel_values"], np.inf)},
    "integer_pixels": lambda k: {**k, "pixel_values": k["pixel_values"].astype(np.int32)},
    "empty_image_batch": lambda k: {**k, "pixel_values": k["pixel_values"][:0]},
    "empty_text_batch": lambda k: {**k, "input_ids": k["input_ids"][:0], "attention_mask": k["attention_mask"][:0]},
    "ids_1d": lambda k: {**k, "input_ids": k["input_ids"][0], "attention_mask": k["attention_mask"][0]},
    "pixels_3d": lambda k: {**k, "pixel_values": k["pixel_values"][0]},
    "wrong_channels": lambda k: {**k, "pixel_values": k["pixel_values"][:, :2]},
    "mask_shape": lambda k: {**k, "attention_mask": k["attention_mask"][:, :3]},
    "ids_out_of_vocab": lambda k: {**k, "input_ids": np.full_like(k["input_ids"], 10 ** 6)},
    "negative_ids": lambda k: {**k, "input_ids": np.full_like(k["input_ids"], -3)},
    "too_long_text": lambda k: {**k, "input_ids": np.ones((2, 500), np.int64),
                                "attention_mask": np.ones((2, 500), np.int64)},
}
MODEL_MESSAGES = {
    "float_ids": "input_ids", "bool_ids": "input_ids", "complex_ids": "input_ids", "nan_pixels": "finite|NaN",
    "inf_pixels": "finite|inf", "integer_pixels": "float", "empty_image_batch": "at least one|empty",
    "empty_text_batch": "at least one|empty", "ids_1d": "input_ids", "pixels_3d": "pixel_values",
    "wrong_channels": "channel", "mask_shape": "attention_mask", "ids_out_of_vocab": "vocab",
    "negative_ids": "vocab|negative", "too_long_text": "position|length|max",
}


@pytest.mark.parametrize("backend", ["pt", "tf"])
@pytest.mark.parametrize("case", sorted(MODEL_EDITS))
def test_models_refuse_bad_tensors(tiny_setup, backend, case):
    with pytest.raises(Exception) as info:
        _model_case(backend, MODEL_EDITS[case])(tiny_setup)
    message = str(info.value)
    assert type(info.value).__name__ in ("ValueError", "TypeError", "InvalidArgumentError"), repr(info.value)
    assert re.search(MODEL_MESSAGES[case], message, re.IGNORECASE), message
    assert "Received" in message, message


LOADERS = ["pt.GroupViTModel", "pt.GroupViTVisionModel", "pt.GroupViTTextModel",
           "tf.TFGroupViTModel", "tf.TFGroupViTVisionModel", "tf.TFGroupViTTextModel"]
LOAD_CASES = {
    "bert": "model_type", "bad_json": "JSON|json", "negative_size": "hidden_size", "bad_heads": "num_attention_heads",
    "no_weights": "weight|safetensors", "truncated": "safetensors|truncated", "not_weights": "safetensors",
    "evil": "refused global", "missing_dir": "checkpoint|exist|not found",
}


def _load_class(path):
    import importlib

    module, name = path.split(".")
    return getattr(importlib.import_module(f"groupvit.{module}"), name)


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("case", sorted(LOAD_CASES))
def test_from_pretrained_refuses_bad_checkpoints(world, loader, case):
    folder = world[case] if case != "missing_dir" else world["good"].parent / "does_not_exist"
    with pytest.raises(Exception) as info:
        _load_class(loader).from_pretrained(str(folder))
    message = str(info.value)
    assert re.search(LOAD_CASES[case], message, re.IGNORECASE), message
    assert re.search(WHAT_MUST_HOLD, message, re.IGNORECASE) and re.search("Received|received", message), message
    assert not world["marker"].exists()


@pytest.mark.parametrize("case, pattern", [("no_tokenizer", "tokenizer.json"), ("bad_merges", "merges.txt"),
                                           ("missing_dir", "checkpoint|exist|not found")])
def test_load_tokenizer_refuses_bad_folders(world, case, pattern):
    from groupvit.tokenizer import load_tokenizer

    folder = world[case] if case != "missing_dir" else world["good"].parent / "nope"
    with pytest.raises(Exception) as info:
        load_tokenizer(folder)
    assert re.search(pattern, str(info.value)) and "Received" in str(info.value), str(info.value)


def _assert_clear(err: str, pattern: str):
    assert re.search(pattern, err, re.IGNORECASE), err
    assert re.search(WHAT_MUST_HOLD, err, re.IGNORECASE) and re.search("Received|received", err), err


CLI_CASES = {
    # name: (argv built from world and an output path, pattern)
    "convert_missing_src": (lambda w, o: ["convert", w["good"].parent / "nope", o], "nope"),
    "convert_bert": (lambda w, o: ["convert", w["bert"], o], "model_type"),
    "convert_truncated": (lambda w, o: ["convert", w["truncated"], o], "safetensors"),
    "convert_evil": (lambda w, o: ["convert", w["evil"], o], "refused global"),
    "convert_onto_itself": (lambda w, o: ["convert", w["good"], w["good"]], "write over the source"),
    "convert_bad_json": (lambda w, o: ["convert", w["bad_json"], o], "json"),
    "verify_bert": (lambda w, o: ["verify", w["bert"]], "model_type"),
    "verify_evil": (lambda w, o: ["verify", w["evil"]], "refused global"),
    "verify_missing": (lambda w, o: ["verify", w["good"].parent / "nope"], "nope"),
    "verify_not_weights": (lambda w, o: ["verify", w["not_weights"]], "safetensors"),
    "segment_no_images": (lambda w, o: ["segment", w["empty_dir"], "--checkpoint", w["good"], "--labels", "cat",
                                        "--out", o], "image"),
    "segment_broken_image": (lambda w, o: ["segment", w["broken_image"], "--checkpoint", w["good"], "--labels",
                                           "cat", "--out", o], "broken.png"),
    "segment_text_file": (lambda w, o: ["segment", w["text_file"], "--checkpoint", w["good"], "--labels", "cat",
                                        "--out", o], "text.txt"),
    "segment_empty_labels": (lambda w, o: ["segment", w["images"] / "ok.png", "--checkpoint", w["good"],
                                           "--labels", " , ", "--out", o], "label|class"),
    "segment_duplicate_labels": (lambda w, o: ["segment", w["images"] / "ok.png", "--checkpoint", w["good"],
                                               "--labels", "cat,cat", "--out", o], "duplicate|unique|cat"),
    "segment_evil": (lambda w, o: ["segment", w["images"] / "ok.png", "--checkpoint", w["evil"], "--labels", "cat",
                                   "--out", o], "refused global"),
    "segment_no_tokenizer": (lambda w, o: ["segment", w["images"] / "ok.png", "--checkpoint", w["no_tokenizer"],
                                           "--labels", "cat", "--out", o], "tokenizer"),
    "segment_bad_threshold": (lambda w, o: ["segment", w["images"] / "ok.png", "--checkpoint", w["good"], "--labels",
                                            "cat", "--bg-thresh", "1.5", "--out", o], "threshold"),
    "segment_bad_window": (lambda w, o: ["segment", w["images"] / "ok.png", "--checkpoint", w["good"], "--labels",
                                         "cat", "--mode", "slide", "--window", "0", "--out", o], "window"),
    "segment_bad_top_k": (lambda w, o: ["segment", w["images"] / "ok.png", "--checkpoint", w["good"], "--labels",
                                        "cat", "--top-k", "0", "--out", o], "top"),
    "evaluate_missing_data": (lambda w, o: ["evaluate", "--checkpoint", w["good"], "--data", w["good"].parent / "nope",
                                            "--json", o / "r.json"], "nope|data"),
    "evaluate_no_split": (lambda w, o: ["evaluate", "--checkpoint", w["good"], "--data", w["voc_missing_split"],
                                        "--json", o / "r.json"], "val.txt|split"),
    "evaluate_bert": (lambda w, o: ["evaluate", "--checkpoint", w["bert"], "--data", w["voc_missing_split"],
                                    "--json", o / "r.json"], "model_type|val.txt"),
    "train_missing_data": (lambda w, o: ["train", "--data", w["good"].parent / "nope", "--config",
                                         w["good"] / "config.json", "--out", o, "--steps", "1",
                                         "--tokenizer", w["good"]], "nope|data"),
    "train_broken_captions": (lambda w, o: ["train", "--data", w["captions_bad"], "--config",
                                            w["good"] / "config.json", "--out", o, "--steps", "1",
                                            "--tokenizer", w["good"]], "caption|jsonl|sample"),
    "train_empty_captions": (lambda w, o: ["train", "--data", w["captions_empty"], "--config",
                                           w["good"] / "config.json", "--out", o, "--steps", "1",
                                           "--tokenizer", w["good"]], "caption|empty|sample"),
    "train_bad_config": (lambda w, o: ["train", "--data", w["captions_bad"], "--config", w["bert"] / "config.json",
                                       "--out", o, "--steps", "1", "--tokenizer", w["good"]], "model_type"),
    "train_zero_steps": (lambda w, o: ["train", "--data", w["captions_bad"], "--config", w["good"] / "config.json",
                                       "--out", o, "--steps", "0", "--tokenizer", w["good"]], "steps"),
    "train_negative_lr": (lambda w, o: ["train", "--data", w["captions_bad"], "--config", w["good"] / "config.json",
                                        "--out", o, "--steps", "2", "--lr", "-1", "--tokenizer", w["good"]], "lr"),
    "train_evil_init": (lambda w, o: ["train", "--data", w["captions_bad"], "--init", w["evil"], "--out", o,
                                      "--steps", "2", "--tokenizer", w["good"]], "refused global"),
    "shapes_bad_size": (lambda w, o: ["shapes", o, "--scenes", "2", "--size", "8"], "size"),
    "shapes_zero_scenes": (lambda w, o: ["shapes", o, "--scenes", "0"], "scenes"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_commands_refuse_bad_input_and_leave_nothing(world, tmp_path, capsys, case):
    build, pattern = CLI_CASES[case]
    out = tmp_path / "out"
    err = _cli(capsys, *build(world, out))
    _assert_clear(err, pattern)
    assert not world["marker"].exists()
    leftovers = [p for p in tmp_path.rglob("*")] if out.exists() else []
    assert not out.exists() or not any(out.iterdir()), f"output left behind: {leftovers}"
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["out"]), list(tmp_path.iterdir())


def test_the_good_checkpoint_is_untouched(world):
    """The refusals above never write into their inputs."""
    assert sorted(p.name for p in world["good"].iterdir()) == sorted(
        ["config.json", "model.safetensors", "merges.txt", "vocab.json"])
