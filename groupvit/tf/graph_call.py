"""The compiled default call: an eager call of a Keras model runs as a cached `tf.function` graph.

Calling a Keras model eagerly executes one TensorFlow op at a time (about 3,000 op dispatches
and 350 layer calls for one image and 8 texts at the default size), four to six times slower
than the same computation as a graph. `GraphCache` keeps one graph per (method, Python flags,
input shapes without the batch dimension, dtypes): the batch dimension of every input is left
dynamic in the input signature, so a new batch size reuses the graph instead of retracing it.
Value checks that need concrete numbers (the token-id range) run eagerly before the graph.

Inside `tf.function`, `model.predict`/`fit` or a functional model the call is already symbolic
and runs the plain layers directly.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Any, Callable

import tensorflow as tf

CALL_MODES = ("graph", "xla", "eager")
MAX_GRAPHS = 32  # least recently used graphs beyond this are dropped


def _spec(value: Any, relax_batch: bool) -> Any:
    """TensorSpec of a tensor, its batch dimension left open if `relax_batch` (lists/tuples follow suit)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_spec(v, relax_batch) for v in value)
    shape = tuple(value.shape)
    if relax_batch and shape:
        shape = (None, *shape[1:])
    return tf.TensorSpec(shape, value.dtype)


def _key_of(spec: Any) -> Any:
    if isinstance(spec, (list, tuple)):
        return tuple(_key_of(s) for s in spec)
    return tuple(spec.shape.as_list()), spec.dtype.name


def _call_with_flags(fn: Callable, flags: dict[str, Any], inputs: dict[str, Any]) -> Any:
    return fn(**inputs, **flags)


class GraphCache:
    """Traced graphs of one model, keyed by method, flags and input signature."""

    def __init__(self) -> None:
        self._graphs: OrderedDict[tuple, Callable] = OrderedDict()

    def __len__(self) -> int:
        return len(self._graphs)

    def clear(self) -> None:
        self._graphs.clear()

    def run(self, fn: Callable, tensors: dict[str, Any], flags: dict[str, Any], jit_compile: bool,
            relax_batch: bool = True) -> Any:
        """`fn(**tensors, **flags)` as a graph; `tensors` values are tensors or lists of tensors, None left out.

        `relax_batch=False` traces the exact shapes (calls given gumbel noise: its shape checks
        then see and report the real batch size).
        """
        present = {k: v for k, v in tensors.items() if v is not None}
        specs = {k: _spec(v, relax_batch) for k, v in present.items()}
        key = (fn.__name__, jit_compile, tuple(sorted(flags.items())),
               tuple(sorted((k, _key_of(s)) for k, s in specs.items())))
        graph = self._graphs.get(key)
        if graph is None:
            # A partial, not a closure: TensorFlow counts traces per code object to warn about retracing,
            # and one closure's code would count every graph of every model together (five graphs traced
            # close together, e.g. a checkpoint scored while training, gave "5 out of the last 5 calls ...
            # triggered tf.function retracing"). Each graph here is traced once, for its own key.
            traced = functools.partial(_call_with_flags, fn, flags)
            # no autograph: the layers have no tensor-dependent Python control flow, and converting
            # them would only lengthen the first call
            graph = tf.function(traced, input_signature=[specs], jit_compile=jit_compile, autograph=False)
            self._graphs[key] = graph
            while len(self._graphs) > MAX_GRAPHS:
                self._graphs.popitem(last=False)
        else:
            self._graphs.move_to_end(key)
        return graph(present)


def check_call_mode(mode: str) -> str:
    if mode not in CALL_MODES:
        raise ValueError(f"call_mode must be one of {list(CALL_MODES)}. Received: call_mode={mode!r}")
    return mode
