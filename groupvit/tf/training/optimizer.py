"""`GroupViTAdamW`: `torch.optim.AdamW(foreach=False)` and `clip_grad_norm_` in Keras, and its schedule.

What `TorchTrainer` does in one step, in the same order and float32 arithmetic:
clip the global gradient to `clip_norm` (PyTorch's rule `coef = min(1, clip / (norm + 1e-6))`),
then per parameter `p *= 1 - lr * wd` (only where `decays(PyTorch name, shape)`),
`m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
`p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`, with the scalars computed in
float64 as PyTorch does in Python. The moments and the step run as TensorFlow's fused Adam kernel
(`ResourceApplyAdam`, one pass over each tensor) with the bias corrections folded into its learning
rate and epsilon: the same arithmetic up to the rounding order of a few operations, far below what
two frameworks' gradients differ by (the tolerance table, TRAINING_*).

Under a tf.distribute strategy, Keras' own `clipnorm` options clip each replica's gradients
before the all-reduce, so they are refused here: the clipping happens in `_backend_update_step`,
after the cross-replica SUM, on the gradients every replica then holds alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from groupvit.training.schedule import CosineSchedule
from groupvit.training.weight_decay import decays

CLIP_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_
# {PyTorch name: (variable, to PyTorch layout, from PyTorch layout)}, as TFGroupViTPreTrainedModel._weight_slots
Slots = Mapping[str, tuple[Any, Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]]


class GroupViTLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """`CosineSchedule.lr_at(step)` as float32 for the optimizer's iteration (a precomputed table)."""

    def __init__(self, schedule: CosineSchedule) -> None:
        self.schedule = schedule
        # lr_at is constant from total_steps on, so the table's last entry serves every later step
        self.table = np.array([schedule.lr_at(s) for s in range(schedule.total_steps + 1)], np.float32)

    def __call__(self, step):
        index = tf.minimum(tf.cast(step, tf.int64), len(self.table) - 1)
        return tf.gather(tf.constant(self.table), index)

    def get_config(self) -> dict:
        return {"schedule": self.schedule.to_dict()}

    @classmethod
    def from_config(cls, config: dict) -> "GroupViTLearningRate":
        return cls(CosineSchedule(**config["schedule"]))


