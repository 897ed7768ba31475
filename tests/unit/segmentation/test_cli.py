"""`groupvit segment` and `groupvit evaluate` on a tiny seeded checkpoint with a test-made tokenizer."""

import json

import numpy as np
import pytest
from seg_helpers import sample_image
from test_metrics import make_voc, masks

from groupvit.cli import main

import PIL  # noqa: F401 - on purpose: this test needs Pillow (it used to importorskip it)
from PIL import Image  # noqa: E402

SMALL = ["--short-side", "30", "--window", "30", "--stride", "15"]


@pytest.fixture
def image_dir(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(sample_image(40, 52)).save(folder / "scene.png")
    Image.fromarray(sample_image(33, 30)).convert("L").save(folder / "grey.jpg")
    return folder


def test_segment_writes_files(tiny_checkpoint, image_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["segment", str(image_dir), "--checkpoint", tiny_checkpoint, "--labels", "cat, dog; hound,grass",
                 "--bg-thresh", "0.3", "--templates", "7", "--out", str(out), *SMALL])
    assert code == 0
    for stem, size in (("scene", (40, 52)), ("grey", (33, 30))):
        labels = Image.open(out / f"{stem}_labels.png")
        assert labels.mode == "P" and labels.size == size[::-1]
        assert np.asarray(labels).max() <= 3
        assert Image.open(out / f"{stem}_overlay.png").size[0] == size[1]
        for stage in (0, 1):
            assert Image.open(out / f"{stem}_groups_stage{stage}.png").size == size[::-1]
        summary = json.loads((out / f"{stem}.json").read_text())
        assert summary["labels"] == ["cat", "dog; hound", "grass"] and summary["size"] == list(size)
    assert "2/2" in capsys.readouterr().err  # the progress bar


def test_segment_takes_the_checkpoints_templates_and_threshold(tiny_checkpoint, image_dir, tmp_path):
    """--templates defaulted to 1 whatever the checkpoint's segmentation_defaults.json said (evaluate took it)."""
    import shutil

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, checkpoint)
    (checkpoint / "segmentation_defaults.json").write_text(json.dumps({"templates": 7, "bg_thresh": 0.4}))
    out = tmp_path / "out"
    assert main(["segment", str(image_dir / "scene.png"), "--checkpoint", str(checkpoint), "--labels", "cat,dog",
                 "--out", str(out), *SMALL]) == 0
    summary = json.loads((out / "scene.json").read_text())
    assert (summary["templates"], summary["bg_thresh"], summary["mode"]) == (7, 0.4, "whole")


def test_segment_slide_mode_in_keras(tiny_checkpoint, image_dir, tmp_path):
    out = tmp_path / "out"
    code = main(["segment", str(image_dir / "scene.png"), "--checkpoint", tiny_checkpoint, "--labels", "cat,grass",
                 "--backend", "tf", "--mode", "slide", "--out", str(out), *SMALL])
    assert code == 0 and (out / "scene_labels.png").is_file() and not (out / "scene_groups_stage0.png").exists()


@pytest.mark.parametrize("case, message", [
    ("checkpoint", "checkpoint must exist"),
    ("image", "readable image"),
    ("labels", "--labels must name at least one class"),
    ("input", "image file or a folder"),
])
def test_segment_fails_clearly(tiny_checkpoint, image_dir, tmp_path, capsys, case, message):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG but not really")
    args = {"checkpoint": tiny_checkpoint, "image": str(image_dir / "scene.png"), "labels": "cat,dog"}
    if case == "checkpoint":
        args["checkpoint"] = str(tmp_path / "nowhere")
    elif case == "image":
        args["image"] = str(bad)
    elif case == "labels":
        args["labels"] = " , ,"
    else:
        args["image"] = str(tmp_path / "missing.png")
    code = main(["segment", args["image"], "--checkpoint", args["checkpoint"], "--labels", args["labels"],
                 "--out", str(tmp_path / "out"), *SMALL])
    assert code != 0
    assert message in capsys.readouterr().err


