"""Files written by real torch.save, read back by our torch-free reader (pt environment only)."""

import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

import torch  # noqa: E402

from bridge_helpers import assert_same_weights, random_weights  # noqa: E402
from groupvit.weights_bridge import load_checkpoint  # noqa: E402
from groupvit.weights_bridge.frameworks import load_into_torch_model, torch_state_dict_to_numpy  # noqa: E402
from groupvit.weights_bridge.nvlabs_pth import canonical_to_authors  # noqa: E402
from tiny_configs import tiny_config  # noqa: E402


def test_state_dict_of_our_model_via_torch_save(tmp_path):
    from groupvit.pt import GroupViTModel

    config = tiny_config()
    torch.manual_seed(0)
    model = GroupViTModel(config)
    state = model.state_dict()
    config.save_pretrained(tmp_path)
    torch.save(state, tmp_path / "pytorch_model.bin")
    _, loaded = load_checkpoint(tmp_path)
    reference = torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    assert_same_weights(torch_state_dict_to_numpy(reference), loaded)

    fresh = GroupViTModel(config)
    load_into_torch_model(fresh, config, loaded)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("zip_format", [True, False])
def test_half_precision_and_views_are_read_exactly(tmp_path, zip_format):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = OrderedDict(
        half=base.half(),
        bf16=(base / 7).bfloat16(),
        view=base[1:, ::2],  # shares storage, offset and strides
        transposed=base.t(),
        scalar=torch.tensor(3, dtype=torch.int64),
    )
    if not zip_format:  # the legacy stream format has no bfloat16 here
        del state["bf16"]
    torch.save(state, tmp_path / "x.bin", _use_new_zipfile_serialization=zip_format)
    from groupvit.weights_bridge.torch_pickle import load_torch_file

    got = load_torch_file(tmp_path / "x.bin")
    np.testing.assert_array_equal(got["half"], state["half"].numpy())
    if zip_format:
        np.testing.assert_array_equal(got["bf16"], state["bf16"].float().numpy())
    np.testing.assert_array_equal(got["view"], state["view"].numpy())
    np.testing.assert_array_equal(got["transposed"], state["transposed"].numpy())
    assert got["scalar"].shape == () and got["scalar"] == 3


@pytest.fixture
def fake_omegaconf(monkeypatch):
    """A stand-in omegaconf module, present only while torch.save pickles the checkpoint."""
    module = types.ModuleType("omegaconf_stub_for_test")

    class DictConfig:
        def __init__(self, content):
            self._content = content

    DictConfig.__module__ = module.__name__
    DictConfig.__qualname__ = "DictConfig"
    module.DictConfig = DictConfig
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_legacy_format_state_dict(tmp_path):
    config = tiny_config()
    weights = random_weights(config, seed=5)
    config.save_pretrained(tmp_path)
    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    torch.save(state, tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    _, loaded = load_checkpoint(tmp_path)
    assert_same_weights(weights, loaded)


def test_authors_pth_written_by_torch_save(tmp_path, fake_omegaconf, monkeypatch):
    config = tiny_config()
    weights = random_weights(config, seed=3)
    authors = {k: torch.from_numpy(v) for k, v in canonical_to_authors(config, weights).items()}
    authors["multi_label_logit_scale"] = torch.nn.Parameter(torch.tensor(2.0))
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.AdamW([param])
    param.sum().backward()
    optimizer.step()
    checkpoint = {
        "model": authors,
        "optimizer": optimizer.state_dict(),
        "lr_scheduler": {"last_epoch": 3},
        "config": fake_omegaconf.DictConfig({"model": {"type": "MultiLabelContrastive"}}),
        "epoch": 29,
    }
    torch.save(checkpoint, tmp_path / "group_vit_tiny.pth")
    monkeypatch.delitem(sys.modules, fake_omegaconf.__name__)  # the reader must not need it
    loaded_config, loaded = load_checkpoint(tmp_path / "group_vit_tiny.pth", config=config)
    assert_same_weights(weights, loaded)


def test_bfloat16_safetensors_are_widened_exactly(tmp_path):
    """A checkpoint saved in bfloat16 (`model.to(torch.bfloat16).save_pretrained(...)`): numpy has no bfloat16, so each
    value is read as float32, equal to torch's own widening of the same file."""
    from safetensors.torch import load_file, save_file

    from groupvit.weights_bridge.safetensors_io import read_safetensors

    values = {"w": torch.randn(5, 7, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16),
              "scalar": torch.tensor(-3.140625, dtype=torch.bfloat16),
              "extremes": torch.tensor([float("inf"), -0.0, 1e-40, 3.0e38], dtype=torch.bfloat16)}
    save_file(values, str(tmp_path / "bf16.safetensors"))
    reference = {k: v.float().numpy() for k, v in load_file(str(tmp_path / "bf16.safetensors")).items()}
    for lazy in (False, True):
        got = read_safetensors(tmp_path / "bf16.safetensors", lazy=lazy)
        for key, value in reference.items():
            array = np.asarray(got[key])
            assert array.dtype == np.float32 and array.shape == value.shape, key
            assert array.tobytes() == value.tobytes(), key


@pytest.mark.parametrize("layout", ["bare state dict", "DDP-wrapped keys", "under state_dict"])
def test_authors_weights_saved_other_ways(tmp_path, layout):
    """A state dict of the authors' model saved on its own, from a DistributedDataParallel-wrapped model
    (`module.` before every key) or under `state_dict`: the same weights."""
    config = tiny_config()
    weights = random_weights(config, seed=5)
    authors = {k: torch.from_numpy(v) for k, v in canonical_to_authors(config, weights).items()}
    if layout == "DDP-wrapped keys":
        obj = {"model": {f"module.{k}": v for k, v in authors.items()}, "epoch": 3}
    elif layout == "under state_dict":
        obj = {"state_dict": authors, "epoch": 3}
    else:
        obj = authors
    torch.save(obj, tmp_path / "mine.pth")
    _, loaded = load_checkpoint(tmp_path / "mine.pth", config=config)
    assert_same_weights(weights, loaded)
