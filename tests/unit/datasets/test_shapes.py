"""The generated shapes world: reproducible scenes whose masks, captions and written layouts agree."""

import json
import os
import re
import subprocess
import sys
import tarfile
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from groupvit.cli import main
from groupvit.datasets.shapes import (
    ALT_CLASS_NAMES, CLASS_NAMES, COLOUR_NAMES, OBJECT_CLASSES, PART_CLASSES, PLURALS, SYNONYMS, make_scene,
    scene_rng, write_train, write_voc,
)
from groupvit.datasets.shapes import writers
from groupvit.datasets.shapes.background import BACKGROUND_PHRASES
from groupvit.datasets.shapes.draw import Drawing, draw_object
from groupvit.datasets.shapes.geometry import OUTLINES
from groupvit.datasets.shapes.scene import visible_objects
from groupvit.segmentation import voc
from groupvit.training.data import open_source

SIZE = 48  # small and fast; every size in [32, 256] uses the same code


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(scene_rng(3, i), SIZE) for i in range(300)]


def _words(caption):
    return re.findall(r"[a-z]+", caption)


def test_same_seed_and_index_give_the_same_scene_and_others_differ():
    a, b = make_scene(scene_rng(7, 11), SIZE), make_scene(scene_rng(7, 11), SIZE)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert (a.caption, a.nouns, a.objects) == (b.caption, b.nouns, b.objects)
    other = make_scene(scene_rng(7, 12), SIZE)
    assert not np.array_equal(a.image, other.image)
    assert a.image.shape == (SIZE, SIZE, 3) and a.image.dtype == np.uint8
    assert a.mask.shape == (SIZE, SIZE) and a.mask.dtype == np.uint8


def test_a_scene_does_not_depend_on_how_many_are_written(tmp_path):
    write_train(tmp_path / "three", 3, seed=4, size=SIZE)
    write_train(tmp_path / "five", 5, seed=4, size=SIZE)
    for index in range(3):
        name = f"images/{index:06d}.png"
        assert (tmp_path / "three" / name).read_bytes() == (tmp_path / "five" / name).read_bytes()
    rows = [(tmp_path / n / "captions.jsonl").read_text().splitlines() for n in ("three", "five")]
    assert rows[0] == rows[1][:3]


def test_every_class_appears_and_captions_name_exactly_the_mask_classes(scenes):
    seen = Counter(name for s in scenes for name, _ in s.objects)
    assert set(seen) == set(OBJECT_CLASSES) and min(seen.values()) >= 15
    assert {len(s.objects) for s in scenes} == {1, 2, 3, 4}
    plurals = {plural: name for name, plural in PLURALS.items()}
    for scene in scenes:
        in_mask = {CLASS_NAMES[k] for k in np.unique(scene.mask) if k}
        words = _words(scene.caption)
        named = {plurals.get(w, w) for w in words if w in OBJECT_CLASSES or w in plurals}
        assert in_mask == set(scene.nouns) == named == {name for name, _ in scene.objects}, scene.caption
        assert not any(re.search(rf"\b{s}\b", scene.caption) for s in SYNONYMS.values()), scene.caption
        for name, count in Counter(name for name, _ in scene.objects).items():
            singular, plural = words.count(name), words.count(PLURALS[name])
            # one object: named once; several: counted with the plural, or each named
            expected = (singular, plural) == (1, 0) if count == 1 else (plural == 1 or singular == count)
            assert expected, scene.caption


def test_captions_vary_and_count_repeated_classes(scenes):
    captions = [s.caption for s in scenes]
    assert len(set(captions)) > 0.8 * len(captions)
    assert any(re.search(r"\btwo (\w+ )?(" + "|".join(PLURALS.values()) + r")\b", c) for c in captions)
    assert any(w in COLOUR_NAMES for c in captions for w in _words(c))
    frames = ("there is", "there are", "shapes:", "background", "a photo of", "next to", "above")
    assert all(any(f in c for c in captions) for f in frames)