class GroupViTAdamW(keras.optimizers.Optimizer):
    """AdamW with the authors' decay groups and a global-norm clip, numerically as PyTorch's.

    The optimizer decides weight decay by PyTorch parameter name: give them with
    `set_parameter_names({variable.path: name})` before it is built (`TFGroupViTTrainer.compile`
    does). `grad_norm` holds the last step's global gradient norm before clipping.
    """

    def __init__(self, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
                 weight_decay: float = 0.05, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 clip_norm: float | None = 5.0, name: str = "groupvit_adamw", **kwargs: Any) -> None:
        clipping = {k: kwargs[k] for k in ("clipnorm", "clipvalue", "global_clipnorm") if kwargs.get(k) is not None}
        if clipping or kwargs.get("weight_decay") is not None:
            raise ValueError("GroupViTAdamW clips the global gradient itself (clip_norm) after the cross-replica "
                             f"sum; Keras' per-replica clipping must stay off. Received: {clipping}")
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"clip_norm must be positive or None. Received: clip_norm={clip_norm}")
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        # not `self.weight_decay`: Keras would apply its own (p -= lr wd p, to every variable) before ours
        self.decoupled_weight_decay = float(weight_decay)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.parameter_names: dict[str, str] = {}

    def set_parameter_names(self, names: Mapping[str, str]) -> None:
        """{Keras variable path: PyTorch parameter name} of the variables this optimizer will train."""
        if self.built:
            raise ValueError("set_parameter_names must come before the optimizer is built. Received: a built one")
        self.parameter_names = dict(names)

    def build(self, variables) -> None:
        if self.built:
            return
        unnamed = [v.path for v in variables if v.path not in self.parameter_names]
        if unnamed:
            raise ValueError("GroupViTAdamW needs the PyTorch name of every variable it trains (weight decay "
                             f"follows them): call set_parameter_names first. Received none for: {unnamed}")
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(variables, ["exp_avg", "exp_avg_sq"])
        self._decays = [decays(self.parameter_names[v.path], v.shape) for v in variables]
        self.grad_norm = self.add_variable(shape=(), name="grad_norm", aggregation="only_first_replica")

    def _backend_update_step(self, grads, trainable_variables, learning_rate) -> None:
        """All-reduce (SUM) the replicas' gradients, clip by their global norm, then update (as Keras)."""
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        grads = [tf.convert_to_tensor(g) for g in grads]  # embedding gradients come as IndexedSlices
        grads_and_vars = self._all_reduce_sum_gradients(list(zip(grads, variables)))
        grads = [g for g, _ in grads_and_vars]
        norm = tf.norm(tf.stack([tf.norm(g) for g in grads]))  # clip_grad_norm_: the norm of the norms
        if self.clip_norm is not None:
            coef = tf.minimum(self.clip_norm / (norm + CLIP_EPS), 1.0)
            grads = [g * coef for g in grads]
        scalars = self._step_scalars(learning_rate)  # once per step, not per variable
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._update_with_norm, self._distribution_strategy, list(zip(grads, variables)), scalars, norm)

    def _update_with_norm(self, distribution, grads_and_vars, scalars, norm) -> None:
        distribution.extended.update(self.grad_norm.value, lambda var, n: var.assign(n), args=(norm,), group=False)
        for grad, var in grads_and_vars:
            distribution.extended.update(var, self._apply_adamw, args=(grad, *scalars), group=False)

    def _step_scalars(self, learning_rate):
        """(lr / (1 - b1^t), sqrt(1 - b2^t), 1 - lr wd) in float64 as PyTorch's Python floats, then float32."""
        lr = tf.cast(learning_rate, tf.float64)
        t = tf.cast(self.iterations + 1, tf.float64)  # PyTorch's state["step"] after its increment
        step_size = lr / (1.0 - tf.pow(tf.constant(self.beta_1, tf.float64), t))
        bias_correction2_sqrt = tf.sqrt(1.0 - tf.pow(tf.constant(self.beta_2, tf.float64), t))
        decay = 1.0 - lr * self.decoupled_weight_decay
        return tuple(tf.cast(x, tf.float32) for x in (step_size, bias_correction2_sqrt, decay))

    def update_step(self, gradient, variable, learning_rate) -> None:
        self._apply_adamw(variable, gradient, *self._step_scalars(learning_rate))

    def _apply_adamw(self, variable, gradient, step_size, bias_correction2_sqrt, decay) -> None:
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        if self._decays[index] and self.decoupled_weight_decay:
            self.assign(variable, variable * decay)
        # One fused kernel for the moments and the step (the element-wise chain of ops it replaces cost
        # ~1 s of a 2.4 s default-size step on 2 cores). TensorFlow's Adam computes
        # m += (g - m)(1 - b1) (PyTorch's lerp_), v += (g^2 - v)(1 - b2), var -= alpha m / (sqrt(v) + eps')
        # with alpha = lr sqrt(1 - b2_power) / (1 - b1_power): with both powers 0, alpha = lr exactly, and
        # PyTorch's step_size m / (sqrt(v) / bc2 + eps) = (step_size bc2) m / (sqrt(v) + eps bc2).
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle, beta1_power=tf.constant(0.0, tf.float32),
            beta2_power=tf.constant(0.0, tf.float32), lr=step_size * bias_correction2_sqrt,
            beta1=tf.constant(self.beta_1, tf.float32), beta2=tf.constant(self.beta_2, tf.float32),
            epsilon=self.epsilon * bias_correction2_sqrt, grad=tf.cast(gradient, tf.float32), use_locking=False)

    # ----- moments <-> the neutral trainer state -------------------------------------------------
    def state_arrays(self, slots: Slots) -> dict[str, np.ndarray]:
        """`exp_avg/NAME`, `exp_avg_sq/NAME` (PyTorch layout) of the trained variables, and
        `optimizer_step`: `TorchTrainer.optimizer_state`'s format. No moments before the first step."""
        steps = int(self.iterations.numpy())
        out: dict[str, np.ndarray] = {"optimizer_step": np.array(steps, dtype=np.int64)}
        if not steps:
            return out
        for name, (variable, to_torch, _) in slots.items():
            index = self._get_variable_index(variable)
            out[f"exp_avg/{name}"] = np.array(to_torch(self._momentums[index].numpy()), order="C", copy=True)
            out[f"exp_avg_sq/{name}"] = np.array(to_torch(self._velocities[index].numpy()), order="C", copy=True)
        return out

    def load_state_arrays(self, arrays: Mapping[str, np.ndarray], slots: Slots) -> None:
        """The reverse of `state_arrays`; moments of names not trained here are ignored (as PyTorch)."""
        steps = int(arrays["optimizer_step"])
        for name, (variable, _, from_torch) in slots.items():
            index = self._get_variable_index(variable)
            if f"exp_avg/{name}" not in arrays:
                if steps:
                    raise ValueError("The trainer state must hold the AdamW moments of every trained parameter. "
                                     f"Received: none for {name!r}")
                self._momentums[index].assign(np.zeros(variable.shape, np.float32))
                self._velocities[index].assign(np.zeros(variable.shape, np.float32))
                continue
            for moments, key in ((self._momentums, "exp_avg"), (self._velocities, "exp_avg_sq")):
                value = np.asarray(from_torch(np.asarray(arrays[f"{key}/{name}"], np.float32)))
                if tuple(value.shape) != tuple(moments[index].shape):
                    raise ValueError(f"{key}/{name} must have the parameter's shape. Received: {value.shape}, "
                                     f"expected {tuple(moments[index].shape)} in Keras layout")
                moments[index].assign(np.array(value, order="C"))
        self.iterations.assign(steps)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(weight_decay=self.decoupled_weight_decay, beta_1=self.beta_1, beta_2=self.beta_2,
                      epsilon=self.epsilon, clip_norm=self.clip_norm)
        return config
