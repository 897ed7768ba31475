"""Output containers shared by both backends (framework-free).

They behave like the `transformers` port's `ModelOutput`: attribute access, `out["key"]`,
integer indexing and `to_tuple()` over the fields that are not None, in field order.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class ModelOutput(OrderedDict):
    """Ordered mapping of the non-None outputs, also reachable as attributes."""

    _fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # one positional mapping or iterable of pairs: how tf.function / tree utilities rebuild a mapping
        if len(args) > 1:
            raise TypeError(f"{type(self).__name__} takes at most one positional mapping. Received: {len(args)}")
        if args:
            kwargs = {**dict(args[0]), **kwargs}
        unknown = set(kwargs) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has fields {list(self._fields)}. Received: {sorted(unknown)}")
        super().__init__()
        for name in self._fields:
            value = kwargs.get(name)
            if value is not None:
                super().__setitem__(name, value)

    def __getattr__(self, name: str) -> Any:
        if name in type(self)._fields:
            return self.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(f"{type(self).__name__} has fields {list(self._fields)}. Received: {name!r}")
        self[name] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if value is None:
            self.pop(key, None)
            return
        super().__setitem__(key, value)
        for name in self._fields:  # keep field order when a field is filled later
            if name in self:
                self.move_to_end(name)

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def __reduce__(self):
        return (type(self), (), None, None, iter(self.items()))

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(v.to_tuple() if isinstance(v, ModelOutput) else v for v in self.values())


class BaseModelOutputWithPooling(ModelOutput):
    """Output of the text and vision encoders.

    `attentions` are, for text, the self-attention weights of every layer
    [B, heads, L, L]; for vision, the soft assignment maps of the grouping stages
    [B, groups, tokens].
    """

    _fields = ("last_hidden_state", "pooler_output", "hidden_states", "attentions")


class GroupViTModelOutput(ModelOutput):
    """Output of the full model (fields and tuple order as the `transformers` port)."""

    _fields = (
        "loss",
        "logits_per_image",
        "logits_per_text",
        "segmentation_logits",
        "text_embeds",
        "image_embeds",
        "text_model_output",
        "vision_model_output",
    )