def _interior(mask):
    """The mask without its border pixels, whose colour the downsampling blends with the neighbours'."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def test_part_based_classes_show_several_colours_in_their_mask(scenes):
    several, total = 0, 0
    for scene in scenes:
        for name in PART_CLASSES & {n for n, _ in scene.objects}:
            pixels = scene.image[_interior(scene.mask == CLASS_NAMES.index(name))].astype(int)
            if len(pixels) < 40:
                continue
            # colours = coarse RGB bins holding at least 4% of the region
            bins = Counter(map(tuple, pixels // 48))
            several += sum(c >= 0.04 * len(pixels) for c in bins.values()) >= 2
            total += 1
    assert total >= 40 and several >= 0.85 * total


@pytest.mark.parametrize("variant", ["default", "hard"])
def test_part_based_objects_are_drawn_from_differently_coloured_parts(variant):
    rng = np.random.default_rng(0)
    for name in OBJECT_CLASSES:
        for _ in range(30):
            drawing = draw_object(rng, name, variant, OUTLINES[name](rng), (40.0, 40.0), 30.0, 20.0, 80)
            colours = {p.name: drawing.part_colours[p.name] for p in drawing.parts}
            if name not in PART_CLASSES:
                assert list(colours) == ["body"] and colours["body"] == drawing.colour
                continue
            main = "walls" if name == "house" else "crown"
            assert colours[main] == drawing.colour and len(colours) >= 2
            assert all(c != drawing.colour for part, c in colours.items() if part != main)
            # the main part and the roof or trunk differ in pixels too, not only in name
            means = {p.name: p.fill[p.mask].mean(axis=0) for p in drawing.parts}
            other = "roof" if name == "house" else "trunk"
            assert np.abs(means[main] - means[other]).max() > 20, (name, colours)


def _colour_table(variant, objects=2000):
    table, index = Counter(), 0
    while sum(table.values()) < objects:
        table.update(make_scene(scene_rng(5, index), 32, variant).objects)
        index += 1
    return table


def _chi_square(table):
    counts = np.array([[table[(c, k)] for k in COLOUR_NAMES] for c in OBJECT_CLASSES], dtype=np.float64)
    expected = counts.sum(1, keepdims=True) * counts.sum(0, keepdims=True) / counts.sum()
    return counts, float(((counts - expected) ** 2 / expected).sum())


def test_hard_variant_colour_is_independent_of_class():
    counts, chi2 = _chi_square(_colour_table("hard"))
    assert ((counts > 0).sum(axis=1) >= 6).all()
    # 77 degrees of freedom: chi2 exceeds 120 by chance with p < 0.001; the default variant is far above
    assert chi2 < 120
    assert _chi_square(_colour_table("default", 600))[1] > 500


def test_objects_mostly_covered_are_dropped_before_drawing():
    def drawing(rows):
        mask = np.zeros((10, 10), bool)
        mask[rows] = True
        return Drawing("circle", "red", "flat", (), mask, {})

    bottom, middle, top = drawing(slice(0, 5)), drawing(slice(2, 7)), drawing(slice(1, 4))
    # top covers 3 of middle's 5 rows (40% left: kept); bottom keeps row 0 only (20%: dropped)
    assert visible_objects([bottom, middle, top]) == [middle, top]


def test_sizes_and_arguments_are_checked():
    assert make_scene(scene_rng(0, 0), 32).image.shape == (32, 32, 3)
    assert make_scene(scene_rng(0, 0), 256).mask.shape == (256, 256)
    with pytest.raises(ValueError, match="size must be"):
        make_scene(scene_rng(0, 0), 31)
    with pytest.raises(ValueError, match="variant must be"):
        make_scene(scene_rng(0, 0), 64, "easy")


def test_train_layouts_read_by_open_source_and_hold_no_masks(tmp_path):
    expected = [make_scene(scene_rng(2, i), SIZE) for i in range(5)]
    write_train(tmp_path / "jsonl", 5, seed=2, size=SIZE)
    write_train(tmp_path / "wds", 5, seed=2, size=SIZE, layout="wds", shard_size=2)
    assert sorted(os.listdir(tmp_path / "wds" / "shards")) == ["00000.tar", "00001.tar", "00002.tar"]
    with tarfile.open(tmp_path / "wds" / "shards" / "00000.tar") as tar:
        assert tar.getnames() == ["000000000.png", "000000000.json", "000000001.png", "000000001.json"]
    for source in (open_source(tmp_path / "jsonl"), open_source(tmp_path / "wds" / "shards")):
        refs = sorted(source.refs(0), key=lambda r: r.key)
        assert [r.caption for r in refs] == [s.caption for s in expected]
        assert [list(r.nouns) for r in refs] == [s.nouns for s in expected]
        np.testing.assert_array_equal(source.load_image(refs[4]), expected[4].image)
        assert source.skips.total == 0
    for layout in ("jsonl", "wds"):
        names = [n for _, _, files in os.walk(tmp_path / layout) for n in files]
        assert not any("mask" in n or "Segmentation" in n for n in names)


def test_background_nouns_name_every_background_and_change_nothing_else(tmp_path):
    expected = [make_scene(scene_rng(2, i), SIZE) for i in range(12)]
    write_train(tmp_path / "plain", 12, seed=2, size=SIZE)
    write_train(tmp_path / "bg", 12, seed=2, size=SIZE, background_nouns=True)
    assert json.loads((tmp_path / "bg" / "shapes.json").read_text())["background_nouns"] is True
    plain = [json.loads(line) for line in (tmp_path / "plain" / "captions.jsonl").read_text().splitlines()]
    named = [json.loads(line) for line in (tmp_path / "bg" / "captions.jsonl").read_text().splitlines()]
    kept = appended = 0
    for scene, before, after in zip(expected, plain, named):
        phrases = BACKGROUND_PHRASES[scene.background]
        said = [p for p in phrases if after["caption"].endswith(" " + p)]
        assert len(said) == 1, after["caption"]
        # the object words are those of the plain caption; the background's noun phrase comes last
        assert after["nouns"] == [*before["nouns"], said[0].removeprefix("on ").removeprefix("a ")]
        if before["caption"] == after["caption"]:
            kept += 1
        else:
            assert after["caption"] == f"{before['caption']} {said[0]}"
            appended += 1
        assert (tmp_path / "bg" / after["image"]).read_bytes() == (tmp_path / "plain" / before["image"]).read_bytes()
    assert kept and appended  # some captions already named their background, the others got it appended
    assert main(["shapes", str(tmp_path / "voc"), "--scenes", "2", "--layout", "voc", "--background-nouns"]) == 1
    assert not (tmp_path / "voc").exists()


def test_voc_layout_read_by_the_evaluation_with_the_true_masks(tmp_path):
    root = tmp_path / "voc"
    summary = write_voc(root, 4, seed=9, size=SIZE)
    assert voc.split_ids(str(root)) == ["000000", "000001", "000002", "000003"]
    assert voc.class_names(str(root)) == list(CLASS_NAMES)
    assert voc.class_names(str(root), str(root / "classes_alt.txt")) == list(ALT_CLASS_NAMES)
    for index, image_id in enumerate(voc.split_ids(str(root))):
        scene = make_scene(scene_rng(9, index), SIZE)
        np.testing.assert_array_equal(voc.ground_truth(str(root), image_id), scene.mask)
        assert voc.image_path(str(root), image_id).endswith(".jpg")
        image = np.asarray(Image.open(voc.image_path(str(root), image_id)), dtype=np.float64)
        assert np.abs(image - scene.image).mean() < 3.0  # JPEG quality 95
    with Image.open(root / "SegmentationClass" / "000000.png") as label:
        assert label.mode == "P" and label.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    assert sum(summary.objects.values()) == sum(len(make_scene(scene_rng(9, i), SIZE).objects) for i in range(4))
    assert json.loads((root / "shapes.json").read_text())["seed"] == 9


def test_writers_refuse_a_non_empty_out_and_leave_nothing_when_they_fail(tmp_path, monkeypatch):
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="OUT must not exist"):
        write_voc(full, 2, size=SIZE)
    assert os.listdir(full) == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    write_train(empty, 2, size=SIZE)  # an empty folder is replaced
    assert sorted(os.listdir(empty)) == ["captions.jsonl", "images", "shapes.json"]

    def fail_at_third(rng, size, variant):
        fail_at_third.calls += 1
        if fail_at_third.calls == 3:
            raise RuntimeError("stop")
        return make_scene(rng, size, variant)

    fail_at_third.calls = 0
    monkeypatch.setattr(writers, "make_scene", fail_at_third)
    with pytest.raises(RuntimeError, match="stop"):
        write_train(tmp_path / "broken", 5, size=SIZE, layout="wds")
    assert sorted(os.listdir(tmp_path)) == ["empty", "full"]


def test_cli_writes_each_layout_and_prints_a_summary(tmp_path, capsys):
    for layout in ("train", "wds", "voc"):
        out = tmp_path / layout
        assert main(["shapes", str(out), "--scenes", "3", "--seed", "1", "--layout", layout, "--size", "40",
                     "--variant", "hard"]) == 0
        line = capsys.readouterr().out.strip()
        assert line.startswith("groupvit shapes: 3 scenes") and "star" in line and "\n" not in line
    assert main(["shapes", str(tmp_path / "train"), "--scenes", "3"]) == 1  # it exists now
    for bad, message in ((["--size", "16"], "size must be"), (["--seed", "-1"], "seed must be"),
                         (["--scenes", "0"], "scenes must be")):
        assert main(["shapes", str(tmp_path / "bad"), "--scenes", "3", *bad]) == 1
        assert message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["train", "voc", "wds"]  # nothing left of the refused requests


def test_no_deep_learning_framework_is_imported():
    code = ("import sys, groupvit.datasets.shapes; "
            "sys.exit(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules) != [])")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_sigterm_during_writing_leaves_no_staged_folder(tmp_path):
    """`groupvit shapes` killed by SIGTERM while writing: exit 143, no OUT and no .OUT.tmp-* beside it."""
    import signal
    import time

    out = tmp_path / "scenes"
    entry = "import sys; from groupvit.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", entry, "shapes", str(out), "--scenes", "20000",
                             "--seed", "0", "--layout", "train", "--size", "64"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not any(p.name.startswith(".scenes.tmp-") for p in tmp_path.iterdir()):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode()
        time.sleep(0.05)
    time.sleep(0.5)  # inside the writing
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
