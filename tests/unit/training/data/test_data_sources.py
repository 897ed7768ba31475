import json
import os
import tarfile

import numpy as np
import pytest
from data_helpers import CAPTIONS, NOUNS, add_member, image_array, png_bytes, write_folder, write_jsonl, write_shards

from groupvit.training.data import SampleError, SampleStream, SkipCounter, expand_braces, open_source


def _keys(source, seed=0):
    return [ref.key for ref in source.refs(seed)]


def test_jsonl_folder_lists_every_row_in_file_order_and_decodes(jsonl_folder):
    source = open_source(jsonl_folder)
    refs = list(source.refs(0))
    assert [r.caption for r in refs] == CAPTIONS
    assert refs[3].nouns == tuple(NOUNS[3])
    np.testing.assert_array_equal(source.load_image(refs[5]), image_array(5))
    assert source.skips.total == 0
    # The caption file itself is a spec too.
    assert _keys(open_source(os.path.join(jsonl_folder, "captions.jsonl"))) == [r.key for r in refs]


def test_csv_reads_both_noun_spellings(tmp_path):
    source = open_source(write_folder(tmp_path, 12, "csv"))
    refs = list(source.refs(0))
    assert [r.caption for r in refs] == CAPTIONS
    assert [r.nouns for r in refs] == [tuple(n) for n in NOUNS]  # JSON list on even rows, "a;b" on odd ones
    np.testing.assert_array_equal(source.load_image(refs[0]), image_array(0))


def test_expand_braces():
    assert expand_braces("s/{00008..00011}.tar") == ["s/00008.tar", "s/00009.tar", "s/00010.tar", "s/00011.tar"]
    assert expand_braces("{a,b}/{1..2}.tar") == ["a/1.tar", "a/2.tar", "b/1.tar", "b/2.tar"]
    assert expand_braces("{a,{b,c}}.tar") == ["a.tar", "b.tar", "c.tar"]
    assert expand_braces("plain.tar") == ["plain.tar"]


@pytest.mark.parametrize("caption_as", ["txt", "json"])
def test_tar_shards_by_pattern_folder_and_single_file(tmp_path, caption_as):
    shards = write_shards(tmp_path / "shards", 12, 3, caption_as)
    by_pattern = open_source(str(tmp_path / "shards" / "{00000..00002}.tar"))
    by_folder = open_source(tmp_path / "shards")
    refs = list(by_pattern.refs(0))
    assert sorted(r.caption for r in refs) == sorted(CAPTIONS)
    assert _keys(by_folder) == [r.key for r in refs]
    ref = next(r for r in refs if r.key == "000000007")
    assert (ref.member, ref.size) == ("000000007.png", len(png_bytes(7)))
    np.testing.assert_array_equal(by_pattern.load_image(ref), image_array(7))
    if caption_as == "json":
        assert ref.nouns == tuple(NOUNS[7])
    assert _keys(open_source(shards[1])) == [f"{i:09d}" for i in range(4, 8)]


def test_missing_shards_of_a_pattern_are_said_up_front_and_counted_when_reached(tmp_path):
    write_shards(tmp_path / "shards", 12, 3)
    with pytest.warns(UserWarning, match=r"2 of the 5 shards of .* do not exist and are skipped: .*00003.tar"):
        source = open_source(str(tmp_path / "shards" / "{00000..00004}.tar"))
    assert len(list(source.refs(0))) == 12 and source.skips.as_dict() == {"missing_shard": 2}


def test_tar_shard_order_follows_the_epoch_seed(tmp_path):
    write_shards(tmp_path, 12, 3)
    source = open_source(tmp_path)
    orders = {tuple(_keys(source, seed)[::4]) for seed in range(8)}  # first key of each shard
    assert len(orders) > 1
    assert all(sorted(order) == ["000000000", "000000004", "000000008"] for order in orders)
    assert _keys(source, 3) == _keys(source, 3)


