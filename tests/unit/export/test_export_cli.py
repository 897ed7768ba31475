"""`groupvit export` and `groupvit verify EXPORT`: exit codes, all-or-nothing output, clear errors, and
segmentation on onnxruntime giving PyTorch's label maps."""

import json
import os

import numpy as np
import pytest

from conftest import write_checkpoint
from groupvit.cli import main
from groupvit.export import export_checkpoint
from groupvit.export.runtime import OnnxGroupViT


def test_cli_export_then_verify_passes(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "onnx"
    assert main(["export", tiny_checkpoint, str(out), "--parts", "towers"]) == 0
    assert main(["verify", str(out)]) == 0
    text = capsys.readouterr().out
    assert "vs ONNX (onnxruntime) towers" in text and "OK:" in text and "hard assignment 1" in text


def test_verify_fails_against_other_weights(exports, tmp_path, capsys):
    """The verdict can fail: the same export against a checkpoint of other weights (same config)."""
    other = write_checkpoint(tmp_path / "other", seed=1)
    assert main(["verify", exports["onnx", "full"], "--reference", other]) == 1
    captured = capsys.readouterr()
    assert "FAIL" in captured.out and "exceed their tolerance" in captured.err


def test_verify_refuses_a_reference_of_another_config(exports, tmp_path, capsys):
    other = write_checkpoint(tmp_path / "other", stages="two_grouping")
    assert main(["verify", exports["onnx", "full"], "--reference", other]) == 1
    assert "config.json must equal the export's" in capsys.readouterr().err


def test_segment_backend_onnx_gives_pytorch_labels(exports, tiny_checkpoint, tmp_path):
    from groupvit.png import write_png
    from groupvit.random_checkpoint import example_image

    image = tmp_path / "scene.png"
    write_png(str(image), example_image(40, 52))
    answers = {}
    for backend, checkpoint in (("pt", tiny_checkpoint), ("onnx", exports["onnx", "towers"])):
        out = tmp_path / backend
        for mode in ("whole", "slide"):
            assert main(["segment", str(image), "--checkpoint", checkpoint, "--labels", "cat,dog,grass",
                         "--backend", backend, "--mode", mode, "--short-side", "36", "--out", str(out / mode)]) == 0
            answers[backend, mode] = json.load(open(out / mode / "scene.json"))
            from PIL import Image

            answers[backend, mode]["labels"] = np.asarray(Image.open(out / mode / "scene_labels.png"))
    for mode in ("whole", "slide"):
        assert np.array_equal(answers["pt", mode]["labels"], answers["onnx", mode]["labels"])
        assert answers["onnx", mode]["backend"] == "onnx"


def test_a_full_export_cannot_segment_and_says_why(exports):
    from groupvit.segmentation.loading import load_segmenter

    segmenter = load_segmenter(exports["onnx", "full"], "onnx", short_side=30)
    with pytest.raises(ValueError, match="needs an export with --parts towers"):
        segmenter.segment(np.zeros((30, 30, 3), np.uint8), ["cat"])


def test_backend_and_folder_must_match(exports, tiny_checkpoint):
    from groupvit.segmentation.loading import load_model

    with pytest.raises(ValueError, match="backend 'onnx' runs a folder written by `groupvit export"):
        load_model(tiny_checkpoint, "onnx")
    with pytest.raises(ValueError, match="Received: backend='pt'"):
        load_model(exports["onnx", "towers"], "pt")


@pytest.mark.parametrize("feeds, match", [
    (dict(pixel_values=np.zeros((1, 3, 30, 30), np.float32), input_ids=np.ones((1, 4), np.int64), mask=1),
     r"inputs must be named \['pixel_values', 'input_ids', 'attention_mask'\].*Received: \['input_ids', 'mask'"),
    (dict(pixel_values=np.zeros((1, 3, 30, 30), np.uint8), input_ids=np.ones((1, 4), np.int64)),
     "pixel_values must be floating point.*Received: dtype=uint8"),
    (dict(pixel_values=np.zeros((1, 30, 30, 3), np.float32), input_ids=np.ones((1, 4), np.int64)),
     "channels-last input"),
    (dict(pixel_values=np.zeros((1, 3, 31, 30), np.float32), input_ids=np.ones((1, 4), np.int64)),
     "multiples of the patch size 3x3. Received: 31x30"),
    (dict(pixel_values=np.full((1, 3, 30, 30), np.nan, np.float32), input_ids=np.ones((1, 4), np.int64)),
     "pixel_values must be finite. Received: 2700 NaN"),
    (dict(pixel_values=np.zeros((1, 3, 30, 30), np.float32), input_ids=np.ones((1, 4), np.float32)),
     "input_ids must hold integer token ids.*Received: dtype=float32"),
    (dict(pixel_values=np.zeros((1, 3, 30, 30), np.float32), input_ids=np.full((1, 4), 99)),
     r"input_ids must lie in \[0, vocab_size=99\). Received: ids from 99 to 99"),
    (dict(pixel_values=np.zeros((1, 3, 30, 30), np.float32), input_ids=np.ones((1, 17), np.int64)),
     "between 1 and max_position_embeddings=16. Received: sequence_length=17"),
    (dict(pixel_values=np.zeros((1, 3, 30, 30), np.float32), input_ids=np.ones((2, 4), np.int64),
          attention_mask=np.ones((2, 5), np.int64)),
     r"attention_mask must have the shape of input_ids \(2, 4\). Received: \(2, 5\)"),
    (dict(pixel_values=np.zeros((0, 3, 30, 30), np.float32), input_ids=np.ones((1, 4), np.int64)),
     "pixel_values must hold at least one row"),
    (dict(pixel_values=np.zeros((1, 3, 30, 30), np.float32), input_ids=np.ones((1, 4), np.int64),
          attention_mask=np.ones((1, 4), np.float32)),
     "attention_mask must hold 0/1 integers or booleans. Received: dtype=float32"),
])
def test_onnx_model_refuses_bad_inputs_clearly(exports, feeds, match):
    model = OnnxGroupViT(exports["onnx", "full"])
    with pytest.raises(ValueError, match=match):
        model(**feeds)


def test_saved_model_signature_refuses_wrong_dtype_and_size(exports):
    import tensorflow as tf

    loaded = tf.saved_model.load(exports["saved-model", "full"])
    errors = (TypeError, ValueError, tf.errors.InvalidArgumentError)
    with pytest.raises(errors, match="expected to be a float tensor but is a int32 tensor"):
        loaded.signatures["image_features"](pixel_values=tf.zeros((1, 3, 30, 30), tf.int32))
    with pytest.raises(errors, match=r"pixel_values must be \[batch, 3, 30, 30\] \(NCHW at the exported size\)"):
        loaded.signatures["image_features"](pixel_values=tf.zeros((1, 3, 33, 30), tf.float32))
    ids = tf.ones((2, 9), tf.int64)
    with pytest.raises(errors, match="input_ids must be padded to 16 tokens"):
        loaded.signatures["text_features"](input_ids=ids, attention_mask=ids)
    ids = tf.fill((2, 16), tf.constant(99, tf.int64))
    with pytest.raises(errors, match=r"input_ids must lie in \[0, vocab_size=99\)"):
        loaded.signatures["text_features"](input_ids=ids, attention_mask=tf.ones_like(ids))


def test_output_is_all_or_nothing(tiny_checkpoint, tmp_path, monkeypatch):
    from groupvit.export import onnx_export

    def broken(folder, *args, **kwargs):
        open(os.path.join(folder, "model.onnx"), "w").write("half")
        raise RuntimeError("exporter died")

    monkeypatch.setattr(onnx_export, "write_onnx", broken)
    with pytest.raises(RuntimeError, match="exporter died"):
        export_checkpoint(tiny_checkpoint, tmp_path / "out")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs, match", [
    (dict(format="tflite"), r"format must be one of \['onnx', 'saved-model', 'torch-export'\]. "
                              r"Received: format='tflite'"),
    (dict(parts="vision"), r"parts must be one of \['full', 'towers'\]. Received: parts='vision'"),
    (dict(opset=9), r"opset applies to format 'onnx' and must be an integer in \[17, 23\]. Received: .*opset=9"),
    (dict(format="torch-export", parts="towers"), "torch-export writes the full graph"),
    (dict(format="saved-model", parts="towers"), "saved-model writes one archive .* parts must be 'full'"),
    (dict(image_size=32), r"image_size must be a positive multiple of the patch size 3x3. Received: image_size=32"),
])
def test_bad_requests_are_refused_before_writing(tiny_checkpoint, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export_checkpoint(tiny_checkpoint, tmp_path / "out", **kwargs)
    assert os.listdir(tmp_path) == []


def test_never_overwrites(tiny_checkpoint, exports, tmp_path, capsys):
    before = sorted(os.listdir(tiny_checkpoint))
    assert main(["export", tiny_checkpoint, tiny_checkpoint]) == 1
    assert "OUT must be a new folder, not the checkpoint" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["export", tiny_checkpoint, str(busy)]) == 1
    assert "OUT must not exist or be an empty folder" in capsys.readouterr().err
    assert os.listdir(busy) == ["keep.txt"] and sorted(os.listdir(tiny_checkpoint)) == before
    assert main(["export", exports["onnx", "full"], str(tmp_path / "again")]) == 1
    assert "must hold weights, not be an export" in capsys.readouterr().err


