"""TensorFlow contenders: our Keras 3 model (default call, tf.function, XLA) and the old Keras 2 port.

Same contract as runners_pt: a runner is a zero-argument callable doing one call whose result
has been computed when it returns (`.numpy()` on what it outputs).
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from benchmarks.cases import Case
from groupvit.configs import GroupViTConfig


def set_threads(threads: int) -> None:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def build_model(contender: str, config: GroupViTConfig, seed: int, checkpoint: str | None = None):
    """Our Keras 3 model with random weights `seed` (or a checkpoint directory), or the port from tf_model.h5.

    The port only loads from disk: `checkpoint` must then be a directory holding tf_model.h5.
    """
    if contender.startswith("ours-tf"):
        from groupvit.tf import TFGroupViTModel

        dtype = {"ours-tf-bf16": "mixed_bfloat16", "ours-tf-bf16-vars": "bfloat16"}.get(contender)
        if checkpoint:
            return TFGroupViTModel.from_pretrained(checkpoint, **({"dtype": dtype} if dtype else {}))
        from groupvit.random_checkpoint import random_weights

        model = TFGroupViTModel(config, **({"dtype": dtype} if dtype else {}))
        model.assign_numpy(random_weights(config, seed))
        return model
    if contender.startswith("port-tf"):
        import transformers

        if not checkpoint:
            raise ValueError("The Keras 2 port loads from a tf_model.h5 directory. Received: checkpoint=None")
        return transformers.TFGroupViTModel.from_pretrained(checkpoint)
    raise ValueError(f"Not a TensorFlow contender. Received: contender={contender!r}")


def _outputs(out, case: Case):
    """The tensors a call of `case` must produce (a tuple, so tf.function can return it)."""
    if case.kind in ("image_features", "text_features"):
        return (getattr(out, "pooler_output", out),)
    if case.segmentation:
        return out.logits_per_image, out.segmentation_logits
    return (out.logits_per_image,)


def _step(model, case: Case) -> Callable:
    if case.kind == "image_features":
        return lambda x: _outputs(model.get_image_features(pixel_values=x["pixel_values"]), case)
    if case.kind == "text_features":
        return lambda x: _outputs(model.get_text_features(input_ids=x["input_ids"], attention_mask=x["attention_mask"]),
                                  case)
    if case.kind == "model":
        return lambda x: _outputs(model(**x, output_segmentation=case.segmentation, training=False), case)
    variables = model.trainable_variables

    def train(x):
        with tf.GradientTape() as tape:
            loss = model(**x, return_loss=True, training=True).loss
        grads = tape.gradient(loss, variables)
        return (loss, *grads)

    return train


def _trainer_step(contender: str, model, case: Case, config: GroupViTConfig) -> Callable[[], object]:
    """Ours: `KerasTrainer.step` (its compiled train_step: Gumbel noise, AdamW groups, clipping). The port:
    forward + backward of its contrastive loss + tf-keras AdamW, in tf.function."""
    inputs = case.inputs(config)
    if contender == "ours-tf":
        from groupvit.tf.training.trainer import KerasTrainer
        from groupvit.training.noise import gumbel_noise
        from groupvit.training.options import StepOptions

        trainer = KerasTrainer(config, model.to_numpy(), StepOptions())
        noise = gumbel_noise(config.vision_config, 0, 0, case.n_images)
        return lambda: trainer.step(inputs, noise, trainer.lr_for_step(0) if hasattr(trainer, "lr_for_step")
                                    else 1e-6)
    if contender != "port-tf-function":
        raise ValueError(f"The trainer-step case runs ours-tf and port-tf-function. Received: {contender!r}")
    import tf_keras

    optimizer = tf_keras.optimizers.AdamW(learning_rate=1e-6, weight_decay=0.05)
    tensors = {k: tf.constant(v) for k, v in inputs.items()}

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = model(**x, return_loss=True, training=True).loss
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return lambda: step(tensors).numpy()


def runner(contender: str, model, case: Case, config: GroupViTConfig) -> Callable[[], object]:
    if case.kind == "trainer":
        return _trainer_step(contender, model, case, config)
    inputs = {k: tf.constant(v) for k, v in case.inputs(config).items()}
    step = _step(model, case)
    if contender.endswith("-function"):
        step = tf.function(step)
    elif contender.endswith("-jit"):
        step = tf.function(step, jit_compile=True)

    def run():
        out = step(inputs)
        return [t.numpy() for t in out[:2] if t is not None]

    return run


def framework_info() -> dict[str, str]:
    import keras

    return {"tensorflow": tf.__version__, "keras": keras.__version__}
