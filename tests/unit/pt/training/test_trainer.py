"""TorchTrainer: resume from its exported state, freezing, and 2 gloo ranks equal one process."""

import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from groupvit.training.noise import gumbel_noise
from groupvit.training.options import MULTI_LABEL_SCALE_NAME, StepOptions, frozen_names
from groupvit.training.schedule import CosineSchedule
from groupvit.pt.training.trainer import TorchTrainer
from training_invariants import adam_drift_bound, drifts
from training_batches import config_and_weights, rows, synthetic_batch

SCHEDULE = CosineSchedule(base_lr=2e-3, total_steps=5, warmup_steps=1, warmup_lr=1e-4, min_lr=1e-4)


def _run(trainer, config, batches, first, last, global_batch, part=slice(None)):
    losses = []
    for step in range(first, last):
        noise = gumbel_noise(config.vision_config, 7, step, global_batch, rows=part)
        losses.append(trainer.step(rows(batches[step], part), noise, SCHEDULE.lr_at(step)))
    return losses


def _batches(config, batch, k):
    return [synthetic_batch(config, batch, k=k, seed=s) for s in range(5)]


def test_resume_from_exported_state_equals_an_uninterrupted_run():
    config, weights = config_and_weights()
    options = StepOptions(multi_label=2, clip_norm=1.0)
    batches = _batches(config, 4, 2)
    straight = TorchTrainer(config, weights, options)
    _run(straight, config, batches, 0, 5, 4)

    first = TorchTrainer(config, weights, options)
    _run(first, config, batches, 0, 3, 4)
    saved_weights, saved_state = first.weights(), first.optimizer_state()
    assert MULTI_LABEL_SCALE_NAME not in saved_weights  # a trainer parameter, not a model weight
    resumed = TorchTrainer(config, saved_weights, options)
    resumed.load_optimizer_state(saved_state)
    _run(resumed, config, batches, 3, 5, 4)
    for key, value in straight.weights().items():
        np.testing.assert_array_equal(resumed.weights()[key], value, err_msg=key)
    np.testing.assert_array_equal(resumed.optimizer_state()[MULTI_LABEL_SCALE_NAME],
                                  straight.optimizer_state()[MULTI_LABEL_SCALE_NAME])


def test_frozen_parameters_do_not_move_and_the_rest_do():
    config, weights = config_and_weights()
    names = [k for k in weights if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    frozen = frozen_names(names, ["all"], ["group_tokens", "projections"])
    trainer = TorchTrainer(config, weights, StepOptions(frozen=frozen))
    _run(trainer, config, _batches(config, 4, 0), 0, 2, 4)
    after = trainer.weights()
    for name in names:
        moved = not np.array_equal(after[name], weights[name])
        assert moved == (name not in frozen), name
    assert "vision_model.encoder.stages.0.group_token" not in frozen


def test_freeze_rejects_unknown_items():
    with pytest.raises(ValueError, match="matches none"):
        frozen_names(["a.weight"], ["nope"])


@pytest.mark.parametrize("term", ["group_exclusivity", "group_naming"])
def test_group_terms_without_the_grouped_loss_are_refused(term):
    config, weights = config_and_weights()
    with pytest.raises(ValueError, match=f"need grouped with multi_label > 0. Received: .*{term}=0.5"):
        TorchTrainer(config, weights, StepOptions(multi_label=2, **{term: 0.5}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    config, weights = config_and_weights()
    trainer = TorchTrainer(config, weights, StepOptions(multi_label=2, clip_norm=1.0))
    local = 3
    losses = _run(trainer, config, _batches(config, 6, 2), 0, 5, 6, part=slice(rank * local, (rank + 1) * local))
    if rank == 0:
        np.savez(os.path.join(out_dir, "dist.npz"), losses=np.array([[m["loss"], m["contrastive"], m["multi_label"]]
                                                                      for m in losses]), **trainer.weights())
    trainer.close()


def test_two_gloo_ranks_equal_one_process_at_the_same_global_batch(tmp_path):
    mp.spawn(_rank_main, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    config, weights = config_and_weights()
    single = TorchTrainer(config, weights, StepOptions(multi_label=2, clip_norm=1.0))
    losses = _run(single, config, _batches(config, 6, 2), 0, 5, 6)
    dist = np.load(tmp_path / "dist.npz")
    expected = np.array([[m["loss"], m["contrastive"], m["multi_label"]] for m in losses])
    # float32 sums taken in another order (gathered rows, summed BatchNorm statistics)
    np.testing.assert_allclose(dist["losses"], expected, rtol=2e-5, atol=2e-6)
    drift = adam_drift_bound(SCHEDULE.lr_at(s) for s in range(5))
    for key, value in single.weights().items():
        if drifts(key):  # zero true gradient: Adam turns rounding noise into steps (training_invariants.py)
            np.testing.assert_allclose(dist[key], value, rtol=0, atol=drift, err_msg=key)
        else:
            np.testing.assert_allclose(dist[key], value, rtol=1e-4, atol=2e-5, err_msg=key)
