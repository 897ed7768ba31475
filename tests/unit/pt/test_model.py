"""PyTorch backend on tiny configs: shapes, output containers, modes, pooling and input errors."""

import subprocess
import sys

import pytest
import torch
from pt_helpers import assert_close, make_inputs, randomize

from groupvit.configs import GroupViTConfig
from groupvit.pt import GroupViTModel, GroupViTTextModel, GroupViTVisionModel
from tiny_configs import STAGES, tiny_config


@pytest.mark.parametrize("stages", sorted(STAGES))
def test_output_shapes(stages):
    config = tiny_config(stages)
    model = randomize(GroupViTModel(config)).eval()
    pixels, ids, mask = make_inputs(config, n_images=2, n_texts=3)
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, return_loss=False,
                    output_hidden_states=True, output_segmentation=True)
    vision = config.vision_config
    assert out.logits_per_image.shape == (2, 3) and out.logits_per_text.shape == (3, 2)
    assert out.text_embeds.shape == (3, 24) and out.image_embeds.shape == (2, 24)
    assert out.segmentation_logits.shape == (2, 3, 30, 30)
    v = out.vision_model_output
    tokens = [vision.num_patches]
    for g, o in zip(vision.num_group_tokens, vision.num_output_groups):
        tokens.append(o if g > 0 else tokens[-1])
    assert [h.shape[1] for h in v.hidden_states] == tokens
    assert v.last_hidden_state.shape == (2, tokens[-1], 32) and v.pooler_output.shape == (2, 32)
    grouping = [(o, n) for (g, o), n in zip(zip(vision.num_group_tokens, vision.num_output_groups), tokens) if g]
    assert [tuple(a.shape[1:]) for a in v.attentions] == grouping
    # soft maps: each image token's assignment over groups sums to one
    for soft in v.attentions:
        assert_close(soft.sum(dim=1), torch.ones(soft.shape[0], soft.shape[2]), atol=1e-5)
    t = out.text_model_output
    assert len(t.hidden_states) == 3 and len(t.attentions) == 2
    assert t.attentions[0].shape == (3, 4, 7, 7)


def test_tuple_order_and_container(tiny_model):
    pixels, ids, _ = make_inputs(tiny_model.config, n_images=3, n_texts=3)
    with torch.no_grad():
        out = tiny_model(input_ids=ids, pixel_values=pixels, return_loss=True, output_segmentation=True)
        tup = tiny_model(input_ids=ids, pixel_values=pixels, return_loss=True, output_segmentation=True,
                         return_dict=False)
    names = ["loss", "logits_per_image", "logits_per_text", "segmentation_logits", "text_embeds", "image_embeds"]
    assert list(out.keys()) == names + ["text_model_output", "vision_model_output"]
    for i, name in enumerate(names):
        assert torch.equal(tup[i], out[name]) and torch.equal(getattr(out, name), out[i])
    assert isinstance(tup[6], tuple) and torch.equal(tup[6][0], out.text_model_output.last_hidden_state)
    assert torch.equal(tup[7][1], out.vision_model_output.pooler_output)
    # without segmentation or loss those slots disappear, as in the port
    with torch.no_grad():
        short = tiny_model(input_ids=ids, pixel_values=pixels, return_dict=False)
    assert len(short) == 6
    assert_close(short[0], out.logits_per_image, atol=1e-6)  # fused vs explicit attention


def test_fused_attention_equals_explicit_weights(tiny_model):
    pixels, ids, mask = make_inputs(tiny_model.config)
    with torch.no_grad():
        fused = tiny_model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
        explicit = tiny_model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_attentions=True)
    assert_close(fused.logits_per_image, explicit.logits_per_image, atol=1e-6)
    assert_close(fused.text_model_output.last_hidden_state, explicit.text_model_output.last_hidden_state, 1e-6)


