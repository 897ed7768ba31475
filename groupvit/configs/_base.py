"""Shared machinery of the config classes: defaults, extras, JSON round trip.

No framework is imported here: a config is a plain Python object.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, ClassVar

CONFIG_NAME = "config.json"

# Activations both backends implement; names as in `transformers.activations.ACT2FN`.
SUPPORTED_ACTIVATIONS = (
    "gelu", "gelu_10", "gelu_accurate", "gelu_fast", "gelu_new", "gelu_python", "gelu_python_tanh",
    "gelu_pytorch_tanh", "hardswish", "laplace", "leaky_relu", "linear", "mish", "quick_gelu", "relu", "relu2",
    "relu6", "sigmoid", "silu", "sqrtsoftplus", "swish", "tanh",
)


class ConfigBase:
    """Common behaviour of the three config classes.

    Subclasses list their fields with defaults in `_defaults`. Keys that are not fields
    (`architectures`, `torch_dtype`, `transformers_version`, ...) are kept in `extra`
    and written back by `to_dict`, so a config.json survives a round trip unchanged.
    """

    model_type: ClassVar[str] = ""
    # where a tower config sits inside a full GroupViT config.json ("text_config" / "vision_config")
    base_config_key: ClassVar[str | None] = None
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("model_type", None)
        for name, default in self._defaults.items():
            value = kwargs.pop(name, default)
            setattr(self, name, copy.deepcopy(value))
        self.extra: dict[str, Any] = kwargs

    # ----- serialization -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = copy.deepcopy(self.extra)
        for name in self._defaults:
            out[name] = copy.deepcopy(getattr(self, name))
        out["model_type"] = self.model_type
        return out

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any]):
        if not isinstance(config_dict, dict):
            raise TypeError(
                f"{cls.__name__}.from_dict needs a dict. Received: {type(config_dict).__name__}"
            )
        given = config_dict.get("model_type")
        accepted = {cls.model_type, "groupvit"} if cls.base_config_key else {cls.model_type}
        if given is not None and given not in accepted:
            raise ValueError(
                f"The model_type of a config {cls.__name__} reads must be one of {sorted(accepted)} (a GroupViT "
                f"checkpoint). Received: model_type={given!r}"
            )
        return cls(**copy.deepcopy(config_dict))

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json_string(cls, text: str):
        return cls.from_dict(json.loads(text))

    def save_pretrained(self, save_directory: str | os.PathLike) -> str:
        """Write `config.json` into `save_directory` (created if needed); returns its path."""
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, CONFIG_NAME)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())
        os.replace(tmp, path)
        return path

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike):
        """Read a config from a checkpoint directory, a `config.json` file, a shipped model's name or a hub id."""
        from groupvit.pretrained import resolve_checkpoint  # framework-free, as this package

        path = resolve_checkpoint(path)
        file = os.path.join(path, CONFIG_NAME) if os.path.isdir(path) else path
        if not os.path.isfile(file):
            raise FileNotFoundError(
                f"A GroupViT checkpoint directory must contain {CONFIG_NAME}. Received: path={path!r}"
            )
        with open(file, encoding="utf-8") as f:
            try:
                config_dict = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"{file} must be a JSON file. Received a parse error: {err}") from None
        return cls._from_file_dict(config_dict)

    @classmethod
    def _from_file_dict(cls, config_dict: dict[str, Any]):
        """A tower config read from a full GroupViT config.json takes its own part, as the port does."""
        if cls.base_config_key and config_dict.get("model_type") == "groupvit":
            config_dict = config_dict.get(cls.base_config_key) or {}
        return cls.from_dict(config_dict)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    # ----- validation helpers ----------------------------------------------------------
    def _check_positive(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{self._ctx()}{name} must be a positive integer. Received: {name}={value!r}")

    def _check_probability(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ValueError(f"{self._ctx()}{name} must be a number in [0, 1). Received: {name}={value!r}")

    def _check_positive_float(self, *names: str) -> None:
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{self._ctx()}{name} must be a positive number. Received: {name}={value!r}")

    def _check_heads(self) -> None:
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"{self._ctx()}hidden_size must be divisible by num_attention_heads. "
                f"Received: hidden_size={self.hidden_size}, num_attention_heads={self.num_attention_heads}"
            )

    def _check_activation(self) -> None:
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"{self._ctx()}hidden_act must be one of {list(SUPPORTED_ACTIVATIONS)}. "
                f"Received: hidden_act={self.hidden_act!r}"
            )

    def _ctx(self) -> str:
        return f"{type(self).__name__}: "
