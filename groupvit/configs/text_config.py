"""Configuration of the GroupViT text encoder."""

from __future__ import annotations

from typing import Any

from groupvit.configs._base import ConfigBase


class GroupViTTextConfig(ConfigBase):
    """Text encoder settings; field names and defaults equal the `transformers` port's.

    `eos_token_id == 2` (written by old releases) selects the legacy pooling rule:
    the pooled token is the one with the largest id instead of the first end token.
    """

    model_type = "groupvit_text_model"
    base_config_key = "text_config"
    _defaults = {
        "vocab_size": 49408,
        "hidden_size": 256,
        "intermediate_size": 1024,
        "num_hidden_layers": 12,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
        "dropout": 0.0,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "initializer_factor": 1.0,
        "pad_token_id": 1,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validate()

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    max_position_embeddings: int
    hidden_act: str
    layer_norm_eps: float
    dropout: float
    attention_dropout: float
    initializer_range: float
    initializer_factor: float
    pad_token_id: int | None
    bos_token_id: int | None
    eos_token_id: int | None

    @property
    def uses_legacy_pooling(self) -> bool:
        """True for config.json files written before the end-token fix (`eos_token_id: 2`)."""
        return self.eos_token_id == 2

    def validate(self) -> None:
        self._check_flags()
        self._check_positive(
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "max_position_embeddings",
        )
        self._check_heads()
        self._check_activation()
        self._check_non_negative_float("layer_norm_eps")
        self._check_probability("dropout", "attention_dropout")
        if isinstance(self.eos_token_id, bool) or not isinstance(self.eos_token_id, int):
            raise ValueError(
                f"{self._ctx()}eos_token_id must be an integer (text pooling looks it up). "
                f"Received: eos_token_id={self.eos_token_id!r}"
            )