def test_features_equal_unnormalized_embeddings(tiny_model):
    pixels, ids, mask = make_inputs(tiny_model.config)
    with torch.no_grad():
        out = tiny_model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_attentions=True)
        text_out = tiny_model.get_text_features(ids, attention_mask=mask, output_hidden_states=True)
        image_out = tiny_model.get_image_features(pixels, output_attentions=True)
        text, image = text_out.pooler_output, image_out.pooler_output
        tuple_out = tiny_model.get_text_features(ids, attention_mask=mask, return_dict=False)
        # in the same grad mode: with gradients on, some CPUs (AMD EPYC here) run another attention kernel
        text_features, image_features = tiny_model.text_features(ids, mask), tiny_model.image_features(pixels)
    # transformers 5: the tower's outputs, pooler_output projected (un-normalized)
    assert_close(text / text.norm(dim=-1, keepdim=True), out.text_embeds, atol=1e-6)
    assert_close(image / image.norm(dim=-1, keepdim=True), out.image_embeds, atol=1e-6)
    assert_close(text_out.last_hidden_state, out.text_model_output.last_hidden_state, atol=1e-6)  # sdpa vs explicit
    assert len(text_out.hidden_states) == tiny_model.config.text_config.num_hidden_layers + 1
    for got, expected in zip(image_out.attentions, out.vision_model_output.attentions, strict=True):
        assert torch.equal(got, expected)
    assert isinstance(tuple_out, tuple) and torch.equal(tuple_out[1], text)
    assert torch.equal(text_features, text) and torch.equal(image_features, image)


def test_text_pooling_rules():
    config = tiny_config()
    model = randomize(GroupViTTextModel(config.text_config)).eval()
    ids = torch.tensor([[97, 5, 98, 1, 1], [97, 98, 7, 98, 1]])
    with torch.no_grad():
        out = model(ids)
    assert torch.equal(out.pooler_output[0], out.last_hidden_state[0, 2])
    assert torch.equal(out.pooler_output[1], out.last_hidden_state[1, 1])  # the first end token
    legacy = GroupViTTextModel(tiny_config(text={"eos_token_id": 2}).text_config).eval()
    legacy.load_state_dict(model.state_dict())
    with torch.no_grad():
        out = legacy(ids)
    assert torch.equal(out.pooler_output[0], out.last_hidden_state[0, 2])  # argmax of ids
    assert torch.equal(out.pooler_output[1], out.last_hidden_state[1, 1])


def test_interpolate_pos_encoding_non_square(tiny_model):
    pixels, ids, _ = make_inputs(tiny_model.config, height=24, width=42)
    with torch.no_grad():
        out = tiny_model(input_ids=ids, pixel_values=pixels, interpolate_pos_encoding=True, output_segmentation=True)
    assert out.segmentation_logits.shape == (2, 3, 24, 42)
    assert out.vision_model_output.attentions[0].shape == (2, 8, 8 * 14)
    same, _, _ = make_inputs(tiny_model.config)
    with torch.no_grad():
        a = tiny_model.image_features(same, interpolate_pos_encoding=True)
        b = tiny_model.image_features(same)
    assert torch.equal(a, b)


def test_train_mode_with_injected_gumbel_noise(tiny_model):
    config = tiny_model.config
    pixels, ids, _ = make_inputs(config, n_images=3, n_texts=3)
    gen = torch.Generator().manual_seed(5)
    shapes = [(3, 8, 100), (3, 4, 8)]
    noise = [-torch.log(-torch.log(torch.rand(s, generator=gen))) for s in shapes]
    tiny_model.train()
    a = tiny_model(input_ids=ids, pixel_values=pixels, return_loss=True, gumbel_noise=noise)
    b = tiny_model(input_ids=ids, pixel_values=pixels, return_loss=True, gumbel_noise=noise)
    assert torch.equal(a.loss, b.loss)
    other = [n.flip(1) * 3 for n in noise]
    c = tiny_model(input_ids=ids, pixel_values=pixels, return_loss=True, gumbel_noise=other)
    assert not torch.equal(a.vision_model_output.pooler_output, c.vision_model_output.pooler_output)
    a.loss.backward()
    assert tiny_model.logit_scale.grad is not None and tiny_model.logit_scale.grad.abs() > 0
    with pytest.raises(ValueError, match="one tensor per grouping stage"):
        tiny_model(input_ids=ids, pixel_values=pixels, gumbel_noise=noise[:1])
    with pytest.raises(ValueError, match="shape of its assignment logits"):
        tiny_model(input_ids=ids, pixel_values=pixels, gumbel_noise=[noise[0][:, :4], noise[1]])


