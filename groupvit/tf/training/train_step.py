"""`TFGroupViTTrainer`: `TFGroupViTModel` with the training step, for `fit` and `train_on_batch`.

The Keras twin of `groupvit/pt/training/step_module.py` (the forward) plus what `TorchTrainer.step`
does around it (backward, freezing, the metrics of the global batch).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from groupvit.configs import GroupViTConfig
from groupvit.tf._ops import normalize
from groupvit.tf.groupvit_model import TFGroupViTModel
from groupvit.tf.training.losses import (clamped_scale, contrastive_loss, group_balance_loss, group_exclusivity_loss,
                                         group_naming_loss, grouped_multi_label_loss, multi_label_loss,
                                         replica_world)
from groupvit.tf.training.optimizer import GroupViTAdamW, Slots
from groupvit.training.noise import assignment_shapes
from groupvit.training.options import MULTI_LABEL_SCALE_NAME, OPTIONAL_TERMS, check_group_terms

TEXT_INPUTS = ("input_ids", "attention_mask")
PROMPT_INPUTS = ("prompt_ids", "prompt_mask")
NOUN_INPUTS = ("image_nouns", "prompt_nouns")  # with grouped
NOISE_PREFIX = "gumbel_noise_"
DROP_PATH_KEY = "drop_path_scales"  # optional: [b, vision layers, 2], stochastic depth
# TorchTrainer.step's all-reduced metrics
GLOBAL_MEANS = ("loss", "contrastive", "multi_label", "logit_scale", *OPTIONAL_TERMS)


def _identity(x):
    return x


class _TrainingVariables:
    """What the step trains besides the model: a plain holder, so Keras tracks none of it as a model
    weight and `to_numpy` / `save_pretrained` / the weight bridge see only the checkpoint's variables."""

    def __init__(self, multi_label_logit_scale: keras.Variable) -> None:
        self.multi_label_logit_scale = multi_label_logit_scale
        self.trained: list[keras.Variable] = []
        self.slots: dict[str, tuple] = {}


