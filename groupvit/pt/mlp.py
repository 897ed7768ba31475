"""Two-layer MLPs: over channels (`GroupViTMLP`) and over tokens (`GroupViTMixerMLP`)."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig
from groupvit.pt.activations import get_activation
from groupvit.pt.linear import FUSABLE_ACTIVATIONS, GroupViTLinear


class GroupViTMLP(nn.Module):
    """fc1 -> activation -> fc2; sizes default to the config's hidden and intermediate sizes."""

    def __init__(
        self,
        config: GroupViTTextConfig | GroupViTVisionConfig,
        hidden_size: int | None = None,
        intermediate_size: int | None = None,
        output_size: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.activation_fn = get_activation(config.hidden_act)
        self.fused_activation = config.hidden_act if config.hidden_act in FUSABLE_ACTIVATIONS else None
        hidden_size = hidden_size if hidden_size is not None else config.hidden_size
        intermediate_size = intermediate_size if intermediate_size is not None else config.intermediate_size
        output_size = output_size if output_size is not None else hidden_size
        self.fc1 = GroupViTLinear(hidden_size, intermediate_size)
        self.fc2 = GroupViTLinear(intermediate_size, output_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.fused_activation is not None:
            return self.fc2(self.fc1(hidden_states, fused_activation=self.fused_activation))
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class GroupViTMixerMLP(GroupViTMLP):
    """The same MLP applied along the token axis: [B, T, D] -> [B, T', D]."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return super().forward(hidden_states.transpose(1, 2)).transpose(1, 2)
