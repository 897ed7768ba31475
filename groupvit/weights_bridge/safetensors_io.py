"""`model.safetensors`: the PyTorch names and layouts, read and written with safetensors.numpy."""

from __future__ import annotations

import os

import numpy as np

from groupvit.weights_bridge.errors import CheckpointFormatError

EXPECTED = "a safetensors file (8-byte header length, JSON header, tensor data)"


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a numpy array, keyed by its stored name."""
    from safetensors import SafetensorError, safe_open

    _check_header(path)
    try:
        with safe_open(os.fspath(path), framework="np") as f:
            return {key: f.get_tensor(key) for key in f.keys()}
    except SafetensorError as err:
        raise CheckpointFormatError(path, EXPECTED, f"safetensors error: {err}") from None


def write_safetensors(weights: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Writes `weights` with `format: pt` metadata, as the PyTorch port's loader expects."""
    from safetensors.numpy import save_file

    # np.ascontiguousarray would turn a () scalar into (1,); np.require keeps the shape.
    arrays = {key: np.require(np.asarray(value), requirements="C") for key, value in weights.items()}
    save_file(arrays, os.fspath(path), metadata={"format": "pt"})


def _check_header(path: str | os.PathLike) -> None:
    """A cheap sniff so a foreign file gets a message about what it is, not a parser error."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        raise CheckpointFormatError(path, EXPECTED, f"a file of {size} bytes")
    header_len = int.from_bytes(head[:8], "little")
    if head[8:9] != b"{" or header_len > size - 8:
        raise CheckpointFormatError(
            path, EXPECTED, f"a file of {size} bytes starting with {head[:9]!r} (header length {header_len})"
        )
