"""Our PyTorch backend against the transformers 5.x PyTorch port, on the same random weights.

Every output is compared: logits, embeddings, segmentation logits, loss, the vision tower's
hidden states and soft assignment maps, the text tower's hidden states and attentions; in eval
mode and in train mode with the same injected gumbel noise (there also the gradients).
"""

import pytest
import torch
import transformers
from port_helpers import (assert_activation_close, assert_close, assert_close_relative_to_max, build_pair, inputs_for,
                          noise_for)

from groupvit.configs import SUPPORTED_ACTIVATIONS, GroupViTConfig
from tiny_configs import tiny_config

CONFIGS = {
    "default": lambda: GroupViTConfig(),
    "tiny_three_stage": lambda: tiny_config("three_stage"),
    "two_stage": lambda: tiny_config("two_stage"),
    "two_grouping": lambda: tiny_config("two_grouping"),
    "four_stage": lambda: tiny_config("four_stage"),
    # a size that is not a multiple of the patch (3): both ports floor the grid and drop the partial patch
    "partial_patch": lambda: tiny_config("two_grouping", vision={"image_size": [31, 32]}),
    "plain_then_grouping": lambda: tiny_config("plain_then_grouping"),
    "empty_stage": lambda: tiny_config("empty_stage"),
}
ATOL = 1e-5  # float32 rounding of two implementations that order a few sums differently
GRAD_ATOL = 1e-4  # gradients accumulate more rounding than activations


def _run(model, pixels, ids, mask, **kw):
    return model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_hidden_states=True,
                 output_segmentation=True, return_loss=True, **kw)


def _compare_outputs(ours, ref, logit_atol=ATOL):
    for name in ("text_embeds", "image_embeds", "loss"):
        assert_close(ours[name], ref[name], ATOL, name)
    for name in ("logits_per_image", "logits_per_text"):
        assert_close(ours[name], ref[name], logit_atol, name)
    assert_close_relative_to_max(ours.segmentation_logits, ref.segmentation_logits, 1e-5, "segmentation_logits")
    ov, rv = ours.vision_model_output, ref.vision_model_output
    assert_activation_close(ov.last_hidden_state, rv.last_hidden_state, "vision last_hidden_state")
    assert_close(ov.pooler_output, rv.pooler_output, ATOL, "vision pooler_output")
    assert len(ov.hidden_states) == len(rv.hidden_states) and len(ov.attentions) == len(rv.attentions)
    for i, (a, b) in enumerate(zip(ov.hidden_states, rv.hidden_states)):
        assert_activation_close(a, b, f"vision hidden_states[{i}]")
    for i, (a, b) in enumerate(zip(ov.attentions, rv.attentions)):
        assert_close(a, b, ATOL, f"vision soft assignment map {i}")
    assert_close(ours.text_model_output.pooler_output, ref.text_model_output.pooler_output, ATOL, "text pooled")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_eval_mode_every_output(name):
    config = CONFIGS[name]()
    ours, ref, _ = build_pair(config)
    pixels, ids, mask = inputs_for(config, n_images=3, n_texts=3, length=12)
    with torch.no_grad():
        a = _run(ours, pixels, ids, mask)
        b = _run(ref, pixels, ids, mask)
    _compare_outputs(a, b)