def test_specs_that_match_nothing_raise(tmp_path):
    with pytest.raises(ValueError, match="at least one .tar"):
        open_source(str(tmp_path / "{0..3}.tar"))
    with pytest.raises(ValueError, match="captions.jsonl or captions.csv or .tar"):
        open_source(tmp_path)
    with pytest.raises(ValueError, match="dataset spec"):
        open_source(str(tmp_path / "nothing.txt"))


def test_caption_file_skip_reasons_are_counted(tmp_path):
    write_folder(tmp_path, 4)
    with open(tmp_path / "images" / "bad.png", "wb") as f:
        f.write(b"\x89PNG not really")
    rows = [{"image": f"images/{i:03d}.png", "caption": f"caption {i}"} for i in range(4)]
    rows += [{"image": "images/gone.png", "caption": "missing file"},
             {"image": "images/000.png", "caption": "   "},
             {"image": "images/000.png", "caption": "&nbsp; \u3000&amp;nbsp;"},  # nothing left after CLIP's cleaning
             {"image": "images/000.png"},
             {"image": "images/000.png", "caption": "x", "nouns": 3},
             {"image": "images/bad.png", "caption": "corrupt bytes"}]
    write_jsonl(tmp_path / "captions.jsonl", rows, extra_lines=['{"image": "images/001.png", "capt', "[1, 2]"])
    source = open_source(tmp_path)
    refs = list(source.refs(0))
    assert [r.caption for r in refs] == [f"caption {i}" for i in range(4)] + ["corrupt bytes"]
    assert source.skips.as_dict() == {"bad_json": 2, "bad_nouns": 1, "empty_caption": 2,
                                      "missing_caption": 1, "missing_image": 1}
    with pytest.raises(SampleError) as caught:
        source.load_image(refs[-1])
    assert caught.value.reason == "unreadable_image"
    # The stream skips the undecodable image, counts it and fills the batch from the next refs.
    stream = SampleStream(source, 5, 0, 1, seed=0, shuffle_buffer=0)
    batch = next(iter(stream))
    assert [s.ref.caption for s in batch] == [f"caption {i}" for i in range(4)] + ["caption 0"]
    assert source.skips.as_dict()["unreadable_image"] == 1


def _write_tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            add_member(tar, name, data)


def test_tar_skip_reasons_are_counted(tmp_path):
    _write_tar(tmp_path / "00000.tar", [
        ("a.png", png_bytes(0)), ("a.txt", b"fine"),
        ("b.txt", b"no image here"),
        ("c.png", png_bytes(1)),  # no caption
        ("d.png", png_bytes(2)), ("d.txt", b"  \n"),
        ("i.png", png_bytes(6)), ("i.txt", "&nbsp;\u2003".encode()),  # nothing left after CLIP's cleaning
        ("e.png", png_bytes(3)), ("e.json", b"{not json"),
        ("f.jpg", b"garbage bytes"), ("f.json", json.dumps({"caption": "corrupt"}).encode()),
        ("dir/g.png", png_bytes(4)), ("dir/g.txt", b"key up to the first dot"),
        ("h.seg.png", png_bytes(5)), ("h.txt", b"the field is seg.png, not an image"),
    ])
    source = open_source(tmp_path / "00000.tar")
    refs = list(source.refs(0))
    assert [(r.key, r.caption) for r in refs] == [("a", "fine"), ("f", "corrupt"), ("dir/g", "key up to the first dot")]
    assert source.skips.as_dict() == {"bad_json": 1, "empty_caption": 2, "missing_caption": 1, "no_image_member": 2}
    with pytest.raises(SampleError, match="must decode"):
        source.load_image(refs[1])


