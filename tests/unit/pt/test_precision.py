"""bfloat16 and int8 PyTorch models: float32 islands, float32 checkpoints in and out, clear refusals."""

import numpy as np
import pytest
import torch
from pt_helpers import make_inputs

from groupvit.pt import GroupViTModel
from groupvit.pt.precision import quantize_int8


def _run(model, inputs, **kw):
    pixels, ids, mask = inputs
    with torch.no_grad():
        return model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True,
                     output_attentions=True, **kw)


def _cos(a, b):
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1).min().item()


def test_bfloat16_model_keeps_its_islands_in_float32_and_stays_close(tiny_model):
    inputs = make_inputs(tiny_model.config)
    ref = _run(tiny_model, inputs)
    model = GroupViTModel(tiny_model.config)
    model.load_state_dict(tiny_model.state_dict())
    model = model.to(torch.bfloat16).eval()
    assert model.text_model.embeddings.token_embedding.weight.dtype == torch.bfloat16
    assert model.logit_scale.dtype == torch.float32
    assert torch.equal(model.logit_scale.detach(), tiny_model.logit_scale.detach())
    out = _run(model, inputs)
    for name in ("image_embeds", "text_embeds", "logits_per_image", "segmentation_logits"):
        assert getattr(out, name).dtype == torch.float32, name
    assert all(a.dtype == torch.float32 for a in out.vision_model_output.attentions)  # the assignment maps
    assert _cos(ref.image_embeds, out.image_embeds) > 0.99 and _cos(ref.text_embeds, out.text_embeds) > 0.99
    assert not torch.equal(ref.image_embeds, out.image_embeds)  # it did run in bfloat16


def test_autocast_leaves_the_assignment_logits_in_float32(tiny_model):
    inputs = make_inputs(tiny_model.config)
    seen = []
    attention = next(m for m in tiny_model.modules() if type(m).__name__ == "GroupViTAssignAttention")
    hook = attention.register_forward_hook(lambda m, args, out: seen.append(out[1].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _run(tiny_model, inputs)
    hook.remove()
    assert seen == [torch.float32]
    assert out.logits_per_image.dtype == torch.float32


def test_from_pretrained_torch_dtype_and_save_pretrained_writes_float32(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path / "f32")
    model = GroupViTModel.from_pretrained(tmp_path / "f32", torch_dtype="bfloat16")
    assert model.vision_model.embeddings.position_embeddings.dtype == torch.bfloat16
    # cast weight by weight while loading: the same as casting the float32 model, logit scale left exact
    assert model.logit_scale.dtype == torch.float32
    assert torch.equal(model.logit_scale.detach(), tiny_model.logit_scale.detach())
    cast = GroupViTModel.from_pretrained(tmp_path / "f32").to(torch.bfloat16).state_dict()
    for name, tensor in model.state_dict().items():
        assert tensor.dtype == cast[name].dtype and torch.equal(tensor, cast[name]), name
    assert GroupViTModel.from_pretrained(tmp_path / "f32", torch_dtype=torch.bfloat16).visual_projection[0] \
        .weight.dtype == torch.bfloat16
    model.save_pretrained(tmp_path / "back")
    back = GroupViTModel.from_pretrained(tmp_path / "back")
    for name, tensor in back.state_dict().items():
        if tensor.is_floating_point():
            assert tensor.dtype == torch.float32, name
            torch.testing.assert_close(tensor, model.state_dict()[name].float(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="torch_dtype must be one of"):
        GroupViTModel.from_pretrained(tmp_path / "f32", torch_dtype="float8")
    half = GroupViTModel.from_pretrained(tmp_path / "f32", dtype=torch.float16)  # as transformers allows
    assert half.dtype == torch.float16 and half.logit_scale.dtype == torch.float32


def test_bfloat16_load_reads_each_float32_tensor_just_before_its_cast(tiny_model, tmp_path, monkeypatch):
    """from_pretrained reads model.safetensors tensor by tensor: at most one float32 array is alive at a time."""
    import gc
    import weakref

    from groupvit.weights_bridge import safetensors_io

    tiny_model.save_pretrained(tmp_path / "f32")
    alive, most, reads = [], [0], [0]
    read = safetensors_io.StoredArray.read

    def counting_read(self):
        array = read(self)
        gc.collect()
        alive[:] = [r for r in alive if r() is not None]
        most[0] = max(most[0], len(alive))  # float32 arrays still held when the next one is read
        alive.append(weakref.ref(array))
        reads[0] += 1
        return array

    monkeypatch.setattr(safetensors_io.StoredArray, "read", counting_read)
    model = GroupViTModel.from_pretrained(tmp_path / "f32", torch_dtype=torch.bfloat16)
    assert reads[0] == len(model.state_dict())  # every weight read lazily
    # alive when the next is read: only arrays that became the storage of a weight kept in its own dtype
    # (the float32 islands: logit scale ...; int64 counters), never one waiting for its cast
    kept = sum(t.dtype != torch.bfloat16 for t in model.state_dict().values())
    assert 0 < kept < 10 and most[0] <= kept
    expected = GroupViTModel.from_pretrained(tmp_path / "f32").to(torch.bfloat16).state_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_int8_quantizes_the_linear_layers_but_not_the_assignment_logits(tiny_model):
    inputs = make_inputs(tiny_model.config)
    ref = _run(tiny_model, inputs)
    model = GroupViTModel(tiny_model.config)
    model.load_state_dict(tiny_model.state_dict())
    model = quantize_int8(model.eval())
    names = {type(m).__name__ for m in model.modules()}
    assert "Int8Linear" in names
    assign = [m for m in model.modules() if type(m).__name__ == "GroupViTAssignAttention"]
    assert assign and all(type(a.q_proj).__name__ != "Int8Linear" and type(a.v_proj).__name__ == "Int8Linear"
                          for a in assign)
    out = _run(model, inputs)
    assert np.isfinite(out.segmentation_logits.numpy()).all()
    assert _cos(ref.text_embeds, out.text_embeds) > 0.9
    with pytest.raises(ValueError, match="starts from a float32 model"):
        quantize_int8(GroupViTModel(tiny_model.config).to(torch.bfloat16))