def test_soft_maps_ignore_noise(tiny_model):
    pixels, ids, _ = make_inputs(tiny_model.config, n_images=3, n_texts=3)
    first = [torch.zeros(3, 8, 100), torch.zeros(3, 4, 8)]
    tiny_model.train()
    with torch.no_grad():
        a = tiny_model.vision_model(pixels, output_attentions=True, gumbel_noise=first)
        b = tiny_model.vision_model(pixels, output_attentions=True, gumbel_noise=[first[0] + 5 * torch.rand(3, 8, 100),
                                                                                  first[1]])
    assert torch.equal(a.attentions[0], b.attentions[0])  # stage 0 soft map: before any noise acts


def test_batchnorm_train_and_eval(tiny_model):
    pixels, ids, _ = make_inputs(tiny_model.config, n_images=3, n_texts=3)
    bn = tiny_model.visual_projection[1]
    before = bn.running_mean.clone()
    with torch.no_grad():
        tiny_model(input_ids=ids, pixel_values=pixels)
    assert torch.equal(bn.running_mean, before)
    tiny_model.train()
    noise = [torch.zeros(3, 8, 100), torch.zeros(3, 4, 8)]
    with torch.no_grad():
        tiny_model(input_ids=ids, pixel_values=pixels, gumbel_noise=noise)
    assert not torch.equal(bn.running_mean, before)


def test_vision_model_alone_matches_full_model(tiny_model):
    vision = GroupViTVisionModel(tiny_model.config.vision_config).eval()
    vision.load_state_dict({k: v for k, v in tiny_model.state_dict().items() if k.startswith("vision_model.")})
    pixels, _, _ = make_inputs(tiny_model.config)
    with torch.no_grad():
        a = vision(pixels, output_attentions=True)
        b = tiny_model.vision_model(pixels, output_attentions=True)
    assert torch.equal(a.pooler_output, b.pooler_output) and torch.equal(a.attentions[1], b.attentions[1])
    assert len(vision(pixels, return_dict=False)) == 2


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda p, i, m: (p[:, :2], i, m), "num_channels=3 channels"),
        (lambda p, i, m: (p.permute(0, 2, 3, 1), i, m), "channels-last"),
        (lambda p, i, m: (p[0], i, m), "4-D batch in NCHW"),
        (lambda p, i, m: (p[..., :27, :27], i, m), "must be 30x30"),
        (lambda p, i, m: (p, i + 200, m), "vocab_size=99"),
        (lambda p, i, m: (p, i - 50, m), "vocab_size=99"),
        (lambda p, i, m: (p, torch.cat([i, i, i], 1), None), "max_position_embeddings=16"),
        (lambda p, i, m: (p, i, m[:, :3]), "attention_mask must have the shape"),
        (lambda p, i, m: (p, i.float(), m), "integer token ids (int32 or int64). Received: dtype=float32"),
        (lambda p, i, m: (p, i > 3, m), "integer token ids (int32 or int64). Received: dtype=bool"),
        (lambda p, i, m: (p, i.to(torch.complex64), m), "Received: dtype=complex64"),
        (lambda p, i, m: (p.to(torch.uint8), i, m), "pixel_values must be floating point"),
        (lambda p, i, m: (p.long(), i, m), "Received: dtype=int64"),
        (lambda p, i, m: (p.index_put((torch.tensor([0]),), torch.tensor(float("nan"))), i, m),
         "must be finite. Received: 2700 NaN or infinite"),  # image 0: 3 x 30 x 30
        (lambda p, i, m: (p[:0], i[:0], m[:0]), "at least one row. Received: an empty batch"),
        (lambda p, i, m: (p, i.numpy(), m), "input_ids must be a torch.Tensor (torch.from_numpy(array)). "
                                            "Received: numpy.ndarray"),
        (lambda p, i, m: (p.numpy(), i, m), "pixel_values must be a torch.Tensor"),
        (lambda p, i, m: (p, i, m.tolist()), "attention_mask must be a torch.Tensor. Received: builtins.list"),
    ],
)
def test_input_errors(tiny_model, change, fragment):
    pixels, ids, mask = change(*make_inputs(tiny_model.config))
    with pytest.raises(ValueError, match="Received") as info:
        tiny_model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
    assert fragment in str(info.value)


