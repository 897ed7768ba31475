"""`tf_model.h5` in the Keras 2 `save_weights` layout of the old TensorFlow port (h5py only).

Layout: root attributes `backend`, `keras_version`, `layer_names = ["groupvit"]`; group
`groupvit` with attribute `weight_names` (`<scope>/groupvit/<path>:0`, split into
`weight_names0`, `weight_names1`, ... when long) and one dataset per weight at
`groupvit/<weight name>`. Names and layouts come from `h5_names`.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.errors import CheckpointFormatError, CheckpointMismatchError
from groupvit.weights_bridge.h5_names import MAIN_LAYER, MODEL_SCOPES, name_table
from groupvit.weights_bridge.keys import expected_shapes
from groupvit.weights_bridge.strict import check_weights

EXPECTED = "a Keras 2 weights file of the old TensorFlow GroupViT port (HDF5 with root attribute layer_names)"
KERAS_VERSION = "2.21.0"  # the tf-keras release our files were checked against
HDF5_OBJECT_HEADER_LIMIT = 64512  # bytes an attribute may take; Keras 2 splits longer name lists
WEIGHT_SUFFIX = ":0"
Progress = Callable[[int], None]


def read_keras2_h5(
    path: str | os.PathLike, config: GroupViTConfig, progress: Progress | None = None, prefix: str | None = None
) -> dict[str, np.ndarray]:
    """Canonical weights (PyTorch names and layouts) of a `tf_model.h5` written for `config`; with `prefix`
    (`text_model.` / `vision_model.`) that tower's weights only, from a file the port's tower model wrote."""
    import h5py

    with _open(path) as f:
        layers = _read_names(f, "layer_names", path)
        if layers != [MAIN_LAYER]:
            raise CheckpointFormatError(
                path, EXPECTED + f" with layer_names == [{MAIN_LAYER!r}]", f"layer_names={layers}"
            )
        group = f[MAIN_LAYER]
        stored = {}
        for weight_name in _read_names(group, "weight_names", path):
            dataset = group[weight_name] if weight_name in group else None
            if not isinstance(dataset, h5py.Dataset):
                raise CheckpointFormatError(path, EXPECTED, f"weight_names lists {weight_name!r} but it has no dataset")
            stored[weight_name] = _H5Value(path, weight_name, dataset)
        return from_tf_names(stored, config, path, progress, prefix=prefix)


def read_keras2_h5_shard(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """One shard of a sharded `tf_model.h5` (`tf_model-00001-of-00003.h5`): a dataset per weight at its
    name without the model's scope (`groupvit/<path>:0`), all of them listed in the root's `layer_names`."""
    import h5py

    expected = "a shard of a sharded tf_model.h5 (HDF5, one dataset per weight named in layer_names)"
    with _open(path) as f:
        out = {}
        for name in _read_names(f, "layer_names", path):
            dataset = f[name] if name in f else None
            if not isinstance(dataset, h5py.Dataset):
                raise CheckpointFormatError(path, expected, f"layer_names lists {name!r} but it has no dataset")
            out[name] = np.asarray(_H5Value(path, name, dataset))
        return out


def from_tf_names(
    stored: dict[str, object], config: GroupViTConfig, path: str | os.PathLike, progress: Progress | None = None,
    prefix: str | None = None,
) -> dict[str, np.ndarray]:
    """Canonical weights from values named as the old port's variables, `[<scope>/]groupvit/<path>:0`,
    in its layouts: its `tf_model.h5`, the shards of a sharded one, and the safetensors files it writes
    with `safe_serialization=True` (metadata `format: tf`). Each value has `.shape` and is read by
    `np.asarray` (an h5 dataset wrapper, a lazily read safetensors tensor, or an array). Strict: one error
    lists every missing, unexpected and mis-shaped weight. `prefix`: only the canonical keys that start with it
    (one tower's, as the port's TFGroupViTTextModel / TFGroupViTVisionModel save them: the same `groupvit/` names),
    returned for the tower model's own strict loader."""
    expected = expected_shapes(config)
    if prefix is not None:
        expected = {k: v for k, v in expected.items() if k.startswith(prefix)}
    table = name_table(list(expected))
    by_tf = {name: key for key, (name, _) in table.items() if name is not None}
    out: dict[str, np.ndarray] = {}
    unexpected: list[str] = []
    mis_shaped: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    for weight_name, value in stored.items():
        key = by_tf.get(tf_path(weight_name) or "")
        if key is None or key in out:
            unexpected.append(weight_name)
            continue
        transform = table[key][1]
        want = transform.tf_shape(expected[key])
        if tuple(value.shape) != tuple(want):
            mis_shaped.append((f"{key} (stored as {weight_name})", tuple(want), tuple(value.shape)))
            continue
        out[key] = transform.to_pt(np.asarray(value))
        if progress is not None:
            progress(out[key].nbytes)
    missing = [k for k, (name, _) in table.items() if name is not None and k not in out]
    if missing or unexpected or mis_shaped:
        raise CheckpointMismatchError(os.fspath(path), missing, unexpected, mis_shaped)
    if prefix is not None:
        return out
    return check_weights(config, out, os.fspath(path), fill_optional=True)


