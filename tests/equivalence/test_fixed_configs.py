"""PyTorch -> weight bridge -> Keras on fixed configs: every output at every stage, eval and train."""

import numpy as np
import pytest
from eq_helpers import gumbel, make_inputs, pair, train_step_keras, train_step_pytorch

from groupvit.configs import GroupViTConfig
from groupvit.equivalence import GRADIENT, LOSS, compare_dense
from groupvit.equivalence.runner import compare_outputs, run_keras, run_pytorch
from tiny_configs import STAGES, tiny_config

CONFIGS = {"default": GroupViTConfig, **{name: (lambda n=name: tiny_config(n)) for name in STAGES},
           # not a multiple of the patch (3): the grid is floored and the partial patch dropped, as the ports do
           "partial_patch": lambda: tiny_config("two_grouping", vision={"image_size": [31, 32]}),
           # 7 x 8 tokens of patch 4 in a 31 x 32 image: the reference's grid rule guesses 8 x 7 (PyTorch took 7 x 8)
           "guessed_grid": lambda: tiny_config("two_grouping", vision={"image_size": [31, 32], "patch_size": 4})}


def _assert_rows(rows):
    failed = [row.format() for row in rows if not row.ok]
    assert not failed, "\n".join(failed)
    ties = {row.name: row.near_ties for row in rows if row.near_ties}
    print(f"hard decisions under the float-noise bound: {ties or 'none'}")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_eval_every_output(name):
    config = CONFIGS[name]()
    pt_model, tf_model, _ = pair(config, seed=11)
    inputs = make_inputs(config, n_images=2, n_texts=3, length=9, seed=1, pad_lengths=[0, 3, 5])
    reference, other = run_pytorch(pt_model, inputs), run_keras(tf_model, inputs)
    # the comparison covers patch embeddings (vision.hidden_states.0), each stage's tokens, the soft
    # and hard assignments, text attentions, pooled outputs, features, embeddings, logits and maps
    expected = {"vision.hidden_states.0", "vision.attentions.0", "text.attentions.0", "vision.pooler_output",
                "text_features", "image_features", "segmentation_logits", "logits_per_image"}
    assert expected <= set(reference)
    _assert_rows(compare_outputs(reference, other))


@pytest.mark.parametrize("name", ["default", "three_stage", "four_stage", "two_stage"])
def test_train_mode_loss_and_every_gradient(name):
    config = CONFIGS[name]()
    pt_model, tf_model, _ = pair(config, seed=5)
    inputs = make_inputs(config, n_images=4, n_texts=4, length=8, seed=2, pad_lengths=[0, 2, 1, 4])
    noise = gumbel(config, n_images=4, seed=3)
    pt_loss, pt_grads, _ = train_step_pytorch(pt_model, inputs, noise)
    tf_loss, tf_grads, _ = train_step_keras(tf_model, inputs, noise)
    assert compare_dense("loss", np.array(pt_loss), np.array(tf_loss), LOSS).ok, (pt_loss, tf_loss)
    assert set(pt_grads) == set(tf_grads)
    rows = [compare_dense(f"grad {k}", pt_grads[k], tf_grads[k], GRADIENT) for k in sorted(pt_grads)]
    _assert_rows(rows)
    assert max(float(np.abs(g).max()) for g in pt_grads.values()) > 1e-3  # gradients are not all zero
    # BatchNorm running statistics moved the same way in both
    tf_state = tf_model.to_numpy()
    for key, value in pt_model.state_dict().items():
        if "running" in key:
            np.testing.assert_allclose(tf_state[key], value.numpy(), atol=1e-5, rtol=0, err_msg=key)


@pytest.mark.parametrize("name", ["three_stage", "empty_stage", "plain_then_grouping"])
def test_train_mode_with_stochastic_depth(name):
    """`drop_path_scales` (the trainer's stochastic depth) reach the same layers and branches in both backends."""
    from groupvit.training.noise import drop_path_scales

    config = CONFIGS[name]()
    pt_model, tf_model, _ = pair(config, seed=5)
    inputs = make_inputs(config, n_images=4, n_texts=4, length=8, seed=2, pad_lengths=[0, 2, 1, 4])
    noise = gumbel(config, n_images=4, seed=3)
    scales = drop_path_scales(config.vision_config, 0.5, seed=1, step=0, global_batch=4)
    assert (scales == 0).any() and (scales > 1).any()
    pt_loss, pt_grads, _ = train_step_pytorch(pt_model, inputs, noise, scales)
    tf_loss, tf_grads, _ = train_step_keras(tf_model, inputs, noise, scales)
    plain_loss = train_step_pytorch(pair(config, seed=5)[0], inputs, noise)[0]
    assert abs(plain_loss - pt_loss) > 1e-4  # the scales changed the step
    assert compare_dense("loss", np.array(pt_loss), np.array(tf_loss), LOSS).ok, (pt_loss, tf_loss)
    _assert_rows([compare_dense(f"grad {k}", pt_grads[k], tf_grads[k], GRADIENT) for k in sorted(pt_grads)])


def test_default_size_xla_matches_pytorch():
    """Issue acceptance: at the default size, Keras compiled with XLA reproduces the PyTorch outputs."""
    config = GroupViTConfig()
    pt_model, tf_model, _ = pair(config, seed=12)
    inputs = make_inputs(config, n_images=2, n_texts=3, length=9, seed=6, pad_lengths=[0, 3, 5])
    _assert_rows(compare_outputs(run_pytorch(pt_model, inputs), run_keras(tf_model, inputs, jit_compile=True)))
