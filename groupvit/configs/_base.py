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


# Fields every `transformers` config has (PretrainedConfig), read as attributes with these defaults when a
# config.json does not set them; set ones are kept in `extra` and written back. The models take
# `output_attentions`, `output_hidden_states` and `return_dict` as their call defaults, as the ports do.
COMMON_FIELDS: dict[str, Any] = {
    "return_dict": True, "output_attentions": False, "output_hidden_states": False, "name_or_path": "",
    "architectures": None, "dtype": None, "transformers_version": None, "is_encoder_decoder": False,
}
ALIASES = {"torch_dtype": "dtype"}  # transformers 4.x's name -> 5's


def call_flags(config: "ConfigBase", output_attentions: bool | None, output_hidden_states: bool | None,
               return_dict: bool | None) -> tuple[bool, bool, bool]:
    """A model call's flags: each one not given (None) takes the config's value, as in the ports."""
    return (bool(config.output_attentions if output_attentions is None else output_attentions),
            bool(config.output_hidden_states if output_hidden_states is None else output_hidden_states),
            bool(config.use_return_dict if return_dict is None else return_dict))


class ConfigBase:
    """Common behaviour of the three config classes.

    Subclasses list their fields with defaults in `_defaults`. Keys that are not fields
    (`architectures`, `torch_dtype`, `transformers_version`, ...) are kept in `extra`
    and written back by `to_dict`, so a config.json survives a round trip unchanged; they read as
    attributes too (`config.architectures`), as do the common fields of COMMON_FIELDS.
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

    def __getattr__(self, name: str) -> Any:  # only for names that are not plain attributes
        extra = self.__dict__.get("extra")
        if extra is None or name.startswith("__"):
            raise AttributeError(name)
        for key in (name, ALIASES.get(name), *(k for k, v in ALIASES.items() if v == name)):
            if key is not None and key in extra:
                return extra[key]
        if name == "use_return_dict":
            return bool(self.return_dict)
        canonical = ALIASES.get(name, name)
        if canonical in COMMON_FIELDS:
            return copy.deepcopy(COMMON_FIELDS[canonical])
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        """A common field or an extra key set as an attribute is kept in `extra` (so `to_dict` writes it)."""
        if name != "extra" and name not in self._defaults and "extra" in self.__dict__ and (
                name in COMMON_FIELDS or name in ALIASES or name in self.extra):
            self.extra[name] = value
            return
        object.__setattr__(self, name, value)

    def update(self, values: dict[str, Any]) -> None:
        """Set each key of `values` as an attribute (fields, common fields, extra keys), as the ports'."""
        for name, value in values.items():
            setattr(self, name, value)

    # ----- serialization -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = copy.deepcopy(self.extra)
        for name in self._defaults:
            out[name] = copy.deepcopy(getattr(self, name))
        out["model_type"] = self.model_type
        return out

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **overrides: Any):
        """A config from a dict; `overrides` replace its keys (as the ports' `from_dict(d, **kwargs)`)."""
        if overrides:
            config_dict = {**config_dict, **overrides} if isinstance(config_dict, dict) else config_dict
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

    def to_json_file(self, json_file_path: str | os.PathLike) -> None:
        """Write the config as JSON to a file (the file appears whole or not at all)."""
        path = os.fspath(json_file_path)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())
        os.replace(tmp, path)

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike):
        with open(json_file, encoding="utf-8") as f:
            return cls.from_json_string(f.read())

    def save_pretrained(self, save_directory: str | os.PathLike, push_to_hub: bool = False) -> str:
        """Write `config.json` into `save_directory` (created if needed); returns its path."""
        if push_to_hub:
            raise ValueError("push_to_hub must be False: this library writes local files only. Received: True")
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, CONFIG_NAME)
        self.to_json_file(path)
        return path

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, revision: str | None = None,
                        cache_dir: str | os.PathLike | None = None, local_files_only: bool | None = None,
                        **overrides: Any):
        """Read a config from a checkpoint directory, a `config.json` file, a shipped model's name or a hub id
        (`revision`, `cache_dir`, `local_files_only`); `overrides` replace fields, as the ports'."""
        from groupvit.pretrained import resolve_checkpoint  # framework-free, as this package

        path = resolve_checkpoint(path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only)
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
        config = cls._from_file_dict(config_dict)
        if overrides:
            config = cls.from_dict(config.to_dict(), **overrides)
        return config

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

    def _check_non_negative_float(self, *names: str) -> None:
        """Epsilons: 0 is allowed, as the ports allow it (a zero-variance row, or a group given no token with
        assign_eps 0, then divides by zero and gives NaN, as there)."""
        for name in names:
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0
                    or value == float("inf")):
                raise ValueError(f"{self._ctx()}{name} must be a finite number >= 0. Received: {name}={value!r}")

    def _check_flags(self, *names: str) -> None:
        """The call defaults a config.json may set (`return_dict`, `output_attentions`, `output_hidden_states`, and
        the given fields) must be true or false: a string such as "false" would read as true."""
        for name in (*names, "return_dict", "output_attentions", "output_hidden_states"):
            value = getattr(self, name)
            if not isinstance(value, bool) and value is not None:
                raise ValueError(f"{self._ctx()}{name} must be true or false. Received: {name}={value!r}")

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