def _cut_points(shard):
    """Byte offsets inside the last png's data, inside the header before it, and at that header's start."""
    with tarfile.open(shard) as tar:
        last = [m for m in tar.getmembers() if m.name.endswith(".png")][-1]
    return {"mid_data": last.offset_data + last.size // 2, "mid_header": last.offset + 100, "at_header": last.offset}


@pytest.mark.parametrize("where", ["mid_data", "mid_header", "at_header"])
def test_truncated_shard_keeps_the_samples_before_the_damage(tmp_path, where):
    shards = write_shards(tmp_path, 12, 2)
    cut = _cut_points(shards[1])[where]
    with open(shards[1], "rb") as f:
        data = f.read()
    with open(shards[1], "wb") as f:
        f.write(data[:cut])
    source = open_source(tmp_path)
    keys = sorted(_keys(source))
    # The intact shard, then the second one's samples before its last: that one lost its image.
    assert keys == [f"{i:09d}" for i in range(11)]
    assert source.skips.as_dict() == {"truncated_shard": 1}
    for ref in source.refs(0):
        np.testing.assert_array_equal(source.load_image(ref), image_array(int(ref.key)))


def test_a_dataset_with_nothing_usable_names_path_and_counts(tmp_path):
    rows = [{"image": "gone.png", "caption": "x"}, {"image": "gone.png", "caption": ""}]
    write_jsonl(tmp_path / "captions.jsonl", rows, extra_lines=["{oops"])
    stream = SampleStream(open_source(tmp_path), 2, 0, 1, seed=0)
    with pytest.raises(ValueError, match=r"captions.jsonl.*'bad_json': 1, 'empty_caption': 1, 'missing_image': 1"):
        stream.num_samples()
    with pytest.raises(ValueError, match=r"captions.jsonl.*missing_image"):
        next(iter(stream))


def test_a_dataset_whose_images_never_decode_raises(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"broken")
    write_jsonl(tmp_path / "captions.jsonl", [{"image": f"{i}.png", "caption": "x"} for i in range(3)])
    stream = SampleStream(open_source(tmp_path), 2, 0, 1, seed=0)
    with pytest.raises(ValueError, match=r"decode.*'unreadable_image': \d"):
        next(iter(stream))


def test_skip_counter():
    counter = SkipCounter()
    counter.count("b")
    counter.count("a", 2)
    assert counter.as_dict() == {"a": 2, "b": 1} and counter.total == 3


def test_a_csv_with_a_byte_order_mark_reads_as_without(tmp_path):
    """Excel's "CSV UTF-8" starts with a BOM, which became part of the first column's name ("\\ufeffimage")."""
    folder = write_folder(tmp_path, 4, "csv")
    path = os.path.join(folder, "captions.csv")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8-sig") as f:
        f.write(text)
    assert [r.caption for r in open_source(folder).refs(0)] == CAPTIONS[:4]


def test_csv_rows_and_tar_texts_of_bad_utf8_are_skipped_and_counted(tmp_path):
    """Decoding with replacement trained on 'caf\ufffd ...' silently; a .jsonl line of bad UTF-8 is bad_json."""
    folder = write_folder(tmp_path / "csv", 4, "csv")
    with open(os.path.join(folder, "captions.csv"), "ab") as f:
        f.write(b"images/000.png,caf\xe9 \xff\xfe with a red circle,\n")
    source = open_source(folder)
    assert [r.caption for r in source.refs(0)] == CAPTIONS[:4]
    assert source.skips.as_dict() == {"bad_utf8": 1}
    _write_tar(tmp_path / "00000.tar", [("a.png", png_bytes(0)), ("a.txt", b"fine"),
                                        ("b.png", png_bytes(1)), ("b.txt", b"caf\xe9")])
    source = open_source(tmp_path / "00000.tar")
    assert [r.caption for r in source.refs(0)] == ["fine"]
    assert source.skips.as_dict() == {"bad_utf8": 1}


@pytest.mark.parametrize("caption", ["\x00\x01", "\x1b[0m", "\x07", "\x7f", "\u0345"])
def test_a_caption_of_control_characters_is_empty(tmp_path, caption):
    """CLIP's cleaning (ftfy) drops them, and its regex a lone U+0345: the caption would train as start and end
    tokens only."""
    write_folder(tmp_path, 2)
    write_jsonl(tmp_path / "captions.jsonl", [{"image": "images/000.png", "caption": caption},
                                              {"image": "images/001.png", "caption": "a cat"}])
    source = open_source(tmp_path)
    assert [r.caption for r in source.refs(0)] == ["a cat"]
    assert source.skips.as_dict() == {"empty_caption": 1}
