"""Small configs with distinct, odd sizes shared by the test suites (framework-free)."""

from __future__ import annotations

from groupvit.configs import GroupViTConfig

TEXT = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=16, pad_token_id=1, bos_token_id=97, eos_token_id=98)
VISION = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, image_size=30, patch_size=3,
              num_hidden_layers=3)

STAGES = {
    "three_stage": dict(depths=[1, 1, 1], num_group_tokens=[8, 4, 0], num_output_groups=[8, 4, 4]),
    "two_stage": dict(depths=[2, 1], num_group_tokens=[6, 0], num_output_groups=[6, 6]),
    "two_grouping": dict(depths=[1, 2], num_group_tokens=[8, 5], num_output_groups=[8, 5]),
    "four_stage": dict(depths=[1, 1, 1, 1], num_group_tokens=[12, 6, 3, 0], num_output_groups=[12, 6, 3, 3]),
    # layouts both ports build: grouping after a plain stage (no projector), and a stage without layers
    "plain_then_grouping": dict(depths=[1, 1], num_group_tokens=[0, 5], num_output_groups=[0, 5]),
    "empty_stage": dict(depths=[1, 0, 1], num_group_tokens=[8, 4, 0], num_output_groups=[8, 4, 4]),
}


def tiny_config(stages: str = "three_stage", **top) -> GroupViTConfig:
    text = dict(TEXT, **top.pop("text", {}))
    vision = dict(VISION, **STAGES[stages], **top.pop("vision", {}))
    vision["num_hidden_layers"] = sum(vision["depths"])
    return GroupViTConfig(
        text_config=text, vision_config=vision, projection_dim=24, projection_intermediate_dim=48,
        logit_scale_init_value=2.0, **top,
    )
