"""Sharded checkpoints: an index (`model.safetensors.index.json`, `pytorch_model.bin.index.json`,
`tf_model.h5.index.json`) and the shard files it names, as `save_pretrained(max_shard_size=...)` of
`transformers` writes them.

The index is JSON, `{"metadata": {...}, "weight_map": {weight name: shard file name}}`. Shards are
read only from the index's own folder (a name with a folder part is refused), every shard must hold
exactly the weights the index assigns to it, and no weight may be held twice. The Keras 2 port's
index names its weights with the model's scope (`tf_group_vi_t_model/groupvit/...:0`) while its
shards leave the scope out; both spell the same weight.
"""

from __future__ import annotations

import json
import os
from typing import Callable

from groupvit.weights_bridge.errors import CheckpointFormatError

EXPECTED = 'a checkpoint index (JSON with "weight_map": {weight name: shard file in the same folder})'


def read_index(path: str | os.PathLike) -> dict[str, list[str]]:
    """{shard path: the weight names the index assigns to it}, shards in the order they first appear."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointFormatError(path, EXPECTED, f"a file that is not JSON ({err})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        shown = sorted(index)[:5] if isinstance(index, dict) else type(index).__name__
        raise CheckpointFormatError(path, EXPECTED, f"no non-empty weight_map (found {shown})")
    folder = os.path.dirname(os.path.abspath(path))
    shards: dict[str, list[str]] = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or os.path.basename(shard) != shard or shard in ("", ".", ".."):
            raise CheckpointFormatError(path, EXPECTED, f"weight {name!r} in shard {shard!r}, not a plain file name")
        shards.setdefault(os.path.join(folder, shard), []).append(name)
    absent = [os.path.basename(s) for s in shards if not os.path.isfile(s)]
    if absent:
        raise CheckpointFormatError(path, EXPECTED, f"shard files that are not in {folder}: {absent[:5]}")
    return shards


def read_sharded(
    path: str | os.PathLike, read_shard: Callable[[str], dict], same_name: Callable[[str], str] = lambda n: n
) -> dict:
    """Every weight of every shard of the index at `path`, in index order of the shards.

    `read_shard(shard path)` gives one shard's {name: value}; `same_name` maps an index name and a
    shard name to one spelling when they differ (the Keras 2 port's scope)."""
    merged: dict = {}
    seen: dict[str, str] = {}
    for shard, names in read_index(path).items():
        values = read_shard(shard)
        listed = {same_name(n) for n in names}
        held = {same_name(k) for k in values}
        unlisted, missing = sorted(held - listed), sorted(listed - held)
        if unlisted or missing:
            raise CheckpointFormatError(
                path, EXPECTED + " whose shards hold exactly the weights it assigns them",
                f"{os.path.basename(shard)} holds {len(unlisted)} weights the index assigns elsewhere or not at all "
                f"{unlisted[:3]} and lacks {len(missing)} it assigns to it {missing[:3]}")
        for key, value in values.items():
            if same_name(key) in seen:
                raise CheckpointFormatError(path, EXPECTED, f"weight {key!r} in both {seen[same_name(key)]} and "
                                                            f"{os.path.basename(shard)}")
            seen[same_name(key)] = os.path.basename(shard)
            merged[key] = value
    return merged