def test_segment_refuses_an_out_whose_files_would_replace_inputs(tiny_checkpoint, tmp_path, capsys):
    folder = tmp_path / "work"
    folder.mkdir()
    Image.fromarray(sample_image(40, 52)).save(folder / "x.jpg")
    Image.fromarray(sample_image(30, 30)).save(folder / "x_overlay.png")  # an input, and x.jpg's overlay name
    before = (folder / "x_overlay.png").read_bytes()
    inputs = [str(folder / "x.jpg"), str(folder / "x_overlay.png")]
    code = main(["segment", *inputs, "--checkpoint", tiny_checkpoint, "--labels", "cat", "--out", str(folder),
                 *SMALL])
    assert code != 0 and "would write 'x_overlay.png' over the input image" in capsys.readouterr().err
    assert (folder / "x_overlay.png").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["x.jpg", "x_overlay.png"]  # nothing written
    # an input folder as --out: its next segment would read the outputs as images
    code = main(["segment", str(folder), "--checkpoint", tiny_checkpoint, "--labels", "cat", "--out", str(folder),
                 *SMALL])
    assert code != 0 and "--out must not be an input folder" in capsys.readouterr().err
    (folder / "x_overlay.png").rename(folder / "y.png")  # no clash left: writing beside listed input files is fine
    assert main(["segment", str(folder / "x.jpg"), str(folder / "y.png"), "--checkpoint", tiny_checkpoint,
                 "--labels", "cat", "--out", str(folder), *SMALL]) == 0
    assert {"x_labels.png", "y_labels.png", "x.json"} <= {p.name for p in folder.iterdir()}
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]


def test_segment_refuses_a_non_image_before_writing_anything(tiny_checkpoint, image_dir, tmp_path, capsys):
    (image_dir / "notes.png").write_text("not an image")
    out = tmp_path / "out"
    assert main(["segment", str(image_dir), "--checkpoint", tiny_checkpoint, "--labels", "cat", "--out", str(out),
                 *SMALL]) != 0
    assert "notes.png" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("command, option, value", [
    ("segment", "--short-side", "0"), ("segment", "--short-side", "-5"), ("evaluate", "--short-side", "0"),
    ("evaluate", "--limit", "0"), ("evaluate", "--limit", "-1"), ("evaluate", "--limit", "x"),
])
def test_sizes_and_counts_must_be_positive(tiny_checkpoint, image_dir, tmp_path, capsys, command, option, value):
    inputs = [str(image_dir), "--labels", "cat", "--out", str(tmp_path / "out")] if command == "segment" else \
        ["--data", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        main([command, *inputs, "--checkpoint", tiny_checkpoint, option, value])
    assert exit_info.value.code == 2
    assert f"{option}: must be an integer >= 1. Received: '{value}'" in capsys.readouterr().err


def test_evaluate_json_never_replaces_a_file_of_the_dataset(tiny_checkpoint, tmp_path, capsys):
    make_voc(tmp_path / "voc", [np.kron(m, np.ones((6, 6), np.int64)) for m in masks()])
    classes = (tmp_path / "voc" / "classes.txt").read_text()
    split = tmp_path / "voc" / "ImageSets" / "Segmentation" / "val.txt"
    for target in (tmp_path / "voc" / "classes.txt", split):
        code = main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "voc"), "--json",
                     str(target), *SMALL])
        assert code != 0 and "must not replace a file of the dataset" in capsys.readouterr().err
    assert (tmp_path / "voc" / "classes.txt").read_text() == classes and split.read_text().strip()
    code = main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "voc"), "--class-names",
                 str(tmp_path / "nowhere.txt"), *SMALL])
    assert code != 0 and f"Received: class_names='{tmp_path / 'nowhere.txt'}'" in capsys.readouterr().err
    code = main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "nowhere"), *SMALL])
    assert code != 0 and "data must be a Pascal VOC layout folder (JPEGImages/" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--out", "maps"], ["--jit"]])
def test_verify_dtype_refuses_the_options_it_would_ignore(tiny_checkpoint, tmp_path, capsys, option):
    code = main(["verify", tiny_checkpoint, "--dtype", "bfloat16", *option])
    assert code != 0 and f"{option[0]} apply without --dtype" in capsys.readouterr().err
    assert not (tmp_path / "maps").exists()


