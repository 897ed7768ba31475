"""Checkpoints by Hugging Face hub id, offline: a cache laid out as huggingface_hub writes it
(models--org--name/{blobs, refs/main, snapshots/REV}, snapshot files linked to blobs); no network."""

import hashlib
import os
import shutil
import sys

import numpy as np
import pytest

from groupvit.weights_bridge import save_checkpoint
from seg_helpers import write_tiny_tokenizer

REPO = "someorg/groupvit-tiny"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _cache(root, config, weights, refs=("main",)):
    """root/models--someorg--groupvit-tiny: every file a blob named by its sha256, linked from the snapshot."""
    source = root / "source"
    save_checkpoint(config, weights, source, format="safetensors")
    write_tiny_tokenizer(source)
    repo = root / "cache" / f"models--{REPO.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    for name in os.listdir(source):
        data = (source / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    (repo / "refs").mkdir()
    for ref in refs:
        (repo / "refs" / ref).write_text(REVISION)
    return root / "cache"


@pytest.fixture()
def cache(tmp_path, tiny_setup, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config, weights = tiny_setup
    return _cache(tmp_path, config, weights)


def test_both_backends_the_tokenizer_and_the_bridge_load_a_cached_hub_id(cache, tiny_setup):
    from groupvit.pt import GroupViTModel
    from groupvit.tf import TFGroupViTModel
    from groupvit.tokenizer import load_tokenizer
    from groupvit.weights_bridge import load_checkpoint

    config, weights = tiny_setup
    pt_model = GroupViTModel.from_pretrained(REPO, cache_dir=cache)
    tf_model = TFGroupViTModel.from_pretrained(REPO, cache_dir=cache, revision=REVISION)
    np.testing.assert_array_equal(pt_model.logit_scale.detach().numpy(), weights["logit_scale"])
    np.testing.assert_array_equal(tf_model.logit_scale.numpy(), weights["logit_scale"])
    _, loaded = load_checkpoint(REPO, cache_dir=cache, local_files_only=True)
    assert loaded.keys() >= {k for k in weights if not k.endswith("position_ids")}
    ids, _ = load_tokenizer(REPO, cache_dir=cache)(["a cat"])
    assert ids[0, 0] == 97  # the tiny vocabulary's start token


def test_hf_hub_cache_variable_is_the_default_cache(cache, monkeypatch):
    import huggingface_hub.constants

    from groupvit.pt import GroupViTModel

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert GroupViTModel.from_pretrained(REPO).config.projection_dim > 0


def test_missing_id_or_revision_names_both_and_where_it_looked(cache):
    from groupvit.pt import GroupViTModel

    with pytest.raises(FileNotFoundError, match=r"'someorg/other' at revision 'main', not found offline.*cache"):
        GroupViTModel.from_pretrained("someorg/other", cache_dir=cache)
    with pytest.raises(FileNotFoundError, match=r"at revision 'v9'"):
        GroupViTModel.from_pretrained(REPO, cache_dir=cache, revision="v9")


def test_a_local_folder_wins_over_an_id_of_the_same_spelling(cache, tmp_path, tiny_setup, monkeypatch):
    from groupvit.pt import GroupViTModel

    config, weights = tiny_setup
    local = {**weights, "logit_scale": np.asarray(1.25, np.float32)}
    save_checkpoint(config, local, tmp_path / "work" / REPO, format="safetensors")
    monkeypatch.chdir(tmp_path / "work")
    assert float(GroupViTModel.from_pretrained(REPO, cache_dir=cache).logit_scale) == 1.25


def test_without_huggingface_hub_the_error_says_how_to_get_it(cache, monkeypatch):
    from groupvit.pt import GroupViTModel

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(FileNotFoundError, match=r"needs huggingface_hub: pip install \"groupvit\[hub\]\""):
        GroupViTModel.from_pretrained(REPO, cache_dir=cache)


def test_the_segment_cli_takes_a_hub_id(cache, tmp_path, monkeypatch, capsys):
    from groupvit.cli import main
    from groupvit.png import write_png
    from seg_helpers import sample_image

    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    write_png(tmp_path / "in.png", sample_image())
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "in.png"), "--checkpoint", REPO, "--labels", "cat,dog",
                 "--out", str(out), "--short-side", "30", "--mode", "whole", "--templates", "1"]) == 0
    assert any(name.endswith(".png") for name in os.listdir(out))
    shutil.rmtree(out)


