"""Property-based equivalence over the space of valid configs and inputs (hypothesis).

HYPOTHESIS_PROFILE=ci (default) runs a few dozen examples; HYPOTHESIS_PROFILE=slow runs hundreds.
Each example: random config -> seeded random weights -> PyTorch and Keras -> every output compared,
hard decisions identical wherever the reference's top-two margin is above the float-noise bound.
"""

from eq_helpers import make_inputs, pair
from hypothesis import given, note
from hypothesis import strategies as st

from groupvit.configs import GroupViTConfig
from groupvit.equivalence.runner import compare_outputs, run_keras, run_pytorch

NEAR_TIES = {"examples": 0, "near_ties": 0, "decisions": 0}


@st.composite
def configs(draw):
    n_stages = draw(st.integers(1, 4))
    n_grouping = draw(st.integers(1, n_stages))
    groups = [draw(st.integers(1, 10)) for _ in range(n_grouping)]
    last_out = draw(st.integers(1, groups[-1] + 3))
    # where stage s+1 groups, its projector needs num_output_groups[s] == num_group_tokens[s]
    outputs = groups[1:] and [g for g in groups[:-1]]
    outputs = outputs + [last_out]
    groups += [0] * (n_stages - n_grouping)
    outputs += [last_out] * (n_stages - n_grouping)
    depths = [draw(st.integers(1, 2)) for _ in range(n_stages)]
    v_heads, t_heads = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # widths from 16 channels and projection heads from 16 units: LayerNorms over a handful of
    # channels, or a head where all but one ReLU unit is off, divide by a near-zero spread or norm
    # and magnify float32 rounding past any fixed tolerance without anything being wrong (seen:
    # hidden 4 with a 3-unit head, 5e-4 on logits with every tower output within 4e-6; hidden 8
    # through four grouping stages, 1.1e-5 relative on the group features)
    v_hidden = v_heads * draw(st.integers(max(4, 16 // v_heads), 16))
    t_hidden = t_heads * draw(st.integers(max(4, 16 // t_heads), 16))
    patch = draw(st.integers(2, 4))
    grid = draw(st.integers(2, 5))
    legacy = draw(st.booleans())
    vocab = draw(st.integers(8, 60))
    text = dict(vocab_size=vocab, hidden_size=t_hidden, num_attention_heads=t_heads,
                intermediate_size=draw(st.integers(3, 40)), num_hidden_layers=draw(st.integers(1, 3)),
                max_position_embeddings=draw(st.integers(4, 12)), hidden_act="quick_gelu",
                bos_token_id=vocab - 2, pad_token_id=0, eos_token_id=2 if legacy else vocab - 1)
    vision = dict(hidden_size=v_hidden, num_attention_heads=v_heads, intermediate_size=draw(st.integers(3, 40)),
                  depths=depths, num_hidden_layers=sum(depths), num_group_tokens=groups, num_output_groups=outputs,
                  image_size=patch * grid, patch_size=patch, num_channels=draw(st.sampled_from([1, 3])))
    return GroupViTConfig(text_config=text, vision_config=vision, projection_dim=draw(st.integers(8, 16)),
                          projection_intermediate_dim=draw(st.integers(16, 48)),
                          logit_scale_init_value=draw(st.floats(0.5, 3.0)))


@given(config=configs(), data=st.data())
def test_backends_agree_on_random_configs(config, data):
    vision, text = config.vision_config, config.text_config
    n_images, n_texts = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    length = data.draw(st.integers(2, text.max_position_embeddings))
    pads = [data.draw(st.integers(0, length - 2)) for _ in range(n_texts)]
    patch = vision.patch_size
    grid_h, grid_w = data.draw(st.sampled_from([vision.grid_hw, (2, 3), (4, 2), (3, 5)]))
    inputs = make_inputs(config, n_images, n_texts, length, seed=data.draw(st.integers(0, 2**16)),
                         height=patch * grid_h, width=patch * grid_w, pad_lengths=pads)
    note(f"config={config.to_dict()}, images={inputs.pixel_values.shape}, ids={inputs.input_ids.shape}")
    pt_model, tf_model, _ = pair(config, seed=data.draw(st.integers(0, 2**16)))
    rows = compare_outputs(run_pytorch(pt_model, inputs), run_keras(tf_model, inputs))
    failed = [row.format() for row in rows if not row.ok]
    assert not failed, "\n".join(failed)
    hard = [row for row in rows if row.near_ties is not None]
    NEAR_TIES["examples"] += 1
    NEAR_TIES["near_ties"] += sum(row.near_ties for row in hard)


def teardown_module():
    print(f"\nproperty test: {NEAR_TIES['examples']} examples, {NEAR_TIES['near_ties']} hard decisions fell under "
          "the float-noise bound (not required to agree); every other decision agreed")
