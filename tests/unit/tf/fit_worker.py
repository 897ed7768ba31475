"""`model.fit` of TFGroupViTTrainer on a tf.data pipeline, in one process or as one worker of a
MultiWorkerMirroredStrategy cluster (TF_CONFIG set); prints the epochs' losses as JSON on its last line.

    python fit_worker.py   (run by test_tf_train_cli.py)
"""

import json
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))  # tests/: tiny_configs

from tiny_configs import tiny_config  # noqa: E402

from groupvit.random_checkpoint import random_weights  # noqa: E402
from groupvit.tf.training.optimizer import GroupViTAdamW, GroupViTLearningRate  # noqa: E402
from groupvit.tf.training.train_step import TFGroupViTTrainer  # noqa: E402
from groupvit.training.noise import gumbel_noise  # noqa: E402
from groupvit.training.schedule import CosineSchedule  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy() if "TF_CONFIG" in os.environ else None
config = tiny_config("two_grouping")
vision, text = config.vision_config, config.text_config
BATCH, STEPS, EPOCHS = 4, 3, 2
rng = np.random.default_rng(0)
pixels = rng.standard_normal((BATCH * STEPS, 3, *vision.image_hw)).astype(np.float32)
ids = rng.integers(1, text.vocab_size - 1, (BATCH * STEPS, 6)).astype(np.int32)
ids[:, -1] = text.eos_token_id


def batches():
    for step in range(STEPS * EPOCHS):
        rows = slice((step % STEPS) * BATCH, (step % STEPS + 1) * BATCH)
        batch = {"pixel_values": pixels[rows], "input_ids": ids[rows], "attention_mask": np.ones_like(ids[rows])}
        for stage, noise in enumerate(gumbel_noise(vision, 0, step, BATCH)):
            batch[f"gumbel_noise_{stage}"] = noise
        yield batch


first = next(batches())
signature = {k: tf.TensorSpec((None, *v.shape[1:]), tf.as_dtype(v.dtype)) for k, v in first.items()}
dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
with strategy.scope() if strategy else tf.name_scope("one-process"):
    model = TFGroupViTTrainer(config)
    model.assign_numpy(random_weights(config, 0))
    schedule = CosineSchedule(base_lr=1e-3, total_steps=STEPS * EPOCHS, warmup_steps=1, warmup_lr=1e-5, min_lr=1e-5)
    model.compile(optimizer=GroupViTAdamW(GroupViTLearningRate(schedule)))
history = model.fit(dataset, epochs=EPOCHS, steps_per_epoch=STEPS, verbose=0)
print(json.dumps(history.history["loss"]))