def test_broken_export_folder_is_reported(exports, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(exports["onnx", "towers"], copy)
    os.remove(copy / "text.onnx")
    with pytest.raises(FileNotFoundError, match=r"Every file listed in .*export.json must exist. Received: missing"):
        OnnxGroupViT(copy)
    record = json.load(open(copy / "export.json"))
    record["logit_scale"] = "big"
    json.dump(record, open(copy / "export.json", "w"))
    with pytest.raises(ValueError, match="must record a finite logit_scale. Received: 'big'"):
        OnnxGroupViT(copy)


def test_verify_an_export_of_a_model_whose_size_is_not_a_multiple_of_the_patch(tmp_path, capsys):
    """A 31-px model of patch 3 reads 10 x 10 patches (the partial one dropped); its export takes multiples of the
    patch only, so verify must feed it 30 px (it fed 31 and failed: "must be positive multiples of the patch")."""
    checkpoint = write_checkpoint(tmp_path / "ckpt", vision={"image_size": 31})
    out = tmp_path / "onnx"
    assert main(["export", checkpoint, str(out), "--parts", "towers"]) == 0
    assert main(["verify", str(out)]) == 0, capsys.readouterr().err
    assert "OK:" in capsys.readouterr().out


def test_a_saved_model_whose_segment_signature_has_no_token_grid_is_refused_clearly(tmp_path):
    """40 x 24 px of patch 8 x 4 hold 5 x 6 tokens, which the reference grid rule cannot read (a guess of 7 x 4):
    the export failed deep in Keras' tracing; now the size and the rule are named before anything is written."""
    checkpoint = write_checkpoint(tmp_path / "ckpt", vision={"image_size": [40, 24], "patch_size": [8, 4]})
    with pytest.raises(ValueError, match="segment signature needs a token grid at the traced size 40x24"):
        export_checkpoint(checkpoint, tmp_path / "out", format="saved-model")
    assert not (tmp_path / "out").exists()


def test_an_export_without_tokenizer_files_says_what_it_cannot_do(tmp_path, capsys):
    from groupvit.weights_bridge import save_checkpoint
    from tiny_configs import tiny_config

    from groupvit.random_checkpoint import random_weights

    config = tiny_config()
    save_checkpoint(config, random_weights(config, 0), tmp_path / "ckpt")  # no tokenizer beside it
    assert main(["export", str(tmp_path / "ckpt"), str(tmp_path / "onnx"), "--parts", "towers"]) == 0
    assert "holds no tokenizer files" in capsys.readouterr().err
    assert main(["export", write_checkpoint(tmp_path / "with"), str(tmp_path / "onnx2"), "--parts", "towers"]) == 0
    assert "holds no tokenizer files" not in capsys.readouterr().err


def test_a_lone_weight_file_exports_with_its_config_given(tmp_path, capsys):
    """The error told CLI users to `pass config=`, which export's command line had no way to do."""
    from groupvit.weights_bridge import save_checkpoint
    from tiny_configs import tiny_config

    from groupvit.random_checkpoint import random_weights

    config = tiny_config()
    save_checkpoint(config, random_weights(config, 0), tmp_path / "ckpt")
    lone = tmp_path / "lone"
    lone.mkdir()
    os.replace(tmp_path / "ckpt" / "model.safetensors", lone / "weights.safetensors")
    assert main(["export", str(lone / "weights.safetensors"), str(tmp_path / "no")]) == 1
    assert "--config on the command line" in capsys.readouterr().err
    out = tmp_path / "onnx"
    assert main(["export", str(lone / "weights.safetensors"), str(out), "--parts", "towers",
                 "--config", str(tmp_path / "ckpt" / "config.json")]) == 0
    assert main(["verify", str(out)]) == 0  # the recorded source, read with the export's own config
    capsys.readouterr()
    config.vision_config.hidden_size *= 2
    config.save_pretrained(tmp_path / "other")
    assert main(["verify", str(out), "--config", str(tmp_path / "other" / "config.json")]) == 1
    err = capsys.readouterr().err
    assert "must match the config's keys and shapes" in err, err  # --config is the one it read with
