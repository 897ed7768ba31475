"""GroupViTLinear: the oneDNN inference path equals nn.Linear's to float32 rounding; gradients take nn.Linear's."""

import pytest
import torch

from groupvit.pt import linear as linear_module
from groupvit.pt.linear import GroupViTLinear


def _layer(seed: int = 0) -> GroupViTLinear:
    torch.manual_seed(seed)
    layer = GroupViTLinear(48, 37)
    with torch.no_grad():
        layer.bias.normal_()
    return layer


def _reference(layer: GroupViTLinear, x: torch.Tensor, activation: str | None) -> torch.Tensor:
    out = torch.nn.functional.linear(x.double(), layer.weight.double(), layer.bias.double())
    return {"gelu": torch.nn.functional.gelu, "relu": torch.relu, None: lambda t: t}[activation](out)


@pytest.mark.parametrize("activation", [None, "gelu", "relu"])
@pytest.mark.parametrize("layout", ["2d", "3d", "strided"])
def test_inference_path_matches_a_float64_product(activation, layout):
    layer = _layer()
    x = torch.randn(3, 48, 11).transpose(1, 2) if layout == "strided" else torch.randn(3, 11, 48)
    if layout == "2d":
        x = x.reshape(-1, 48)
    with torch.no_grad():
        assert layer.uses_onednn(x)
        got = layer(x, fused_activation=activation)
    assert got.shape == (*x.shape[:-1], 37) and got.dtype == torch.float32
    want = _reference(layer, x, activation)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)


def test_gradients_take_the_nn_linear_path():
    layer = _layer(1)
    x = torch.randn(2, 5, 48, requires_grad=True)
    assert not layer.uses_onednn(x)
    out = layer(x, fused_activation="gelu")
    out.square().sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    ref = torch.nn.functional.gelu(torch.nn.functional.linear(x2, layer.weight, layer.bias))
    grad_w = torch.autograd.grad(ref.square().sum(), layer.weight)[0]
    torch.testing.assert_close(layer.weight.grad, grad_w)


def test_without_onednn_the_plain_path_is_used(monkeypatch):
    layer = _layer(2)
    x = torch.randn(4, 48)
    monkeypatch.setattr(linear_module, "_ONEDNN", False)
    with torch.no_grad():
        assert not layer.uses_onednn(x)
        got = layer(x, fused_activation="relu")
    torch.testing.assert_close(got, torch.relu(torch.nn.functional.linear(x, layer.weight, layer.bias)))


def test_state_dict_keys_are_nn_linears():
    assert set(_layer().state_dict()) == {"weight", "bias"}


def test_autocast_decides_the_products_dtype():
    """Under torch.autocast the layer must take F.linear's path, which autocast runs in bfloat16 (the oneDNN op is
    not an autocast op: it kept every product of an autocast model in float32)."""
    layer = _layer(3)
    x = torch.randn(6, 48)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert not layer.uses_onednn(x)
        got = layer(x, fused_activation="gelu")
        want = torch.nn.functional.gelu(torch.nn.functional.linear(x, layer.weight, layer.bias))
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("activation", [None, "gelu"])
def test_a_bfloat16_layer_runs_on_onednn_to_bfloat16_rounding(activation):
    layer = _layer(4).to(torch.bfloat16)
    x = torch.randn(2, 9, 48).to(torch.bfloat16)
    with torch.no_grad():
        # oneDNN where the CPU has its bfloat16 kernels (this project's machines do), F.linear elsewhere
        assert layer.uses_onednn(x) == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        got = layer(x, fused_activation=activation)
        plain = {"gelu": torch.nn.functional.gelu, None: lambda t: t}[activation](
            torch.nn.functional.linear(x, layer.weight, layer.bias))
    assert got.dtype == torch.bfloat16
    want = _reference(layer, x, activation)
    # one bfloat16 rounding of the output (2^-8 relative) on top of float32 accumulation, like the plain path
    torch.testing.assert_close(got.double(), want, rtol=2 ** -8, atol=1e-2)
    torch.testing.assert_close(got.double(), plain.double(), rtol=2 ** -7, atol=1e-2)