@pytest.mark.parametrize("name", ["tiny_three_stage", "four_stage", "two_stage"])
def test_unequal_batches_and_left_padding(name):
    config = CONFIGS[name]()
    ours, ref, _ = build_pair(config, seed=3)
    pixels, ids, mask = inputs_for(config, n_images=1, n_texts=4, length=9)
    mask[2, :2] = 0  # left padding: a fully masked first row
    with torch.no_grad():
        a = ours(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
        b = ref(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
    assert_close(a.logits_per_image, b.logits_per_image, ATOL, "logits_per_image")
    assert_close_relative_to_max(a.segmentation_logits, b.segmentation_logits, 1e-5, "segmentation_logits")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_train_mode_same_gumbel_noise_loss_and_gradients(name, inject_port_noise):
    config = CONFIGS[name]()
    ours, ref, _ = build_pair(config, seed=1)
    ours.train(), ref.train()
    pixels, ids, mask = inputs_for(config, n_images=4, n_texts=4, length=10)
    noise = noise_for(config, n_images=4)
    fake = inject_port_noise(noise)
    a = _run(ours, pixels, ids, mask, gumbel_noise=noise)
    b = _run(ref, pixels, ids, mask)
    assert fake.calls == len(noise)
    # Train-mode BatchNorm normalizes with the statistics of 4 samples, which magnifies the ~1e-7
    # rounding of the fused attention (embeddings still agree to 1e-5, checked as such); logits then
    # multiply cosines by s = exp(logit_scale) ~ 10 (measured: 1.0e-5 and 1.4e-5 on two configs).
    # So in train mode the logits are held to 1e-5 on the cosine scale: atol 1e-5 * s.
    _compare_outputs(a, b, logit_atol=ATOL * float(ref.logit_scale.exp()))
    a.loss.backward(), b.loss.backward()
    ref_params = dict(ref.named_parameters())
    for key, param in ours.named_parameters():
        other = ref_params[key].grad
        if param.grad is None or other is None:
            assert param.grad is None and (other is None or not other.any()), key
            continue
        assert_close(param.grad, other, GRAD_ATOL, f"grad {key}")
    # running statistics moved the same way
    for key, value in ours.state_dict().items():
        if "running" in key:
            assert_close(value, ref.state_dict()[key], ATOL, key)


@pytest.mark.parametrize("name", ["default", "tiny_three_stage"])
def test_text_tower_hidden_states_and_attentions(name):
    config = CONFIGS[name]()
    ours, ref, state = build_pair(config, seed=2)
    port_text = transformers.GroupViTTextModel(transformers.GroupViTTextConfig.from_dict(config.text_config.to_dict()))
    port_text.load_state_dict({k: v for k, v in state.items() if k.startswith("text_model.")})
    port_text.eval()
    _, ids, mask = inputs_for(config, n_images=1, n_texts=3, length=11)
    with torch.no_grad():
        a = ours.text_model(ids, mask, output_attentions=True, output_hidden_states=True)
        b = port_text(input_ids=ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
    assert len(a.hidden_states) == len(b.hidden_states) == config.text_config.num_hidden_layers + 1
    for i, (x, y) in enumerate(zip(a.hidden_states, b.hidden_states)):
        assert_activation_close(x, y, f"text hidden_states[{i}]")
    for i, (x, y) in enumerate(zip(a.attentions, b.attentions)):
        assert_close(x, y, ATOL, f"text attentions[{i}]")
    assert_activation_close(a.last_hidden_state, b.last_hidden_state, "text last_hidden_state")


def test_legacy_eos_2_pooling():
    config = tiny_config(text={"eos_token_id": 2})
    ours, ref, _ = build_pair(config)
    pixels, ids, mask = inputs_for(tiny_config(), n_images=2, n_texts=2, length=8)
    with torch.no_grad():
        assert_close(ours(input_ids=ids, pixel_values=pixels).text_embeds,
                     ref(input_ids=ids, pixel_values=pixels).text_embeds, ATOL, "legacy pooling")


@pytest.mark.parametrize("name, size", [("default", (160, 288)), ("default", (320, 320)),
                                        ("tiny_three_stage", (42, 21)), ("four_stage", (36, 36))])
def test_interpolate_pos_encoding_against_port_embeddings(name, size):
    """The port cannot reach the flag from its model; call its embeddings module directly."""
    config = CONFIGS[name]()
    ours, ref, _ = build_pair(config)
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        a = ours.vision_model.embeddings(pixels, interpolate_pos_encoding=True)
        b = ref.vision_model.embeddings(pixels, interpolate_pos_encoding=True)
        assert_close(a, b, ATOL, "interpolated embeddings")
        _, ids, _ = inputs_for(config, 1, 2, 6)
        out = ours(input_ids=ids, pixel_values=pixels, interpolate_pos_encoding=True, output_segmentation=True)
    assert out.segmentation_logits.shape == (2, 2, *size)
    assert torch.isfinite(out.segmentation_logits).all()


@pytest.mark.parametrize("safe", [True, False])
def test_port_checkpoint_directory_loads(tmp_path, safe):
    config = GroupViTConfig()
    _, ref, _ = build_pair(config, seed=5)
    if safe:
        ref.save_pretrained(tmp_path)
    else:  # transformers 5 writes only safetensors; a .bin is the same state dict through torch.save
        ref.config.save_pretrained(tmp_path)
        torch.save(ref.state_dict(), tmp_path / "pytorch_model.bin")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert ("model.safetensors" if safe else "pytorch_model.bin") in files, files
    from groupvit.pt import GroupViTModel

    _assert_same_answers(GroupViTModel.from_pretrained(tmp_path), ref, config, length=9)


def _assert_same_answers(ours, ref, config, length):
    pixels, ids, mask = inputs_for(config, n_images=2, n_texts=2, length=length)
    with torch.no_grad():
        a = ours(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
        b = ref(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
    assert_close(a.logits_per_image, b.logits_per_image, ATOL, "logits")
    assert_close_relative_to_max(a.segmentation_logits, b.segmentation_logits, 1e-5, "segmentation_logits")


@pytest.mark.parametrize("name", SUPPORTED_ACTIVATIONS)
def test_every_activation_name_computes_as_the_ports_act2fn(name):
    from transformers.activations import ACT2FN

    from groupvit.pt.activations import get_activation

    x = torch.linspace(-12, 12, 481, dtype=torch.float32)
    assert_close(get_activation(name)(x), ACT2FN[name](x), 1e-6, name)


def test_a_model_with_a_less_common_activation_equals_the_port():
    config = tiny_config(text={"hidden_act": "mish"}, vision={"hidden_act": "gelu_10"})
    ours, ref, _ = build_pair(config)
    pixels, ids, mask = inputs_for(config, n_images=2, n_texts=2, length=8)
    with torch.no_grad():
        a = ours(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
        b = ref(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
    assert_close(a.text_embeds, b.text_embeds, ATOL, "text_embeds")
    assert_close(a.image_embeds, b.image_embeds, ATOL, "image_embeds")
    assert_close_relative_to_max(a.segmentation_logits, b.segmentation_logits, 1e-5, "segmentation_logits")


@pytest.mark.parametrize("how", ["sharded", "bfloat16", "float16"])
def test_port_checkpoints_saved_sharded_or_in_half_precision_load(tmp_path, how):
    """save_pretrained(max_shard_size=...) writes an index and shards; a model cast to bfloat16 / float16 first
    writes BF16 / F16 tensors. Ours reads them as float32 and answers as the port does on the same file."""
    config = tiny_config()
    _, ref, _ = build_pair(config, seed=6)
    if how == "sharded":
        ref.save_pretrained(tmp_path, max_shard_size="20KB")
        assert (tmp_path / "model.safetensors.index.json").is_file() and len(list(tmp_path.glob("model-*"))) > 2
    else:
        ref.to(getattr(torch, how)).save_pretrained(tmp_path)
        ref = type(ref).from_pretrained(tmp_path, dtype=torch.float32).eval()  # the port, widened as ours is
    from groupvit.pt import GroupViTModel

    ours = GroupViTModel.from_pretrained(tmp_path)
    for name, value in ref.state_dict().items():
        if not name.endswith("position_ids"):
            assert torch.equal(ours.state_dict()[name], value), name
    _assert_same_answers(ours, ref, config, length=7)


@pytest.mark.parametrize("tower", ["GroupViTTextModel", "GroupViTVisionModel"])
def test_a_sharded_tower_checkpoint_of_the_port_loads(tmp_path, tower):
    import groupvit.pt

    config = tiny_config()
    _, ref, _ = build_pair(config, seed=7)
    text = tower == "GroupViTTextModel"
    port_tower = getattr(transformers, tower)(ref.config.text_config if text else ref.config.vision_config).eval()
    inner = port_tower.text_model if text else port_tower.vision_model
    inner.load_state_dict((ref.text_model if text else ref.vision_model).state_dict())
    port_tower.save_pretrained(tmp_path, max_shard_size="10KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    ours = getattr(groupvit.pt, tower).from_pretrained(tmp_path)
    theirs = port_tower.state_dict()
    assert sorted(k for k in ours.state_dict() if not k.endswith("position_ids")) == \
        sorted(k for k in theirs if not k.endswith("position_ids"))
    for name, value in theirs.items():
        if not name.endswith("position_ids"):
            assert torch.equal(ours.state_dict()[name], value), name


def test_get_features_return_what_transformers_5_returns():
    """transformers 5 returns the tower's outputs with the projected features as pooler_output (4.x returned the
    features); return_dict=False gives the tuple."""
    with torch.no_grad():
        for name, ours, ref, args in _feature_calls(tiny_config(), seed=8):
            a, b = ours(**args), ref(**args)
            assert type(b).__name__ == "BaseModelOutputWithPooling"
            assert_close(a.pooler_output, b.pooler_output, ATOL, name)
            assert_close(a.last_hidden_state, b.last_hidden_state, ATOL, name)
            a_tuple, b_tuple = ours(**args, return_dict=False), ref(**args, return_dict=False)
            assert isinstance(a_tuple, tuple) and len(a_tuple) == len(b_tuple)
            assert_close(a_tuple[1], b_tuple[1], ATOL, name)


def _feature_calls(config, seed: int):
    """(name, our method, the port's method, its inputs) of get_text_features and get_image_features."""
    ours, ref, _ = build_pair(config, seed=seed)
    pixels, ids, mask = inputs_for(config, n_images=2, n_texts=3, length=6)
    for name, args in (("get_text_features", dict(input_ids=ids, attention_mask=mask)),
                       ("get_image_features", dict(pixel_values=pixels))):
        yield name, getattr(ours, name), getattr(ref, name), args


def test_our_sharded_save_loads_in_transformers_and_the_helpers_agree(tmp_path):
    config = tiny_config()
    ours, ref, _ = build_pair(config, seed=9)
    ours.save_pretrained(tmp_path, max_shard_size="30KB")
    assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1
    loaded = transformers.GroupViTModel.from_pretrained(tmp_path).eval()
    for name, value in ours.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    assert ours.num_parameters() == ref.num_parameters()
    assert ours.num_parameters(exclude_embeddings=True) == ref.num_parameters(exclude_embeddings=True)
    assert (ours.device, ours.dtype, ours.text_embed_dim, ours.vision_embed_dim) == \
        (ref.device, ref.dtype, ref.text_embed_dim, ref.vision_embed_dim)
    for flag in ("output_segmentation", "output_hidden_states"):
        again = type(ours).from_pretrained(tmp_path, **{flag: True})
        assert getattr(again.config, flag) is True
        assert getattr(transformers.GroupViTModel.from_pretrained(tmp_path, **{flag: True}).config, flag) is True


def test_a_fresh_model_is_initialised_as_the_ports():
    """The random init of a model built from a config (not loaded): per weight, the same distribution as the port's
    (its post_init applies children before parents, so attention and MLP modules keep their own stds)."""
    from groupvit.pt import GroupViTModel

    config = GroupViTConfig()
    torch.manual_seed(0)
    ours = GroupViTModel(config).state_dict()
    theirs = transformers.GroupViTModel(transformers.GroupViTConfig.from_dict(config.to_dict())).state_dict()
    checked = 0
    for name, value in theirs.items():
        if name.endswith("position_ids") or value.numel() < 4096 or not value.is_floating_point():
            continue
        a, b = float(ours[name].float().std()), float(value.float().std())
        assert (a == b == 0.0) or abs(a / b - 1) < 0.05, (name, a, b)
        checked += 1
    assert checked > 100


def test_a_partial_legacy_config_dict_reads_as_the_port_reads_it():
    legacy = {
        "text_config": {"hidden_act": "relu", "eos_token_id": 49, "hidden_size": 64, "vocab_size": 99,
                        "output_hidden_states": True, "return_dict": False},
        "text_config_dict": {"hidden_size": 32, "num_hidden_layers": 2},
        "vision_config": {"hidden_act": "relu", "assign_eps": 0.5},
        "vision_config_dict": {"hidden_size": 96, "depths": [1, 1, 1], "num_hidden_layers": 3},
    }
    ours = GroupViTConfig.from_dict(legacy)
    port = transformers.GroupViTConfig(**legacy)
    for tower in ("text_config", "vision_config"):
        want = getattr(port, tower).to_dict()
        got = getattr(ours, tower).to_dict()
        shared = [k for k in got if k in want and k not in ("transformers_version", "dtype", "torch_dtype")]
        assert len(shared) > 10
        for flag in ("return_dict", "output_hidden_states"):  # common fields: in the port's dict, ours as attributes
            assert getattr(getattr(ours, tower), flag) == want[flag], (tower, flag)
        assert {k: got[k] for k in shared} == {k: _listed(want[k]) for k in shared}, tower


def _listed(value):
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("where", ["tower", "top"])
def test_get_features_take_their_flags_where_transformers_5_does(where):
    """transformers 5 runs a tower on its own config: a tower config's output_hidden_states / output_attentions are
    get_*_features' defaults, the top-level config's are not (ours read the top-level ones)."""
    flags = {"output_hidden_states": True, "output_attentions": True}
    config = (tiny_config(text=flags, vision=flags) if where == "tower" else tiny_config(**flags))
    with torch.no_grad():
        for name, ours, ref, args in _feature_calls(config, seed=9):
            a, b = ours(**args), ref(**args)
            for field in ("hidden_states", "attentions"):
                assert (getattr(a, field) is None) == (getattr(b, field) is None), (name, field)
            if b.hidden_states is not None:
                assert len(a.hidden_states) == len(b.hidden_states)
                assert_close(a.hidden_states[-1], b.hidden_states[-1], ATOL, name)
