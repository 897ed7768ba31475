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


@pytest.fixture
def packing():
    """Weight packing on for one test (it is opt-in), off again after it."""
    linear_module.set_weight_packing(True)
    yield
    linear_module.set_weight_packing(False)


def test_packing_is_off_by_default():
    layer = _layer(8)
    with torch.no_grad():
        layer(torch.randn(3, 48))
    assert "_packed" not in layer.__dict__


def _unpacked(layer: GroupViTLinear, x: torch.Tensor, activation: str | None) -> torch.Tensor:
    """oneDNN's op given the weight as it is (what the layer ran before it kept a packed copy)."""
    post_op, algorithm = linear_module.FUSABLE_ACTIVATIONS[activation] if activation else ("none", "")
    return torch.ops.mkldnn._linear_pointwise(x, layer.weight, layer.bias, post_op, [], algorithm)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_small_products_use_a_packed_weight(dtype, packing):
    layer = _layer(5).to(dtype)
    if dtype == torch.bfloat16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        x = torch.randn(7, 48).to(dtype)  # no oneDNN bfloat16 kernels: F.linear's path, nothing packed
        with torch.no_grad():
            assert torch.equal(layer(x), torch.nn.functional.linear(x, layer.weight, layer.bias))
        assert "_packed" not in layer.__dict__
        return
    activation = "gelu" if dtype == torch.float32 else None
    # the packed kernel may block the sum differently: float32 rounding, as the unpacked op's against float64
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 2 ** -7, "atol": 1e-2}
    with torch.no_grad():
        for rows in (1, 7, linear_module.PACKED_MAX_ROWS):
            x = torch.randn(rows, 48).to(dtype)
            got = layer(x, fused_activation=activation)
            torch.testing.assert_close(got.double(), _reference(layer, x, activation), **tolerance)
            torch.testing.assert_close(got, _unpacked(layer, x, activation), **tolerance)
        key, packed = layer.__dict__["_packed"][1:]
        assert packed.layout == torch._mkldnn and key[1] == layer.weight._version
        big = torch.randn(linear_module.PACKED_MAX_ROWS + 1, 48).to(dtype)
        assert layer._weight_for(big) is layer.weight
        assert torch.equal(layer(big, fused_activation=activation), _unpacked(layer, big, activation))


def test_the_packed_copy_follows_every_change_of_the_weight(packing):
    layer = _layer(6)
    x = torch.randn(5, 48)

    def check():
        with torch.no_grad():
            got = layer(x)
        torch.testing.assert_close(got, torch.nn.functional.linear(x, layer.weight, layer.bias), rtol=0, atol=1e-5)

    check()
    layer.load_state_dict({"weight": torch.randn(37, 48), "bias": torch.randn(37)})  # in place: the version moves
    check()
    with torch.no_grad():
        layer.weight.mul_(-2)
    check()
    layer.weight = torch.nn.Parameter(torch.randn(37, 48))  # another tensor
    check()
    with torch.no_grad():
        layer(x)
    before = layer.__dict__["_packed"][2]
    layer.to(torch.bfloat16).to(torch.float32)  # new, rounded values in the same parameter, its version unchanged
    assert "_packed" not in layer.__dict__  # dropped by the cast (the old address may come back)
    check()
    assert layer.__dict__["_packed"][2] is not before
    with torch.no_grad():
        layer.weight.data.zero_()  # bypasses the version counter: documented, the packed copy must be cleared
    linear_module.clear_packed_weights(layer)
    check()


def test_the_packed_copy_is_not_pickled_copied_or_made_when_packing_is_off(packing):
    import copy
    import pickle

    layer = _layer(7)
    x = torch.randn(3, 48)
    with torch.no_grad():
        want = layer(x)
    assert "_packed" in layer.__dict__
    for twin in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert "_packed" not in twin.__dict__
        with torch.no_grad():
            assert torch.equal(twin(x), want)
    fresh = _layer(7)
    linear_module.set_weight_packing(False)
    with torch.no_grad():
        assert torch.equal(fresh(x), want)
    assert "_packed" not in fresh.__dict__


def test_a_whole_model_with_packed_weights_gives_the_same_outputs(packing):
    from groupvit.pt import GroupViTModel
    from pt_helpers import make_inputs, randomize
    from tiny_configs import tiny_config

    torch.manual_seed(0)
    model = randomize(GroupViTModel(tiny_config())).eval()
    pixels, ids, mask = make_inputs(model.config, n_images=2, n_texts=3)
    linear_module.set_weight_packing(False)
    with torch.no_grad():
        want = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
    linear_module.set_weight_packing(True)
    with torch.no_grad():
        got = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
    layers = [m for m in model.modules() if isinstance(m, GroupViTLinear)]
    assert layers and all("_packed" in m.__dict__ for m in layers)
    for name in ("logits_per_image", "text_embeds", "image_embeds", "segmentation_logits"):
        torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=1e-5, atol=1e-5)