def test_online_only_the_needed_files_are_asked_for(monkeypatch, tmp_path):
    import huggingface_hub

    from groupvit import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    files = ["README.md", "config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5", "vocab.json",
             "merges.txt", "tokenizer.json", "special_tokens_map.json", "tokenizer_config.json", ".gitattributes"]
    asked = {}
    listed = {}
    monkeypatch.setattr(huggingface_hub, "list_repo_files",
                        lambda repo, revision=None, **kw: listed.update(kw) or files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, **kw: asked.update(kw) or str(tmp_path))
    assert hub.snapshot(REPO, cache_dir=tmp_path) == str(tmp_path)
    assert sorted(asked["allow_patterns"]) == sorted(["config.json", "model.safetensors", "vocab.json", "merges.txt",
                                                      "tokenizer.json", "special_tokens_map.json",
                                                      "tokenizer_config.json"])
    assert asked["revision"] == "main" and asked["cache_dir"] == str(tmp_path)
    # within a process an id resolves once: the config, weights and tokenizer read in turn ask the hub once
    calls = []
    monkeypatch.setattr(huggingface_hub, "list_repo_files",
                        lambda repo, revision=None, **kw: calls.append(repo) or listed.update(kw) or files)
    assert hub.snapshot(REPO, cache_dir=tmp_path) == str(tmp_path) and calls == []
    hub._RESOLVED.clear()  # as a new process
    # a sharded checkpoint: the index and its shards, not the shards of another format
    files[:] = ["config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors", "tf_model.h5", "tf_model-00001-of-00002.h5", "README.md"]
    hub.snapshot(REPO, cache_dir=tmp_path)
    assert sorted(asked["allow_patterns"]) == ["config.json", "model-00001-of-00002.safetensors",
                                               "model-00002-of-00002.safetensors", "model.safetensors.index.json"]
    assert "token" not in asked and "token" not in listed and "force_download" not in asked
    hub.snapshot(REPO, cache_dir=tmp_path, token="hf_x", force_download=True)  # passed on as huggingface_hub's;
    # force_download asks again
    assert asked["token"] == listed["token"] == "hf_x" and asked["force_download"] is True


class _Unreachable(Exception):
    """What an HTTP client raises without a network: not an OSError, not one of huggingface_hub's errors."""


def _no_network(monkeypatch):
    import huggingface_hub

    def fail(*args, **kwargs):
        if kwargs.get("local_files_only"):
            return real(*args, **kwargs)
        raise _Unreachable("[Errno -2] Name or service not known")

    real = huggingface_hub.snapshot_download
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "list_repo_files", fail)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fail)


def test_without_a_network_a_cached_id_still_loads(cache, monkeypatch, tiny_setup):
    from groupvit.pt import GroupViTModel

    _no_network(monkeypatch)
    _, weights = tiny_setup
    model = GroupViTModel.from_pretrained(REPO, cache_dir=cache)
    np.testing.assert_array_equal(model.logit_scale.detach().numpy(), weights["logit_scale"])


def test_without_a_network_an_uncached_id_is_a_clear_error_in_the_cli(cache, monkeypatch, tmp_path, capsys):
    from groupvit.cli import main
    from groupvit.png import write_png
    from seg_helpers import sample_image

    _no_network(monkeypatch)
    write_png(tmp_path / "in.png", sample_image())
    assert main(["segment", str(tmp_path / "in.png"), "--checkpoint", "someorg/other", "--labels", "cat",
                 "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "the hub could not be reached (_Unreachable: [Errno -2]" in err and "'someorg/other'" in err
    assert "Traceback" not in err
