"""Sharded checkpoints (an index and its shards, as transformers' save_pretrained(max_shard_size=...) writes
them): read exactly as the unsharded file, and every way an index can be wrong named. The files of the ports
themselves are read in tests/reference (transformers 5) and tests/legacy_tf (the Keras 2 port)."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from bridge_helpers import assert_same_weights
from groupvit.weights_bridge import CheckpointFormatError, convert, load_checkpoint
from groupvit.weights_bridge.checkpoint import locate


def write_sharded(folder, config, weights, shards=3, index_name="model.safetensors.index.json"):
    """The layout of transformers' sharded safetensors: model-0000i-of-0000n.safetensors + the index."""
    keys = sorted(weights)  # logit_scale first
    groups = np.array_split(np.arange(len(keys)), shards)
    weight_map = {}
    for i, group in enumerate(groups, start=1):
        name = f"model-{i:05d}-of-{shards:05d}.safetensors"
        part = {keys[j]: np.require(weights[keys[j]], requirements="C") for j in group}
        save_file(part, str(folder / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in part})
    total = sum(v.nbytes for v in weights.values())
    (folder / index_name).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    config.save_pretrained(folder)
    return weight_map


def test_sharded_safetensors_read_as_the_whole_file(tmp_path, config, weights):
    write_sharded(tmp_path, config, weights)
    fmt, path = locate(tmp_path)
    assert fmt.name == "safetensors-sharded" and path.endswith("model.safetensors.index.json")
    _, got = load_checkpoint(tmp_path)
    assert_same_weights(got, weights)
    _, lazy = load_checkpoint(tmp_path, lazy=True)
    assert not isinstance(lazy["logit_scale"], np.ndarray)  # read when converted, shard by shard
    assert_same_weights({k: np.asarray(v) for k, v in lazy.items()}, weights)
    _, by_index_file = load_checkpoint(tmp_path / "model.safetensors.index.json")
    assert_same_weights(by_index_file, weights)


def test_a_single_file_wins_over_an_index_as_in_transformers(tmp_path, config, weights):
    write_sharded(tmp_path, config, weights)
    save_file({"x": np.zeros(1, np.float32)}, str(tmp_path / "model.safetensors"))
    assert locate(tmp_path)[1].endswith("model.safetensors")


def test_convert_reads_a_sharded_checkpoint_and_leaves_it_alone(tmp_path, config, weights):
    src = tmp_path / "src"
    src.mkdir()
    write_sharded(src, config, weights)
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    convert(src, tmp_path / "h5", format="h5")
    _, got = load_checkpoint(tmp_path / "h5")
    assert_same_weights(got, weights, skip_counters=True)  # the Keras 2 layout has no BatchNorm counters
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


def _edit_index(folder, edit):
    path = folder / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    edit(index)
    path.write_text(json.dumps(index))


@pytest.mark.parametrize("edit, message", [
    (lambda ix: ix["weight_map"].update(logit_scale="../model-00001-of-00003.safetensors"), "not a plain file name"),
    (lambda ix: ix["weight_map"].update(logit_scale="/tmp/model-00001-of-00003.safetensors"),
     "not a plain file name"),
    (lambda ix: ix["weight_map"].update(logit_scale="model-00009-of-00009.safetensors"), "not in"),
    (lambda ix: ix["weight_map"].pop("logit_scale"), "assigns elsewhere or not at all"),
    (lambda ix: ix.pop("weight_map"), "no non-empty weight_map"),
    (lambda ix: ix.update(weight_map={}), "no non-empty weight_map"),
    (lambda ix: ix["weight_map"].update(logit_scale=3), "not a plain file name"),
])
def test_a_wrong_index_is_named(tmp_path, config, weights, edit, message):
    assert write_sharded(tmp_path, config, weights)["logit_scale"] == "model-00001-of-00003.safetensors"
    _edit_index(tmp_path, edit)
    with pytest.raises(CheckpointFormatError, match="model.safetensors.index.json must be"):
        try:
            load_checkpoint(tmp_path)
        except CheckpointFormatError as err:
            assert message in str(err), err
            raise


def test_a_weight_held_by_two_shards_is_refused(tmp_path, config, weights):
    write_sharded(tmp_path, config, weights)
    first = tmp_path / "model-00001-of-00003.safetensors"
    second = tmp_path / "model-00002-of-00003.safetensors"
    from groupvit.weights_bridge.safetensors_io import read_safetensors

    part = read_safetensors(second)
    part["logit_scale"] = np.asarray(weights["logit_scale"])
    save_file(part, str(second))
    _edit_index(tmp_path, lambda ix: None)
    with pytest.raises(CheckpointFormatError, match="assigns elsewhere"):
        load_checkpoint(tmp_path)
    assert first.exists()


def test_an_index_that_is_not_json_is_named(tmp_path, config, weights):
    write_sharded(tmp_path, config, weights)
    (tmp_path / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(CheckpointFormatError, match="a file that is not JSON"):
        load_checkpoint(tmp_path)


def test_shards_of_pytorch_and_tensorflow_names_are_not_mixed(tmp_path, config, weights):
    write_sharded(tmp_path, config, weights)
    shard = tmp_path / "model-00002-of-00003.safetensors"
    from groupvit.weights_bridge.safetensors_io import read_safetensors

    save_file(read_safetensors(shard), str(shard), metadata={"format": "tf"})
    with pytest.raises(CheckpointFormatError, match="all hold PyTorch or all TensorFlow"):
        load_checkpoint(tmp_path)


def test_an_unknown_safetensors_format_tag_is_named(tmp_path, config, weights):
    config.save_pretrained(tmp_path)
    save_file({k: np.require(v, requirements="C") for k, v in weights.items()}, str(tmp_path / "model.safetensors"),
              metadata={"format": "flax"})
    with pytest.raises(CheckpointFormatError, match="metadata format 'flax'"):
        load_checkpoint(tmp_path)
