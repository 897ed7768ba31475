"""Training checkpoints: the standard model layout plus a trainer state, each written atomically.

`OUT/checkpoints/step-000050/` holds `config.json` + `model.safetensors` (loadable by both
backends' `from_pretrained` and by the `transformers` port), the tokenizer files, and
`trainer_state.json` (step, data positions, schedule, RNG, skip counts) with
`optimizer.safetensors` (AdamW moments by PyTorch parameter name, in PyTorch layout, and the
multi-label temperature). A checkpoint folder is assembled under a temporary name and renamed
into place, so a folder named `step-*` is always complete. `OUT/` itself receives the final
model the same way (temporary files, then renames).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid

import numpy as np

from groupvit.configs import CONFIG_NAME, GroupViTConfig
from groupvit.weights_bridge.atomic import AtomicFiles
from groupvit.weights_bridge.safetensors_io import read_safetensors, write_safetensors

STATE_NAME = "trainer_state.json"
OPTIMIZER_NAME = "optimizer.safetensors"
STATE_FORMAT = "groupvit-trainer-state"
STATE_VERSION = 1
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json")
_STEP_DIR = re.compile(r"^step-(\d+)$")


def tokenizer_files(directory: str) -> dict[str, bytes]:
    """The tokenizer files of a folder, as bytes, to be copied beside every checkpoint."""
    files = {}
    for name in TOKENIZER_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files[name] = f.read()
    return files


def _write_bytes(data: bytes):
    def write(path: str) -> None:
        with open(path, "wb") as f:
            f.write(data)
    return write


def write_model(directory: str, config: GroupViTConfig, weights: dict[str, np.ndarray],
                tokenizer: dict[str, bytes]) -> None:
    """config.json + model.safetensors + tokenizer files into `directory`, all at once or none."""
    os.makedirs(directory, exist_ok=True)
    with AtomicFiles(directory) as out:
        out.stage("model.safetensors", lambda tmp: write_safetensors(weights, tmp))
        out.stage(CONFIG_NAME, _write_bytes(config.to_json_string().encode("utf-8")))
        for name, data in tokenizer.items():
            out.stage(name, _write_bytes(data))
        out.commit()


_TEMPORARY = re.compile(r"^\.tmp-[0-9a-f]{8}-")  # the staging names of write_checkpoint and weights_bridge.atomic


def sweep_temporaries(out_dir: str) -> list[str]:
    """Remove what a writer killed mid-write (SIGKILL, out of memory) left staged in a run's folder and its
    checkpoints/ (`.tmp-XXXXXXXX-...`: never a finished file); returns the removed paths."""
    removed = []
    for folder in (out_dir, os.path.join(out_dir, "checkpoints")):
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
            path = os.path.join(folder, name)
            if not _TEMPORARY.match(name) or os.path.islink(path):
                continue
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(path)
    return removed


def checkpoint_dir(out_dir: str, step: int) -> str:
    return os.path.join(out_dir, "checkpoints", f"step-{step:06d}")


def write_checkpoint(out_dir: str, step: int, config: GroupViTConfig, weights: dict[str, np.ndarray],
                     tokenizer: dict[str, bytes], state: dict, optimizer: dict[str, np.ndarray],
                     keep: int | None = None, protect: tuple[str, ...] = ()) -> str:
    """Assemble `checkpoints/step-N/` under a temporary name, then rename it into place; then remove all but the
    newest `keep` checkpoints, except those in `protect` (the best-scoring one of a run that evaluates)."""
    final = checkpoint_dir(out_dir, step)
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".tmp-{uuid.uuid4().hex[:8]}-step-{step:06d}")
    try:
        write_model(tmp, config, weights, tokenizer)
        write_safetensors(optimizer, os.path.join(tmp, OPTIMIZER_NAME))
        record = {"format": STATE_FORMAT, "version": STATE_VERSION, **state, "step": step}
        with open(os.path.join(tmp, STATE_NAME), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        if os.path.isdir(final):  # the same step saved again (e.g. Ctrl-C right after a save)
            old = f"{tmp}-old"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
    if keep:
        protected = {os.path.abspath(path) for path in protect}
        for stale in list_checkpoints(out_dir)[:-keep]:
            if os.path.abspath(stale) not in protected:
                shutil.rmtree(stale)
    return final


def list_checkpoints(out_dir: str) -> list[str]:
    """Complete checkpoint folders of a run, oldest first."""
    parent = os.path.join(out_dir, "checkpoints")
    if not os.path.isdir(parent):
        return []
    found = []
    for name in os.listdir(parent):
        match = _STEP_DIR.match(name)
        if match and os.path.isfile(os.path.join(parent, name, STATE_NAME)):
            found.append((int(match.group(1)), os.path.join(parent, name)))
    return [path for _, path in sorted(found)]


def read_state(folder: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(trainer_state.json, optimizer arrays) of a checkpoint folder, checked."""
    path = os.path.join(folder, STATE_NAME)
    with open(path, encoding="utf-8") as f:
        try:
            state = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} must be a JSON trainer state. Received a parse error: {err}") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
        raise ValueError(
            f"{path} must be a {STATE_FORMAT} file of version {STATE_VERSION}. Received: "
            f"format={state.get('format') if isinstance(state, dict) else type(state).__name__!r}, "
            f"version={state.get('version') if isinstance(state, dict) else None!r}"
        )
    return state, read_safetensors(os.path.join(folder, OPTIMIZER_NAME))
