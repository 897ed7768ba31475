"""Per-kind layout transforms between PyTorch and the old Keras 2 port (pure numpy).

Each transform is a pair of inverse functions: `to_tf(pt_array)` and `to_pt(tf_array)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Transform:
    """A named layout change; `to_pt(to_tf(x))` is `x` bit for bit."""

    name: str
    to_tf: Callable[[np.ndarray], np.ndarray]
    to_pt: Callable[[np.ndarray], np.ndarray]
    tf_shape: Callable[[tuple[int, ...]], tuple[int, ...]]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _same_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape)


IDENTITY = Transform("identity", _identity, _identity, _same_shape)

# Linear weight (out, in) <-> Dense kernel (in, out).
DENSE_KERNEL = Transform(
    "dense_kernel",
    to_tf=lambda w: np.ascontiguousarray(w.T),
    to_pt=lambda k: np.ascontiguousarray(k.T),
    tf_shape=lambda s: tuple(reversed(s)),
)

# Conv2d weight (out, in, kh, kw) <-> Conv2D kernel (kh, kw, in, out).
CONV2D_KERNEL = Transform(
    "conv2d_kernel",
    to_tf=lambda w: np.ascontiguousarray(w.transpose(2, 3, 1, 0)),
    to_pt=lambda k: np.ascontiguousarray(k.transpose(3, 2, 0, 1)),
    tf_shape=lambda s: (s[2], s[3], s[1], s[0]),
)


def _scalar_to_vector(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).reshape(1)


def _vector_to_scalar(x: np.ndarray) -> np.ndarray:
    if np.shape(x) != (1,):
        raise ValueError(f"A scalar stored as a vector must have shape (1,). Received: shape={np.shape(x)}")
    return np.asarray(x).reshape(())


# `logit_scale`: a () parameter in PyTorch, a (1,) variable in the old TF port.
SCALAR_AS_VECTOR = Transform("scalar_as_vector", _scalar_to_vector, _vector_to_scalar, lambda s: (1,))
