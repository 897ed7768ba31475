"""PyTorch state-dict keys <-> variable names of the old Keras 2 TensorFlow port.

The mapping is data: which PyTorch module is which kind of layer (a table), how each
kind names and lays out its parameters (a table), and how containers spell an index.
A PyTorch key is read segment by segment against these tables; a segment no table
knows is an error, never a guess.

Example: `vision_model.encoder.stages.1.group_projector.0.weight`
      <-> `vision_model/encoder/stages_._1/group_projector.0/gamma` (LayerNorm).
"""

from __future__ import annotations

from groupvit.weights_bridge.transforms import (
    CONV2D_KERNEL,
    DENSE_KERNEL,
    IDENTITY,
    SCALAR_AS_VECTOR,
    Transform,
)

DENSE, NORM, BATCH_NORM, CONV2D, TOKEN_EMBEDDING, POSITION_EMBEDDING = (
    "Dense", "LayerNorm", "BatchNorm", "Conv2D", "TokenEmbedding", "PositionEmbedding"
)

# PyTorch parameter name -> (TF variable name, layout transform), per kind of layer.
# `None` as TF name: a PyTorch buffer with no TF twin (dropped on write, zero on read).
PARAMETERS: dict[str, dict[str, tuple[str | None, Transform]]] = {
    DENSE: {"weight": ("kernel", DENSE_KERNEL), "bias": ("bias", IDENTITY)},
    CONV2D: {"weight": ("kernel", CONV2D_KERNEL), "bias": ("bias", IDENTITY)},
    NORM: {"weight": ("gamma", IDENTITY), "bias": ("beta", IDENTITY)},
    BATCH_NORM: {
        "weight": ("gamma", IDENTITY),
        "bias": ("beta", IDENTITY),
        "running_mean": ("moving_mean", IDENTITY),
        "running_var": ("moving_variance", IDENTITY),
        "num_batches_tracked": (None, IDENTITY),
    },
    TOKEN_EMBEDDING: {"weight": ("weight", IDENTITY)},
    POSITION_EMBEDDING: {"weight": ("embeddings", IDENTITY)},
}

# Name of the PyTorch module that owns a parameter -> its kind.
MODULE_KINDS: dict[str, str] = {
    "q_proj": DENSE,
    "k_proj": DENSE,
    "v_proj": DENSE,
    "out_proj": DENSE,
    "proj": DENSE,
    "fc1": DENSE,
    "fc2": DENSE,
    "projection": CONV2D,
    "layer_norm1": NORM,
    "layer_norm2": NORM,
    "final_layer_norm": NORM,
    "layernorm": NORM,
    "norm_tokens": NORM,
    "norm_post_tokens": NORM,
    "norm_x": NORM,
    "norm2": NORM,
    "norm_post": NORM,
    "norm_new_x": NORM,
    "token_embedding": TOKEN_EMBEDDING,
    "position_embedding": POSITION_EMBEDDING,
    # nn.Sequential children: Keras layers named "<sequential>.<index>".
    "group_projector.0": NORM,
    "visual_projection.0": DENSE,
    "visual_projection.1": BATCH_NORM,
    "visual_projection.3": DENSE,
    "text_projection.0": DENSE,
    "text_projection.1": BATCH_NORM,
    "text_projection.3": DENSE,
}

# Parameters held directly by a module (tf.Variables of the same name in the port).
VARIABLES: dict[str, Transform] = {
    "position_embeddings": IDENTITY,
    "group_token": IDENTITY,
    "logit_scale": SCALAR_AS_VECTOR,
}

# nn.ModuleList attributes; the port spells item i of `layers` as `layers_._i`.
LIST_CONTAINERS = ("layers", "stages")
LIST_SEPARATOR = "_._"
# nn.Sequential attributes; the port names their children `<name>.<i>` (one Keras layer name).
SEQUENTIAL_CONTAINERS = ("group_projector", "visual_projection", "text_projection")

# Every weight name starts with the Keras model's scope and the main layer's name.
MAIN_LAYER = "groupvit"
MODEL_SCOPES = {
    "GroupViTModel": "tf_group_vi_t_model",
    "GroupViTTextModel": "tf_group_vi_t_text_model",
    "GroupViTVisionModel": "tf_group_vi_t_vision_model",
}


def tf_name(pt_key: str) -> tuple[str | None, Transform]:
    """TF variable path (below `<scope>/groupvit/`, without `:0`) and transform of a PyTorch key.

    Returns `(None, transform)` for a buffer that has no TF twin.
    """
    segments = pt_key.split(".")
    path: list[str] = []
    i = 0
    while i < len(segments) - 1:
        seg = segments[i]
        nxt = segments[i + 1] if i + 1 < len(segments) - 1 else None
        if seg in LIST_CONTAINERS and nxt is not None and nxt.isdigit():
            path.append(f"{seg}{LIST_SEPARATOR}{nxt}")
            i += 2
        elif seg in SEQUENTIAL_CONTAINERS and nxt is not None and nxt.isdigit():
            path.append(f"{seg}.{nxt}")
            i += 2
        elif seg.isdigit():
            raise ValueError(f"An index must follow a known container. Received: key={pt_key!r}")
        else:
            path.append(seg)
            i += 1
    param = segments[-1]
    if param in VARIABLES:
        return "/".join(path + [param]), VARIABLES[param]
    module = path[-1] if path else ""
    if module not in MODULE_KINDS:
        raise ValueError(f"The key's module must be one the h5 name table knows. Received: key={pt_key!r}")
    table = PARAMETERS[MODULE_KINDS[module]]
    if param not in table:
        raise ValueError(
            f"A {MODULE_KINDS[module]} parameter must be one of {sorted(table)}. Received: key={pt_key!r}"
        )
    name, transform = table[param]
    return (None if name is None else "/".join(path + [name])), transform


def name_table(pt_keys: list[str]) -> dict[str, tuple[str | None, Transform]]:
    """{PyTorch key: (TF path, transform)} for a set of keys, checked to be one-to-one."""
    table = {key: tf_name(key) for key in pt_keys}
    seen: dict[str, str] = {}
    for key, (name, _) in table.items():
        if name is None:
            continue
        if name in seen:
            raise ValueError(f"Two keys must not share a TF name. Received: {seen[name]!r} and {key!r} -> {name!r}")
        seen[name] = key
    return table