class TFGroupViTTrainer(TFGroupViTModel):
    """`model.compile(optimizer=GroupViTAdamW(...))` (no `loss=`), then `fit` or `train_on_batch` on dicts of
    `pixel_values` [b, 3, H, W], `input_ids` / `attention_mask` [b, L], `gumbel_noise_{s}` [b, O_s, N_s]
    (one per grouping stage) and, with `multi_label` > 0, `prompt_ids` / `prompt_mask` [b, K, L];
    with `grouped`, the grouped multi-label loss and `image_nouns` [b, M] / `prompt_nouns` [b, K] (and with
    `group_exclusivity` / `group_naming` > 0 those weights times `group_exclusivity_loss` / `group_naming_loss`).

    Captions and prompts go through the text tower as one batch of b (1 + K) texts, as the
    authors do. The multi-label temperature is a trainer variable (`multi_label_logit_scale`),
    never a model weight. `frozen`: PyTorch names of parameters that get no updates. Under a
    tf.distribute strategy each replica's loss is scaled by 1 / replicas (the gradients are
    summed) and the logged metrics are global means, as `TorchTrainer.step`'s.
    """

    def __init__(self, config: GroupViTConfig, multi_label: int = 0, logit_scale_init: float = 2.6592,
                 frozen: frozenset[str] | set[str] = frozenset(), grouped: bool = False,
                 group_balance: float = 0.0, pooling_tau: float = 0.0, group_exclusivity: float = 0.0,
                 group_naming: float = 0.0, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        if multi_label < 0:
            raise ValueError(f"multi_label must be >= 0. Received: multi_label={multi_label}")
        self.multi_label = int(multi_label)
        self.grouped = bool(grouped) and self.multi_label > 0
        self.group_balance = float(group_balance)
        self.pooling_tau = float(pooling_tau)
        self.group_exclusivity, self.group_naming = float(group_exclusivity), float(group_naming)
        check_group_terms(group_exclusivity, group_naming, grouped, multi_label)
        self.logit_scale_init = float(logit_scale_init)
        self.frozen = frozenset(frozen)
        self.num_noise = len(assignment_shapes(config.vision_config, 1))
        scale = keras.Variable(initializer=self.logit_scale_init, shape=(), dtype="float32",
                               trainable=self.multi_label > 0, name=MULTI_LABEL_SCALE_NAME)
        self.training_variables = _TrainingVariables(scale)
        slots = {name: slot for name, slot in self._weight_slots().items() if slot[0].trainable}
        if self.multi_label:
            slots[MULTI_LABEL_SCALE_NAME] = (scale, _identity, _identity)
        self.training_variables.slots = {n: s for n, s in slots.items() if n not in self.frozen}
        self.training_variables.trained = [s[0] for s in self.training_variables.slots.values()]

    @property
    def multi_label_logit_scale(self) -> keras.Variable:
        return self.training_variables.multi_label_logit_scale

    @property
    def trained_slots(self) -> Slots:
        """{PyTorch name: (variable, to PyTorch, from PyTorch)} of the variables the optimizer updates."""
        return self.training_variables.slots

    def compile(self, optimizer: GroupViTAdamW, jit_compile: bool = False, **kwargs: Any) -> None:
        """Keras' compile with the step's optimizer; XLA off by default (float32 as the eager kernels)."""
        if not isinstance(optimizer, GroupViTAdamW):
            raise TypeError(f"TFGroupViTTrainer trains with GroupViTAdamW. Received: {type(optimizer).__name__}")
        if kwargs.get("loss") is not None:
            raise ValueError(f"The losses are the train step's own; compile takes no loss. Received: {kwargs['loss']}")
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        if not optimizer.built:
            optimizer.set_parameter_names({s[0].path: n for n, s in self.trained_slots.items()})
            with self.distribute_strategy.scope():
                optimizer.build(self.training_variables.trained)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' fit first builds a model from a batch averaged over the replicas, which
        MultiWorkerMirroredStrategy cannot do for a dict batch; this model is built in its constructor and its
        optimizer by `compile`, so there is nothing left to build."""
        if self.built and self.optimizer is not None and self.optimizer.built:
            return None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # ----- the forward of GroupViTTrainingStep ---------------------------------------------------------
    def training_losses(self, data: dict) -> dict:
        """{"loss", "contrastive", "multi_label" (K > 0), "logit_scale"} of the local rows."""
        noise_keys = [f"{NOISE_PREFIX}{s}" for s in range(self.num_noise)]
        expected = {"pixel_values", *TEXT_INPUTS, *PROMPT_INPUTS, *NOUN_INPUTS, *noise_keys, DROP_PATH_KEY}
        optional = set(PROMPT_INPUTS) | set(NOUN_INPUTS) | {DROP_PATH_KEY}
        unknown, missing = sorted(set(data) - expected), sorted(expected - set(data) - optional)
        if self.multi_label:
            missing += [k for k in PROMPT_INPUTS if k not in data]
        if self.grouped:
            missing += [k for k in NOUN_INPUTS if k not in data]
        if unknown or missing:
            raise ValueError(f"A training batch holds {sorted(expected)} (prompts with multi_label > 0, nouns when "
                             "grouped, drop-path scales optional). "
                             f"Received: missing={missing}, unknown={unknown}")
        noise = [tf.cast(data[key], tf.float32) for key in noise_keys]
        scales = tf.cast(data[DROP_PATH_KEY], tf.float32) if DROP_PATH_KEY in data else None
        vision = self.vision_model(tf.cast(data["pixel_values"], tf.float32), gumbel_noise=noise, training=True,
                                   output_attentions=self.group_balance > 0, drop_path_scales=scales)
        if self.grouped:  # pooled image and groups through the head as one batch (GroupViTTrainingStep)
            groups = vision.last_hidden_state  # (b, G, D)
            count, width = groups.shape[1], groups.shape[2]
            projected = normalize(self.visual_projection(
                ops.concatenate([vision.pooler_output, ops.reshape(groups, (-1, width))], axis=0), training=True))
            b_img = tf.shape(groups)[0]
            image_embeds = projected[:b_img]
            group_embeds = ops.reshape(projected[b_img:], (-1, count, self.config.projection_dim))
        else:
            image_embeds = normalize(self.visual_projection(vision.pooler_output, training=True))  # (b, P)
        ids, mask = data["input_ids"][:, None], data["attention_mask"][:, None]  # (b, 1, L)
        if self.multi_label:
            ids = ops.concatenate([ids, ops.cast(data["prompt_ids"], ids.dtype)], axis=1)  # (b, 1 + K, L)
            mask = ops.concatenate([mask, ops.cast(data["prompt_mask"], mask.dtype)], axis=1)
        texts, length = ids.shape[1], ids.shape[2]
        text_pooled = self.text_model(ops.reshape(ids, (-1, length)), attention_mask=ops.reshape(mask, (-1, length)),
                                      training=True).pooler_output
        text_embeds = normalize(self.text_projection(text_pooled, training=True))
        text_embeds = ops.reshape(text_embeds, (-1, texts, self.config.projection_dim))  # (b, 1 + K, P)

        contrastive = contrastive_loss(image_embeds, text_embeds[:, 0], self.logit_scale)
        out = {"contrastive": contrastive, "loss": contrastive}
        if self.multi_label:
            if self.grouped:
                multi = grouped_multi_label_loss(group_embeds, text_embeds[:, 1:], self.multi_label_logit_scale,
                                                 ops.cast(data["image_nouns"], "int64"),
                                                 ops.cast(data["prompt_nouns"], "int64"), self.pooling_tau)
            else:
                multi = multi_label_loss(image_embeds, text_embeds[:, 1:], self.multi_label_logit_scale)
            out["multi_label"] = multi
            out["loss"] = contrastive + multi
            for name, weight, term in (("group_exclusivity", self.group_exclusivity, group_exclusivity_loss),
                                       ("group_naming", self.group_naming, group_naming_loss)):
                if weight > 0:
                    out[name] = term(group_embeds, text_embeds[:, 1:], self.multi_label_logit_scale,
                                     ops.cast(data["prompt_nouns"], "int64"))
                    out["loss"] = out["loss"] + weight * out[name]
        if self.group_balance > 0:
            out["group_balance"] = group_balance_loss(list(vision.attentions))
            out["loss"] = out["loss"] + self.group_balance * out["group_balance"]
        out["logit_scale"] = clamped_scale(ops.stop_gradient(self.logit_scale))
        return out

    # ----- one optimiser step ------------------------------------------------------------------------
    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        _, replicas, context = replica_world()
        variables = self.training_variables.trained
        with tf.GradientTape() as tape:
            out = self.training_losses(dict(x))
            local = out["loss"] / replicas  # the optimizer SUMs the replicas' gradients: their mean
        grads = tape.gradient(local, variables)
        self.optimizer.apply(grads, variables)
        names = [k for k in GLOBAL_MEANS if k in out]
        values = ops.stack([out[k] for k in names])
        if context is not None:  # each replica's loss is the mean over its rows: the global loss is their mean
            values = context.all_reduce(tf.distribute.ReduceOp.SUM, values) / replicas
        metrics = dict(zip(names, ops.unstack(values)))
        metrics["grad_norm"] = ops.convert_to_tensor(self.optimizer.grad_norm)  # pre-clip, global
        if self.multi_label:
            metrics[MULTI_LABEL_SCALE_NAME] = clamped_scale(ops.convert_to_tensor(self.multi_label_logit_scale))
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces multi-worker logs by strategy.reduce(MEAN, axis=0): give them that axis
            metrics = {k: ops.reshape(v, (1,)) for k, v in metrics.items()}
        return metrics

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "multi_label": self.multi_label, "logit_scale_init": self.logit_scale_init,
                "frozen": sorted(self.frozen), "grouped": self.grouped,
                "group_balance": self.group_balance, "pooling_tau": self.pooling_tau,
                "group_exclusivity": self.group_exclusivity, "group_naming": self.group_naming}