def tf_path(weight_name: str) -> str | None:
    """`[<scope>/]groupvit/<path>:0` -> `<path>` (None for any other name)."""
    parts = weight_name.split("/")
    if parts and parts[0] != MAIN_LAYER:
        parts = parts[1:]  # the Keras model's scope, which the sharded files leave out
    if len(parts) < 2 or parts[0] != MAIN_LAYER or not weight_name.endswith(WEIGHT_SUFFIX):
        return None
    return "/".join(parts[1:])[: -len(WEIGHT_SUFFIX)]


class _H5Value:
    """One dataset of an open h5 file, read when converted; an unreadable one is a format error."""

    def __init__(self, path: str | os.PathLike, name: str, dataset) -> None:
        self.path, self.name, self.dataset, self.shape = path, name, dataset, tuple(dataset.shape)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        try:
            value = np.asarray(self.dataset[()])
        except OSError as err:
            raise CheckpointFormatError(self.path, EXPECTED, f"unreadable dataset {self.name!r} ({err})") from None
        return value if dtype is None else value.astype(dtype, copy=False)


def write_keras2_h5(
    config: GroupViTConfig,
    weights: dict[str, np.ndarray],
    path: str | os.PathLike,
    progress: Progress | None = None,
    model_class: str = "GroupViTModel",
) -> None:
    """Writes canonical weights as the old port's `save_weights` would (loads in `TFGroupViTModel`)."""
    import h5py

    weights = check_weights(config, weights, "the weights to write", fill_optional=True)
    table = name_table(list(weights))
    scope = MODEL_SCOPES[model_class]
    # The port lists logit_scale, the other trainable weights, then the BatchNorm statistics.
    entries = [(key, name, t) for key, (name, t) in table.items() if name is not None]
    entries.sort(
        key=lambda e: 0 if e[0] == "logit_scale" else 2 if e[1].endswith(("moving_mean", "moving_variance")) else 1
    )
    names = [f"{scope}/{MAIN_LAYER}/{name}{WEIGHT_SUFFIX}" for _, name, _ in entries]
    with h5py.File(os.fspath(path), "w") as f:
        _write_names(f, "layer_names", [MAIN_LAYER])
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = KERAS_VERSION
        group = f.create_group(MAIN_LAYER)
        _write_names(group, "weight_names", names)
        for (key, _, transform), weight_name in zip(entries, names):
            value = transform.to_tf(np.asarray(weights[key]))
            group.create_dataset(weight_name, data=value)
            if progress is not None:
                progress(value.nbytes)
        top = f.create_group("top_level_model_weights")
        top.attrs["weight_names"] = np.asarray([], dtype=np.float64)


def _open(path: str | os.PathLike):
    import h5py

    try:
        return h5py.File(os.fspath(path), "r")
    except OSError as err:
        raise CheckpointFormatError(path, EXPECTED, f"not readable as HDF5 ({err})") from None


def _read_names(group, name: str, path: str | os.PathLike) -> list[str]:
    """A list attribute, joined from `name0`, `name1`, ... when Keras 2 split it."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
    if not chunks:
        where = group.name if group.name != "/" else "the root"
        raise CheckpointFormatError(path, EXPECTED, f"no attribute {name!r} on {where}")
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for chunk in chunks for n in np.atleast_1d(chunk)]


def _write_names(group, name: str, names: list[str]) -> None:
    """Keras 2's `save_attributes_to_hdf5_group`: split the list when it exceeds the header limit."""
    import h5py

    data = np.asarray(names, dtype=h5py.string_dtype())
    chunks = 1
    while max(len(n.encode("utf8")) for n in names) * -(-len(names) // chunks) > HDF5_OBJECT_HEADER_LIMIT:
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data
        return
    for i, part in enumerate(np.array_split(data, chunks)):
        group.attrs[f"{name}{i}"] = part
