"""The Keras training losses against the independent numpy formulas of tests/loss_reference.py (no torch)."""

import numpy as np
import tensorflow as tf

from groupvit.tf.training.losses import (group_balance_loss, group_exclusivity_loss, group_naming_loss,
                                         grouped_multi_label_loss, multi_label_loss)
from loss_reference import (exclusivity_by_loops, group_balance_by_loops, grouped_by_loops, naming_by_loops,
                            shared_noun_case, soft_map_case)


def test_grouped_loss_takes_the_best_group_and_every_image_with_the_noun_as_positive():
    groups, prompts, image_nouns, prompt_nouns, log_scale = shared_noun_case()
    ours = grouped_multi_label_loss(tf.constant(groups), tf.constant(prompts), tf.constant(log_scale, tf.float64),
                                    tf.constant(image_nouns), tf.constant(prompt_nouns))
    expected = grouped_by_loops(groups, prompts, log_scale, image_nouns, prompt_nouns)
    assert abs(float(ours) - expected) < 1e-12


def test_soft_pooling_matches_the_loops():
    groups, prompts, image_nouns, prompt_nouns, log_scale = shared_noun_case()
    for tau in (0.05, 0.3):
        ours = grouped_multi_label_loss(tf.constant(groups), tf.constant(prompts), tf.constant(log_scale, tf.float64),
                                        tf.constant(image_nouns), tf.constant(prompt_nouns), pooling_tau=tau)
        expected = grouped_by_loops(groups, prompts, log_scale, image_nouns, prompt_nouns, tau=tau)
        assert abs(float(ours) - expected) < 1e-12


def test_grouped_loss_with_one_group_and_distinct_nouns_is_the_multi_label_loss():
    rng = np.random.default_rng(2)
    images, prompts = rng.normal(size=(4, 6)), rng.normal(size=(4, 3, 6))
    images /= np.linalg.norm(images, axis=-1, keepdims=True)
    prompts /= np.linalg.norm(prompts, axis=-1, keepdims=True)
    prompt_nouns = np.arange(12).reshape(4, 3)
    image_nouns = np.pad(prompt_nouns, ((0, 0), (0, 2)), constant_values=-1)
    scale = tf.constant(1.2, tf.float64)
    grouped = grouped_multi_label_loss(tf.constant(images[:, None]), tf.constant(prompts), scale,
                                       tf.constant(image_nouns), tf.constant(prompt_nouns))
    assert abs(float(grouped) - float(multi_label_loss(tf.constant(images), tf.constant(prompts), scale))) < 1e-12


def test_group_balance_is_zero_for_sure_equal_use_log_groups_for_collapse_or_indecision_and_the_loop_formula():
    maps, collapsed, uniform, balanced = soft_map_case()
    assert abs(float(group_balance_loss([tf.constant(balanced)]))) < 1e-6
    assert abs(float(group_balance_loss([tf.constant(uniform)])) - np.log(4)) < 1e-6
    assert abs(float(group_balance_loss([tf.constant(collapsed)])) - np.log(4)) < 1e-6
    assert abs(float(group_balance_loss([tf.constant(m) for m in maps])) - group_balance_by_loops(maps)) < 1e-6


def test_group_exclusivity_matches_the_loops_and_leaves_the_temperature_alone():
    groups, prompts, _, prompt_nouns, log_scale = shared_noun_case()
    g, scale = tf.Variable(groups), tf.Variable(log_scale, dtype=tf.float64)
    with tf.GradientTape() as tape:
        ours = group_exclusivity_loss(g, tf.constant(prompts), scale, tf.constant(prompt_nouns))
    grad_groups, grad_scale = tape.gradient(ours, [g, scale])
    assert abs(float(ours) - exclusivity_by_loops(groups, prompts, log_scale, prompt_nouns)) < 1e-12
    assert grad_scale is None or float(grad_scale) == 0.0
    assert float(tf.reduce_sum(tf.abs(grad_groups))) > 0


def test_group_naming_matches_the_loops_and_leaves_the_temperature_alone():
    groups, prompts, _, prompt_nouns, log_scale = shared_noun_case()
    g, scale, t = tf.Variable(groups), tf.Variable(log_scale, dtype=tf.float64), tf.Variable(prompts)
    with tf.GradientTape() as tape:
        ours = group_naming_loss(g, t, scale, tf.constant(prompt_nouns))
    grad_groups, grad_scale, grad_prompts = tape.gradient(ours, [g, scale, t])
    assert abs(float(ours) - naming_by_loops(groups, prompts, log_scale, prompt_nouns)) < 1e-12
    assert grad_scale is None or float(grad_scale) == 0.0
    assert grad_prompts is None or float(tf.reduce_sum(tf.abs(grad_prompts))) == 0.0
    assert float(tf.reduce_sum(tf.abs(grad_groups))) > 0