def test_verify_backend_without_dtype_is_refused(tiny_checkpoint, capsys):
    assert main(["verify", tiny_checkpoint, "--backend", "tf"]) != 0
    assert "--backend applies with --dtype" in capsys.readouterr().err


def test_evaluate_prints_table_and_miou(tiny_checkpoint, tmp_path, capsys):
    make_voc(tmp_path / "voc", [np.kron(m, np.ones((6, 6), np.int64)) for m in masks()])
    out_json = tmp_path / "scores.json"
    code = main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "voc"), "--templates", "1",
                 "--json", str(out_json), *SMALL])
    assert code == 0
    printed = capsys.readouterr()
    assert "mIoU" in printed.out and "tv; monitor" in printed.out and "2/2" in printed.err
    scores = json.loads(out_json.read_text())
    assert 0.0 <= scores["miou"] <= 1.0 and scores["images"] == 2


def test_verify_takes_an_image_and_texts(tiny_checkpoint, image_dir, capsys):
    """`groupvit verify --image/--texts` goes through groupvit.images and groupvit.tokenizer."""
    code = main(["verify", tiny_checkpoint, "--image", str(image_dir / "scene.png"), "--texts", "a cat,a dog"])
    printed = capsys.readouterr()
    assert code == 0, printed.out[-2000:] + printed.err[-2000:]
    assert "1 image(s) x 2 text(s)" in printed.out


@pytest.mark.parametrize("backend, dtype", [("pt", "bfloat16"), ("pt", "int8"), ("tf", "bfloat16")])
def test_verify_dtype_reports_agreement_and_both_miou(tiny_checkpoint, tmp_path, capsys, backend, dtype):
    make_voc(tmp_path / "voc", [np.kron(m, np.ones((6, 6), np.int64)) for m in masks()])
    code = main(["verify", tiny_checkpoint, "--dtype", dtype, "--backend", backend, "--data", str(tmp_path / "voc")])
    printed = capsys.readouterr()
    assert code == 0, printed.out[-2000:] + printed.err[-2000:]
    assert f"{dtype} vs" in printed.out and "min cos" in printed.out
    rows = {line.split()[0]: line.split() for line in printed.out.splitlines() if line.startswith("image_embeds")}
    assert 0.9 < float(rows["image_embeds"][3]) <= 1.0  # the smallest cosine, measured
    assert "assignment stage 0" in printed.out and "segmentation map (pixels)" in printed.out
    assert printed.out.count("mIoU on") == 2
    agreement = next(line for line in printed.out.splitlines() if line.startswith("label maps on"))
    same, pixels = float(agreement.split()[4]), int(agreement.split()[7])
    assert 0 <= same <= 100 and pixels == sum(m.size * 36 for m in masks())


def test_segment_and_evaluate_take_a_dtype(tiny_checkpoint, image_dir, tmp_path, capsys):
    make_voc(tmp_path / "voc", [np.kron(m, np.ones((6, 6), np.int64)) for m in masks()])
    out_json = tmp_path / "scores.json"
    assert main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "voc"), "--dtype", "bfloat16",
                 "--json", str(out_json), *SMALL]) == 0
    assert json.loads(out_json.read_text())["dtype"] == "bfloat16"
    assert main(["segment", str(image_dir / "scene.png"), "--checkpoint", tiny_checkpoint, "--labels", "cat,dog",
                 "--dtype", "int8", "--out", str(tmp_path / "seg"), *SMALL]) == 0
    code = main(["segment", str(image_dir / "scene.png"), "--checkpoint", tiny_checkpoint, "--labels", "cat,dog",
                 "--dtype", "int8", "--backend", "tf", "--out", str(tmp_path / "seg2"), *SMALL])
    assert code != 0 and "dtype must be one of ('float32', 'bfloat16') for backend 'tf'" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["pt", "tf"])
