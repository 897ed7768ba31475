"""`KerasTrainer`: one optimiser step of GroupViT in Keras, on one device or under a tf.distribute strategy.

The Keras twin of `groupvit/pt/training/trainer.py`, with the same interface, so the framework-neutral
run loop (`groupvit.training.loop`) drives either. A step is `model.train_on_batch`, i.e. the very
`train_step` that `model.fit` runs.

Distribution: `strategy=None` is one device, or `MultiWorkerMirroredStrategy` when `TF_CONFIG` is
set; a `MirroredStrategy` may be passed for the local devices. `rank` / `world_size` count
data-feeding processes (workers): each feeds its local rows, which the strategy splits over its
local replicas in order.
"""

from __future__ import annotations

import json
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from groupvit.configs import GroupViTConfig
from groupvit.tf.training.optimizer import GroupViTAdamW, GroupViTLearningRate
from groupvit.tf.training.train_step import (DROP_PATH_KEY, NOISE_PREFIX, NOUN_INPUTS, PROMPT_INPUTS, TEXT_INPUTS,
                                             TFGroupViTTrainer)
from groupvit.training.options import MULTI_LABEL_SCALE_NAME, StepOptions
from groupvit.training.schedule import CosineSchedule
from groupvit.training.setup import tf_config_position as worker_position