def test_other_input_errors(tiny_model):
    pixels, ids, _ = make_inputs(tiny_model.config, n_images=2, n_texts=3)
    with pytest.raises(ValueError, match=r"as many images as texts .*Received: 2 images and 3 texts"):
        tiny_model(input_ids=ids, pixel_values=pixels, return_loss=True)
    with pytest.raises(ValueError, match=r"must hold at least one patch \(3x3\). Received: 2x30"):
        tiny_model(input_ids=ids, pixel_values=pixels[..., :2, :], interpolate_pos_encoding=True)
    flat = GroupViTConfig(vision_config=dict(depths=[1], num_group_tokens=[0], num_output_groups=[0],
                                             hidden_size=32, num_attention_heads=4, intermediate_size=37,
                                             image_size=30, patch_size=3),
                          text_config=tiny_model.config.text_config.to_dict(), projection_intermediate_dim=48)
    with pytest.raises(ValueError, match="at least one stage with group tokens"):
        GroupViTModel(flat).eval()(input_ids=ids, pixel_values=pixels, output_segmentation=True)
    with pytest.raises(TypeError, match="needs a GroupViTConfig"):
        GroupViTModel(tiny_model.config.text_config)


def test_a_partial_last_patch_is_dropped_as_in_the_ports(tiny_model):
    """28 rows of 3-pixel patches: 9 patch rows, the 28th pixel row unused; maps still cover every pixel."""
    pixels, ids, _ = make_inputs(tiny_model.config, n_images=2, n_texts=3)
    with torch.no_grad():
        odd = tiny_model(input_ids=ids, pixel_values=pixels[..., :28, :], interpolate_pos_encoding=True,
                         output_segmentation=True)
        cut = tiny_model(input_ids=ids, pixel_values=pixels[..., :27, :], interpolate_pos_encoding=True)
    torch.testing.assert_close(odd.image_embeds, cut.image_embeds, rtol=0, atol=0)
    assert odd.segmentation_logits.shape == (2, 3, 28, 30)


def test_backend_imports_no_tensorflow():
    code = "import sys, groupvit.pt; sys.exit(any(m in sys.modules for m in ('tensorflow', 'keras', 'tf_keras')))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_segmentation_of_a_size_not_divisible_by_the_patch_takes_the_references_grid_rule():
    """31 x 32 pixels of patch 4 hold 7 x 8 tokens; the ports' (and the authors') rule reads them as 8 x 7. The
    Keras backend followed the rule and PyTorch took 7 x 8, so the two disagreed (by 1.4 where logits reached 11.5)."""
    from groupvit.pt.segmentation import pixel_grouping
    from groupvit.token_grid import feature_grid

    torch.manual_seed(0)
    soft = torch.rand(2, 5, 56).softmax(dim=1)  # one grouping stage: 5 groups over 56 tokens
    assert feature_grid(31, 32, 56) == (8, 7)
    want = torch.nn.functional.interpolate(soft.reshape(2, 5, 8, 7), size=(31, 32), mode="bilinear",
                                           align_corners=False)
    torch.testing.assert_close(pixel_grouping([soft], 31, 32, (4, 4)), want, rtol=0, atol=0)
    with pytest.raises(ValueError, match="grid guess"):  # 23 x 23 of patch 2: 121 tokens, no grid guessed
        pixel_grouping([torch.rand(1, 3, 121)], 23, 23, (2, 2))
