"""Compiled paths: torch.compile and Keras with jit_compile=True agree with eager and with each other."""

import torch
from eq_helpers import make_inputs, pair

from groupvit.equivalence.runner import compare_outputs, run_keras, run_pytorch
from tiny_configs import tiny_config


def _assert_agree(reference, other, what):
    failed = [row.format() for row in compare_outputs(reference, other) if not row.ok]
    assert not failed, f"{what}:\n" + "\n".join(failed)


def test_torch_compile_and_xla_agree_with_eager_and_each_other():
    config = tiny_config("three_stage")
    pt_model, tf_model, _ = pair(config, seed=21)
    inputs = make_inputs(config, n_images=2, n_texts=3, length=8, seed=4, pad_lengths=[0, 2, 4])
    pt_eager = run_pytorch(pt_model, inputs)
    tf_eager = run_keras(tf_model, inputs)
    tf_xla = run_keras(tf_model, inputs, jit_compile=True)
    compiled = torch.compile(pt_model, dynamic=False)
    compiled.image_features = torch.compile(pt_model.image_features, dynamic=False)
    compiled.text_features = torch.compile(pt_model.text_features, dynamic=False)
    compiled.logit_scale = pt_model.logit_scale
    pt_compiled = run_pytorch(compiled, inputs)
    _assert_agree(pt_eager, pt_compiled, "torch.compile vs eager")
    _assert_agree(tf_eager, tf_xla, "jit_compile vs eager")
    _assert_agree(pt_compiled, tf_xla, "torch.compile vs jit_compile")
    _assert_agree(pt_eager, tf_eager, "eager PyTorch vs eager Keras")