class KerasTrainer:
    """Builds the model (from `weights` or a seeded random init) and takes optimiser steps.

    `schedule`: optional; given, the optimizer follows it (`GroupViTLearningRate`) and `step`
    checks that its `lr` is the schedule's at that step; without it `step` sets `lr`.
    """

    backend = "tf"

    def __init__(self, config: GroupViTConfig, weights: dict[str, np.ndarray] | None, options: StepOptions,
                 seed: int = 0, strategy: tf.distribute.Strategy | None = None,
                 schedule: CosineSchedule | None = None) -> None:
        if options.bf16:
            raise ValueError("bf16 autocast is a PyTorch-trainer option (--backend pt); the Keras trainer runs "
                             "float32. Received: bf16=True with the Keras trainer")
        if strategy is None and "TF_CONFIG" in os.environ:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        self.strategy = strategy if strategy is not None else tf.distribute.get_strategy()
        multi_worker = isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)
        self.rank, self.world_size = worker_position() if multi_worker else (0, 1)
        self._ints_fn = None  # _ints_over_ranks's traced all-gather, made on first use
        self.local_replicas = self.strategy.num_replicas_in_sync // self.world_size
        self.options, self.schedule = options, schedule
        if weights is None:  # the seed decides the initial weights only: the step draws no random numbers
            keras.utils.set_random_seed(seed)  # (and re-seeding would retrace every traced step function)
        with self.strategy.scope():
            self.model = TFGroupViTTrainer(config, multi_label=options.multi_label,
                                           logit_scale_init=options.logit_scale_init, frozen=options.frozen,
                                           grouped=options.grouped, group_balance=options.group_balance,
                                           pooling_tau=options.pooling_tau,
                                           group_exclusivity=options.group_exclusivity,
                                           group_naming=options.group_naming)
            if weights is not None:
                self.model.assign_numpy(dict(weights), source="the initial weights")
            self.optimizer = GroupViTAdamW(
                learning_rate=GroupViTLearningRate(schedule) if schedule is not None else 0.0,
                weight_decay=options.weight_decay, beta_1=options.betas[0], beta_2=options.betas[1],
                epsilon=options.eps, clip_norm=options.clip_norm,
            )
            self.model.compile(optimizer=self.optimizer)

    # ----- one step ----------------------------------------------------------------------------
    def step(self, batch: dict[str, np.ndarray], gumbel_noise: list[np.ndarray], lr: float,
             drop_path_scales: np.ndarray | None = None) -> dict[str, float]:
        """Forward, backward, clip, AdamW at learning rate `lr`; metrics of the global batch. `drop_path_scales`:
        this worker's rows of `groupvit.training.noise.drop_path_scales` (stochastic depth), or None."""
        if self.schedule is not None:
            iteration = int(self.optimizer.iterations.numpy())
            expected = float(self.optimizer.learning_rate.numpy())
            if np.float32(lr) != np.float32(expected):
                raise ValueError(f"step's lr must be the schedule's at optimizer step {iteration}. "
                                 f"Received: lr={lr}, schedule={expected}")
        else:
            self.optimizer.learning_rate = lr
        names = ("pixel_values", *TEXT_INPUTS, *(PROMPT_INPUTS if self.options.multi_label else ()),
                 *(NOUN_INPUTS if self.options.grouped and self.options.multi_label else ()))
        data = {k: batch[k] for k in names}
        data.update({f"{NOISE_PREFIX}{s}": noise for s, noise in enumerate(gumbel_noise)})
        if drop_path_scales is not None:
            data[DROP_PATH_KEY] = drop_path_scales
        logs = self.model.train_on_batch(self._distribute(data), return_dict=True)
        return {k: float(v) for k, v in logs.items()}

    def _distribute(self, data: dict[str, np.ndarray]):
        """This worker's rows, split in order over its local replicas (as a distributed dataset would)."""
        if self.strategy.num_replicas_in_sync == 1:
            return data
        rows = len(data["pixel_values"])
        if rows % self.local_replicas:
            raise ValueError(f"A worker's rows must split evenly over its {self.local_replicas} replicas. "
                             f"Received: {rows} rows")
        per = rows // self.local_replicas

        def local_rows(context):
            j = context.replica_id_in_sync_group - self.rank * self.local_replicas
            return {k: tf.constant(v[j * per:(j + 1) * per]) for k, v in data.items()}

        return self.strategy.experimental_distribute_values_from_function(local_rows)

    # ----- state -------------------------------------------------------------------------------
    def weights(self) -> dict[str, np.ndarray]:
        """The model's weights as numpy, PyTorch names and layouts (no `num_batches_tracked`: no Keras twin)."""
        return self.model.to_numpy()

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """AdamW moments by parameter name (`exp_avg/NAME`, `exp_avg_sq/NAME`, PyTorch layout), the step
        count and the multi-label temperature (which is not part of the model): TorchTrainer's format."""
        out = {MULTI_LABEL_SCALE_NAME: np.array(self.model.multi_label_logit_scale.numpy(), np.float32)}
        out.update(self.optimizer.state_arrays(self.model.trained_slots))
        return out

    def load_optimizer_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.model.multi_label_logit_scale.assign(np.asarray(arrays[MULTI_LABEL_SCALE_NAME], np.float32))
        self.optimizer.load_state_arrays(arrays, self.model.trained_slots)

    def rng_state(self) -> dict[str, Any]:
        """Empty: the Keras step draws no random numbers (the noise comes in; GroupViT's dropout rates are 0)."""
        return {}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        pass

    # ----- collectives for the loop ------------------------------------------------------------
    def _gather_rows(self, array: np.ndarray) -> np.ndarray:
        """[world, ...]: `array` of every worker, in rank order (one row per worker, not per replica)."""
        values = self.strategy.experimental_distribute_values_from_function(lambda _: tf.constant(array[None]))
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # the strategy traces a new function for every eager gather, and warns each time
        try:
            gathered = self.strategy.gather(values, axis=0).numpy()  # (replicas, ...)
        finally:
            logger.setLevel(level)
        return gathered[:: self.local_replicas]

    def max_over_ranks(self, value: int) -> int:
        """The largest of every worker's `value`, so that every worker takes the same decision."""
        return int(max(self._ints_over_ranks(value))) if self.world_size > 1 else int(value)

    def sum_over_ranks(self, value: int) -> int:
        """The sum of every worker's `value`."""
        return int(sum(self._ints_over_ranks(value))) if self.world_size > 1 else int(value)

    def _ints_over_ranks(self, value: int) -> list[int]:
        """Every worker's `value`, in rank order: one traced all-gather, reused every step (an eager gather traces
        anew on each call, ~40 ms; tf.distribute has no MAX reduction)."""
        if self._ints_fn is None:
            def replica_gather(x):
                return tf.distribute.get_replica_context().all_gather(tf.identity(x), axis=0)

            self._ints_fn = tf.function(lambda x: self.strategy.run(replica_gather, args=(x,)))
        out = self._ints_fn(tf.constant([int(value)], tf.int32))
        return self.strategy.experimental_local_results(out)[0].numpy()[:: self.local_replicas].tolist()

    def gather_objects(self, obj: Any) -> list[Any]:
        """JSON-able objects of every worker, in rank order (sent as JSON bytes: nothing is unpickled)."""
        if self.world_size == 1:
            return [obj]
        data = np.frombuffer(json.dumps(obj).encode("utf-8"), np.uint8).astype(np.int32)
        sizes = self._gather_rows(np.array([data.size], np.int32))[:, 0]
        padded = np.zeros(int(sizes.max()), np.int32)
        padded[: data.size] = data
        parts = self._gather_rows(padded)
        return [json.loads(bytes(p[: int(n)].astype(np.uint8).tolist()).decode("utf-8")) for p, n in zip(parts, sizes)]

    def barrier(self) -> None:
        if self.world_size > 1:
            self._gather_rows(np.zeros(1, np.int32))

    def close(self, wait: bool = True) -> None:
        """Wait for every rank (as the PyTorch trainer does before it leaves its process group; `wait=False`: not,
        as the others may be inside a collective this rank will never join); nothing to tear down: the
        strategy's collectives end with the process."""
        if wait:
            self.barrier()