def test_bfloat16_models_hold_bfloat16_weights(tiny_checkpoint, backend):
    """`--dtype bfloat16` loads the weights rounded to bfloat16 in both backends (PyTorch's .to(torch.bfloat16),
    Keras' "bfloat16" policy), the logit scale in float32: no float32 copy to cast on every call."""
    from groupvit.segmentation.loading import load_model

    model = load_model(tiny_checkpoint, backend, "bfloat16")
    if backend == "pt":
        dtypes = {name: str(p.dtype).replace("torch.", "") for name, p in model.named_parameters()}
        scale = "logit_scale"
    else:
        dtypes = {v.path: v.dtype for v in model.weights}
        scale = model.logit_scale.path
    assert dtypes.pop(scale) == "float32" and set(dtypes.values()) == {"bfloat16"}


def test_evaluate_checks_every_label_map_first_and_writes_strict_json(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    """A missing or RGB label map fails before any image is segmented (it failed at that image, with a bare OS
    error for a missing one); a split whose pixels are all ignored writes "miou": null, not NaN (invalid JSON)."""
    from groupvit.segmentation import loading

    ids = make_voc(tmp_path / "voc", [np.kron(m, np.ones((6, 6), np.int64)) for m in masks()])
    label = tmp_path / "voc" / "SegmentationClass" / f"{ids[1]}.png"
    label.rename(tmp_path / "kept.png")
    calls = []
    monkeypatch.setattr(loading, "load_segmenter", lambda *a, **k: calls.append(a))
    assert main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "voc"), *SMALL]) != 0
    assert f"The label map of id {ids[1]!r} must exist" in capsys.readouterr().err and not calls
    Image.new("RGB", (48, 30)).save(label)
    assert main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "voc"), *SMALL]) != 0
    assert "palette or grey PNG. Received: mode=RGB" in capsys.readouterr().err and not calls
    monkeypatch.undo()
    for i, image_id in enumerate(ids):  # every pixel ignored
        shape = np.kron(masks()[i], np.ones((6, 6))).shape
        Image.fromarray(np.full(shape, 255, np.uint8)).save(tmp_path / "voc" / "SegmentationClass" /
                                                             f"{image_id}.png")  # grey: a palette PNG is remapped
    out_json = tmp_path / "scores.json"
    assert main(["evaluate", "--checkpoint", tiny_checkpoint, "--data", str(tmp_path / "voc"), "--json",
                 str(out_json), *SMALL]) == 0
    assert json.loads(out_json.read_text(), parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))["miou"] is None


def test_segment_skips_an_image_that_fails_only_when_decoded_and_does_the_rest(tiny_checkpoint, image_dir, tmp_path,
                                                                               capsys):
    """A truncated PNG passes the header check; it stopped the run after the images before it, and the images
    after it were never segmented. Now it is skipped and named, the others done, and the exit status is 1."""
    full = image_dir / "full.png"
    Image.fromarray(sample_image(40, 52)).save(full)
    data = full.read_bytes()
    (image_dir / "a_cut.png").write_bytes(data[:len(data) - 40])  # the header is whole, the pixels are not
    full.unlink()
    out = tmp_path / "out"
    assert main(["segment", str(image_dir), "--checkpoint", tiny_checkpoint, "--labels", "cat", "--out", str(out),
                 *SMALL]) == 1
    err = capsys.readouterr().err
    assert "skipped 1 of 3 image(s)" in err and "a_cut.png" in err, err
    assert {"grey_labels.png", "scene_labels.png"} <= {p.name for p in out.iterdir()}
    assert not any(p.name.startswith("a_cut") for p in out.iterdir())


def test_segment_settings_that_fail_every_image_stop_the_run_once(tiny_checkpoint, image_dir, tmp_path, capsys):
    """Errors of the whole run (labels equal after cleaning, a threshold outside [0, 1]) are not per-image skips."""
    for option in (["--labels", "cat,Cat"], ["--labels", "cat", "--bg-thresh", "1.5"]):
        code = main(["segment", str(image_dir), "--checkpoint", tiny_checkpoint, *option,
                     "--out", str(tmp_path / "out"), *SMALL])
        err = capsys.readouterr().err
        assert code != 0 and "skipped" not in err, err
