"""KerasTrainer without torch: 2 replicas (MirroredStrategy on 2 logical CPUs) equal one device at the same
global batch, SyncBatchNorm, resume from the exported state, freezing, the multi-label scale outside the weights.

The trainers run in one subprocess (this file run as a script): logical devices must be configured
before TensorFlow initialises its devices, which the test session has already done.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from groupvit.random_checkpoint import random_weights
from groupvit.training.noise import gumbel_noise
from groupvit.training.options import MULTI_LABEL_SCALE_NAME, StepOptions, frozen_names
from groupvit.training.schedule import CosineSchedule
from tiny_configs import tiny_config
from training_invariants import adam_drift_bound, drifts
from training_batches import synthetic_batch

SCHEDULE = CosineSchedule(base_lr=2e-3, total_steps=5, warmup_steps=1, warmup_lr=1e-4, min_lr=1e-4)
STEPS, BATCH, NOISE_SEED, RESUME_AT = 5, 4, 7, 3
OPTIONS = StepOptions(multi_label=2, clip_norm=1.0, weight_decay=0.05)
LOSSES = ("loss", "contrastive", "multi_label")


def _config():
    return tiny_config("two_stage", text={"num_hidden_layers": 1})


def _train(trainer, config, first: int, last: int) -> list[dict]:
    return [trainer.step(synthetic_batch(config, BATCH, k=OPTIONS.multi_label, seed=s),
                         gumbel_noise(config.vision_config, NOISE_SEED, s, BATCH), SCHEDULE.lr_at(s))
            for s in range(first, last)]


def _arrays(trainer) -> dict[str, np.ndarray]:
    return {**{f"weights:{k}": v for k, v in trainer.weights().items()},
            **{f"state:{k}": v for k, v in trainer.optimizer_state().items()}}


def _sync_batch_norm_check(strategy) -> dict[str, np.ndarray]:
    """One BatchNorm1d on 6 rows: 3 per replica under the strategy, and all 6 on one device."""
    from groupvit.tf.batch_norm import TFGroupViTBatchNorm1d

    rng = np.random.default_rng(3)
    rows = (rng.normal(size=(6, 5)) * rng.uniform(0.5, 3, 5) + rng.normal(size=5)).astype(np.float32)
    rows[3:] += 2.0  # the replicas' halves differ, so local statistics would differ from global ones
    with strategy.scope():
        synced = TFGroupViTBatchNorm1d(5, epsilon=1e-5, momentum=0.1)
        synced.build()
    single = TFGroupViTBatchNorm1d(5, epsilon=1e-5, momentum=0.1)
    single.build()
    halves = strategy.experimental_distribute_values_from_function(
        lambda ctx: rows[3 * ctx.replica_id_in_sync_group: 3 * (ctx.replica_id_in_sync_group + 1)])
    out = strategy.run(lambda x: synced(x, training=True), args=(halves,))
    local = [(h - h.mean(0)) / np.sqrt(h.var(0) + 1e-5) for h in (rows[:3], rows[3:])]
    return {"synced": np.concatenate([np.asarray(o) for o in strategy.experimental_local_results(out)]),
            "single": np.asarray(single(rows, training=True)), "local": np.concatenate(local),
            "synced_mean": synced.moving_mean.numpy(), "single_mean": single.moving_mean.numpy(),
            "synced_var": synced.moving_variance.numpy(), "single_var": single.moving_variance.numpy()}


def _worker(out_dir: str) -> None:
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    # graph optimisation (Grappler) off to fit the time budget on 2 cores; every run here has it off
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    from groupvit.tf.training.trainer import KerasTrainer

    config = _config()
    weights = random_weights(config, seed=0)
    metrics, arrays = {}, {}

    single = KerasTrainer(config, weights, OPTIONS, schedule=SCHEDULE)
    metrics["single"] = _train(single, config, 0, RESUME_AT)
    saved_weights, saved_state = single.weights(), single.optimizer_state()
    metrics["single"] += _train(single, config, RESUME_AT, STEPS)
    arrays["single"] = _arrays(single)

    resumed = KerasTrainer(config, saved_weights, OPTIONS, schedule=SCHEDULE)
    resumed.load_optimizer_state(saved_state)
    metrics["resumed"] = _train(resumed, config, RESUME_AT, STEPS)
    arrays["resumed"] = _arrays(resumed)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored = KerasTrainer(config, weights, OPTIONS, schedule=SCHEDULE, strategy=strategy)
    metrics["mirrored"] = _train(mirrored, config, 0, STEPS)
    arrays["mirrored"] = _arrays(mirrored)
    metrics["mirrored_world"] = [mirrored.rank, mirrored.world_size, strategy.num_replicas_in_sync,
                                 mirrored.gather_objects({"a": [1, "b"]})]
    # the per-step agreement of the training loop (stop signals, skip counts): one row per worker, one trace
    metrics["ints_over_ranks"] = [mirrored._ints_over_ranks(v) for v in (3, 7, 0)]
    metrics["ints_traces"] = mirrored._ints_fn.experimental_get_tracing_count()
    arrays["batch_norm"] = _sync_batch_norm_check(strategy)

    frozen = KerasTrainer(config, weights, StepOptions(multi_label=2, frozen=_frozen(config)), schedule=SCHEDULE)
    metrics["frozen"] = _train(frozen, config, 0, 2)
    arrays["frozen"] = _arrays(frozen)

    for name, values in arrays.items():
        np.savez(os.path.join(out_dir, f"{name}.npz"), **values)
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(metrics, f)


def _parameter_names(config) -> list[str]:
    return [k for k in random_weights(config) if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]


def _frozen(config) -> frozenset[str]:
    return frozen_names(_parameter_names(config), ["all"], ["group_tokens", "projections"])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("tf_training")
    tests_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([tests_dir, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, os.path.abspath(__file__), str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    with open(out / "metrics.json", encoding="utf-8") as f:
        metrics = json.load(f)
    return metrics, {p.stem: dict(np.load(p)) for p in out.glob("*.npz")}


def _losses(steps: list[dict]) -> np.ndarray:
    return np.array([[m[k] for k in LOSSES] for m in steps])


def test_two_replicas_equal_one_device_at_the_same_global_batch(results):
    metrics, arrays = results
    assert metrics["mirrored_world"] == [0, 1, 2, [{"a": [1, "b"]}]]  # one data-feeding process, 2 replicas
    # traced once, reused each step (an eager gather traced anew on every call, ~40 ms a step)
    assert metrics["ints_over_ranks"] == [[3], [7], [0]] and metrics["ints_traces"] == 1
    assert any(m["grad_norm"] > OPTIONS.clip_norm for m in metrics["single"])  # clipping is exercised
    # float32 sums taken in another order (gathered rows, all-reduced gradients and BatchNorm statistics)
    np.testing.assert_allclose(_losses(metrics["mirrored"]), _losses(metrics["single"]), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose([m["grad_norm"] for m in metrics["mirrored"]],
                               [m["grad_norm"] for m in metrics["single"]], rtol=2e-5)
    single, mirrored = arrays["single"], arrays["mirrored"]
    assert set(single) == set(mirrored)
    drift = adam_drift_bound(SCHEDULE.lr_at(s) for s in range(STEPS))
    for key, value in single.items():
        name = key.split(":", 1)[1].split("/", 1)[-1]
        if key.startswith("state:exp_avg"):  # running means of the gradient: relative to the largest
            bound = 2e-7 if drifts(name) else 4e-4 * float(np.abs(value).max())
            assert np.abs(mirrored[key] - value).max() <= bound, key
        elif drifts(name):  # zero true gradient: Adam turns rounding noise into steps (training_invariants.py)
            np.testing.assert_allclose(mirrored[key], value, rtol=0, atol=drift, err_msg=key)
        else:
            np.testing.assert_allclose(mirrored[key], value, rtol=1e-4, atol=2e-5, err_msg=key)


def test_sync_batch_norm_normalises_with_the_global_batch(results):
    bn = results[1]["batch_norm"]
    np.testing.assert_allclose(bn["synced"], bn["single"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn["synced_mean"], bn["single_mean"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bn["synced_var"], bn["single_var"], rtol=1e-6, atol=1e-6)
    assert np.abs(bn["synced"] - bn["local"]).max() > 0.1  # per-replica statistics would be far off


def test_resume_from_exported_state_equals_an_uninterrupted_run(results):
    metrics, arrays = results
    assert metrics["resumed"] == metrics["single"][RESUME_AT:]
    assert set(arrays["resumed"]) == set(arrays["single"])
    for key, value in arrays["single"].items():
        np.testing.assert_array_equal(arrays["resumed"][key], value, err_msg=key)
    assert int(arrays["single"]["state:optimizer_step"]) == STEPS


def test_multi_label_scale_is_trainer_state_not_a_model_weight(results):
    single = results[1]["single"]
    assert f"weights:{MULTI_LABEL_SCALE_NAME}" not in single
    assert f"state:exp_avg/{MULTI_LABEL_SCALE_NAME}" in single
    assert float(single[f"state:{MULTI_LABEL_SCALE_NAME}"]) != pytest.approx(OPTIONS.logit_scale_init, abs=1e-6)
    weights = {k.split(":", 1)[1] for k in single if k.startswith("weights:")}
    assert weights == {k for k in random_weights(_config()) if not k.endswith("num_batches_tracked")}


def test_frozen_parameters_do_not_move_and_the_rest_do(results):
    config = _config()
    initial, after, frozen = random_weights(config, seed=0), results[1]["frozen"], _frozen(config)
    assert "vision_model.encoder.stages.0.group_token" not in frozen
    moments = {k.split("/", 1)[1] for k in after if k.startswith("state:exp_avg/")}
    assert moments == {n for n in _parameter_names(config) if n not in frozen} | {MULTI_LABEL_SCALE_NAME}
    for name in _parameter_names(config):
        moved = not np.array_equal(after[f"weights:{name}"], initial[name])
        if name in frozen:
            assert not moved, name
        elif not drifts(name):  # a zero-gradient parameter may see an exact zero and stay
            assert moved, name


if __name__ == "__main__":
    _worker(sys.argv[1])


@pytest.mark.parametrize("term", ["group_exclusivity", "group_naming"])
def test_group_terms_without_the_grouped_loss_are_refused(term):
    from groupvit.tf.training.train_step import TFGroupViTTrainer

    with pytest.raises(ValueError, match=f"need grouped with multi_label > 0. Received: .*{term}=0.5"):
        TFGroupViTTrainer(_config(), multi_label=2, grouped=False, **{term: 0.5})
