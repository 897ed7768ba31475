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
