"""The authors' token-table init for runs from scratch (groupvit.training.init)."""

import numpy as np

from groupvit.training.init import token_tables
from tiny_configs import tiny_config


def test_token_tables_are_seeded_truncated_normals_that_differ_per_token():
    config = tiny_config("two_grouping")
    tables = token_tables(config, seed=3)
    assert sorted(tables) == ["vision_model.embeddings.position_embeddings",
                              "vision_model.encoder.stages.0.group_token", "vision_model.encoder.stages.1.group_token"]
    for key, value in tables.items():
        assert value.dtype == np.float32 and np.abs(value).max() <= 0.04 + 1e-7
        assert 0.012 < value.std() < 0.02, key  # a normal of std 0.02 cut at 2 std has std 0.0176
        assert len(np.unique(value.reshape(value.shape[1], -1), axis=0)) == value.shape[1]  # no two tokens alike
    again = token_tables(config, seed=3)
    assert all(np.array_equal(again[k], tables[k]) for k in tables)
    assert not np.array_equal(token_tables(config, seed=4)["vision_model.encoder.stages.0.group_token"],
                              tables["vision_model.encoder.stages.0.group_token"])
