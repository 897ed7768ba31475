"""TorchTrainer vs KerasTrainer: 5 optimiser steps from the same weights, batches, noise and learning rates.

Losses at every step, then every weight (BatchNorm statistics and logit_scale included), the
multi-label temperature and the AdamW moments, within `groupvit.equivalence.tolerances` (TRAINING_*).
The grouped multi-label loss with the group-usage term (docs/training.md) is checked the same way, with
stochastic depth (drop-path rate 0.5) on.
Also: `model.fit` on a tf.data dataset of the same batches equals the `train_on_batch` steps, and a
PyTorch trainer state resumes in Keras.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from groupvit.equivalence import tolerances as tol
from groupvit.pt.training.trainer import TorchTrainer
from groupvit.random_checkpoint import random_weights
from groupvit.tf.training.trainer import KerasTrainer
from groupvit.training.noise import drop_path_scales, gumbel_noise
from groupvit.training.options import MULTI_LABEL_SCALE_NAME, StepOptions
from groupvit.training.schedule import CosineSchedule
from tiny_configs import tiny_config
from training_invariants import drifts
from training_batches import synthetic_batch

SCHEDULE = CosineSchedule(base_lr=2e-3, total_steps=5, warmup_steps=1, warmup_lr=1e-4, min_lr=1e-4)
STEPS, BATCH, NOISE_SEED = 5, 4, 7
CLIP = 1.0  # far below the tiny model's gradient norms (~100): every step clips
LRS = [SCHEDULE.lr_at(s) for s in range(STEPS)]


def _options(k: int, grouped: bool = False) -> StepOptions:
    return StepOptions(multi_label=k, clip_norm=CLIP, weight_decay=0.05, grouped=grouped,
                       group_balance=0.5 if grouped else 0.0, group_exclusivity=0.5 if grouped else 0.0,
                       group_naming=0.5 if grouped else 0.0)


def _noise(config, step: int):
    return gumbel_noise(config.vision_config, NOISE_SEED, step, BATCH)


def _failures(tf_arrays, pt_arrays, keys, tolerance_of) -> list[str]:
    out = []
    for key in keys:
        tolerance, reference = tolerance_of(key, pt_arrays[key])
        diff = float(np.abs(np.asarray(tf_arrays[key], np.float64) - pt_arrays[key]).max())
        if not diff <= tolerance.bound(reference):
            out.append(f"{key}: max |Keras - PyTorch| = {diff:.3g} > {tolerance.bound(reference):.3g}")
    return out


def _weight_tolerance(key, value):
    if drifts(key):  # zero true gradient: Adam turns rounding noise into steps (training_invariants.py)
        return tol.TRAINING_DRIFT, sum(LRS)
    return tol.TRAINING_WEIGHT, float(np.abs(value).max())


# An element whose gradient at some step is not zero but this close to it, relative to its tensor's largest
# gradient, is zero as far as float32 can tell: the backends' gradients differ there by rounding (measured 3e-7 of
# the largest), and AdamW's m / sqrt(v) turns that into steps of up to ~lr either way, as for the parameters with
# an exactly zero gradient (TRAINING_DRIFT). Measured: one element of 4096 in a stage's channel MLP with
# stochastic depth on (gradient 5e-7 where its tensor's largest was 1.3) ended 2.9e-5 apart. An exactly zero
# gradient (a token row absent from the batch) is zero in both backends and stays compared strictly.
NEAR_ZERO_GRADIENT = 1e-5


def _near_zero_gradients(trainer, grad_norm: float, near: dict) -> None:
    """Marks, per trained weight, the elements whose gradient (before clipping) is not zero but within float
    noise of it at this step."""
    coefficient = min(1.0, CLIP / (grad_norm + 1e-6))  # the trainer clipped the gradients in place
    for name, param in trainer.named.items():
        if param.grad is None or drifts(name):  # the whole tensor is compared as drifting already
            continue
        raw = np.abs(param.grad.numpy()) / coefficient
        mask = (raw > 0) & (raw <= NEAR_ZERO_GRADIENT * float(raw.max()))
        near[name] = near.get(name, np.zeros(raw.shape, bool)) | mask


def _weight_failures(tf_weights, pt_weights, near_zero) -> list[str]:
    """Every weight within TRAINING_WEIGHT (or TRAINING_DRIFT where the gradient is zero), its elements with a
    near-zero gradient at some step within TRAINING_DRIFT."""
    out = []
    for key in sorted(tf_weights):
        tolerance, reference = _weight_tolerance(key, pt_weights[key])
        diff = np.abs(np.asarray(tf_weights[key], np.float64) - pt_weights[key])
        near = near_zero.get(key, np.zeros(diff.shape, bool))
        strict = float(diff[~near].max()) if (~near).any() else 0.0
        drift = float(diff[near].max()) if near.any() else 0.0
        if not strict <= tolerance.bound(reference):
            out.append(f"{key}: max |Keras - PyTorch| = {strict:.3g} > {tolerance.bound(reference):.3g}")
        if not drift <= tol.TRAINING_DRIFT.bound(sum(LRS)):
            out.append(f"{key} (elements with a near-zero gradient): max |Keras - PyTorch| = {drift:.3g}")
    return out


def _moment_tolerance(key, value):
    if key in ("optimizer_step", MULTI_LABEL_SCALE_NAME):
        return tol.TRAINING_WEIGHT, float(np.abs(value).max())
    if drifts(key.split("/", 1)[1]):
        return tol.TRAINING_DRIFT_MOMENT, 0.0
    return tol.TRAINING_MOMENT, float(np.abs(value).max())


def _run(k: int, grouped: bool = False, drop_path_rate: float = 0.0) -> dict:
    config = tiny_config("two_grouping")
    weights = random_weights(config, seed=0)
    batches = [synthetic_batch(config, BATCH, k=k, seed=s, nouns=grouped) for s in range(STEPS + 1)]
    scales = [drop_path_scales(config.vision_config, drop_path_rate, NOISE_SEED, s, BATCH) for s in range(STEPS)]
    pt = TorchTrainer(config, weights, _options(k, grouped))
    keras_trainer = KerasTrainer(config, weights, _options(k, grouped), schedule=SCHEDULE)
    pt_metrics, near_zero = [], {}
    for s in range(STEPS):
        pt_metrics.append(pt.step(batches[s], _noise(config, s), LRS[s], scales[s]))
        _near_zero_gradients(pt, pt_metrics[-1]["grad_norm"], near_zero)
    tf_metrics = [keras_trainer.step(batches[s], _noise(config, s), LRS[s], scales[s]) for s in range(STEPS)]
    return dict(config=config, weights=weights, batches=batches, pt=pt, keras=keras_trainer,
                pt_metrics=pt_metrics, tf_metrics=tf_metrics, pt_weights=pt.weights(),
                tf_weights=keras_trainer.weights(), pt_state=pt.optimizer_state(),
                tf_state=keras_trainer.optimizer_state(), near_zero=near_zero)


@pytest.fixture(scope="module")
def multi_label_run():
    return _run(2)


@pytest.fixture(scope="module")
def contrastive_run():
    return _run(0)


@pytest.fixture(scope="module")
def grouped_run():
    return _run(2, grouped=True, drop_path_rate=0.5)


@pytest.fixture(params=["multi_label_run", "contrastive_run", "grouped_run"])
def runs(request):
    return request.getfixturevalue(request.param)


def test_losses_and_metrics_agree_at_every_step(runs):
    assert any(m["grad_norm"] > CLIP for m in runs["pt_metrics"])  # clipping is exercised
    for step, (pt_m, tf_m) in enumerate(zip(runs["pt_metrics"], runs["tf_metrics"])):
        assert set(tf_m) == set(pt_m), step
        assert ("group_exclusivity" in pt_m) == ("group_naming" in pt_m) == (runs["pt"].options.group_naming > 0)
        for key in ("loss", "contrastive", "multi_label", "group_balance", "group_exclusivity", "group_naming"):
            if key in pt_m:
                assert abs(tf_m[key] - pt_m[key]) <= tol.TRAINING_LOSS.bound(1.0), (step, key, tf_m[key], pt_m[key])
        assert abs(tf_m["grad_norm"] - pt_m["grad_norm"]) <= tol.TRAINING_GRAD_NORM.bound(pt_m["grad_norm"]), step
        for key in ("logit_scale", "multi_label_logit_scale"):
            if key in pt_m:
                assert abs(tf_m[key] - pt_m[key]) <= tol.TRAINING_WEIGHT.bound(abs(pt_m[key])), (step, key)


def test_every_weight_and_moment_agrees_after_five_steps(runs):
    pt_weights, tf_weights = runs["pt_weights"], runs["tf_weights"]
    assert set(tf_weights) == {k for k in pt_weights if not k.endswith("num_batches_tracked")}
    failures = _weight_failures(tf_weights, pt_weights, runs["near_zero"])
    exempt = sum(int(m.sum()) for m in runs["near_zero"].values())
    assert exempt <= 1e-3 * sum(w.size for w in pt_weights.values()), exempt  # a rare exception
    pt_state, tf_state = runs["pt_state"], runs["tf_state"]
    assert set(tf_state) == set(pt_state)
    assert int(tf_state["optimizer_step"]) == int(pt_state["optimizer_step"]) == STEPS
    failures += _failures(tf_state, pt_state, sorted(pt_state), _moment_tolerance)
    assert not failures, "\n".join(failures)
    moved = [k for k in tf_weights if not np.array_equal(tf_weights[k], runs["weights"][k])]
    assert "logit_scale" in moved and "text_projection.1.running_var" in moved


def test_a_pytorch_trainer_state_resumes_in_keras(multi_label_run):
    runs = multi_label_run
    config, trainer, pt = runs["config"], runs["keras"], runs["pt"]
    trainer.model.assign_numpy(runs["pt_weights"])
    trainer.load_optimizer_state(runs["pt_state"])
    batch, noise, lr = runs["batches"][STEPS], _noise(config, STEPS), SCHEDULE.lr_at(STEPS)
    pt_m, tf_m = pt.step(batch, noise, lr), trainer.step(batch, noise, lr)
    assert abs(tf_m["loss"] - pt_m["loss"]) <= tol.TRAINING_LOSS.bound(1.0)
    failures = _failures(trainer.weights(), pt.weights(), sorted(trainer.weights()), _weight_tolerance)
    failures += _failures(trainer.optimizer_state(), pt.optimizer_state(), sorted(pt.optimizer_state()),
                          _moment_tolerance)
    assert not failures, "\n".join(failures)


def test_fit_on_a_dataset_equals_the_train_on_batch_steps(multi_label_run):
    runs = multi_label_run
    config, trainer = runs["config"], runs["keras"]
    trainer.model.assign_numpy(runs["weights"])  # back to step 0: same weights, zero moments
    trainer.load_optimizer_state({MULTI_LABEL_SCALE_NAME: np.float32(_options(2).logit_scale_init),
                                  "optimizer_step": np.int64(0)})
    columns = {key: np.concatenate([b[key] for b in runs["batches"][:STEPS]]) for key in runs["batches"][0]}
    for stage in range(len(_noise(config, 0))):
        columns[f"gumbel_noise_{stage}"] = np.concatenate([_noise(config, s)[stage] for s in range(STEPS)])
    dataset = tf.data.Dataset.from_tensor_slices(columns).batch(BATCH, drop_remainder=True)
    history = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: history.append({k: float(v) for k, v in logs.items()}))
    trainer.model.fit(dataset, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    assert [m["loss"] for m in history] == [m["loss"] for m in runs["tf_metrics"]]  # the schedule's lrs, same graph
    for key, value in trainer.weights().items():
        np.testing.assert_array_equal(value, runs["tf_weights"][key], err_msg=key)
    for key, value in trainer.optimizer_state().items():
        np.testing.assert_array_equal(value, runs["tf_state"][key], err_msg=key)
