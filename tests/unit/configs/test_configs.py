"""Config classes: defaults, round trips, legacy config.json files and every validation error."""

import json
import subprocess
import sys

import pytest

from groupvit.configs import GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig

SPEC_TEXT_DEFAULTS = dict(
    vocab_size=49408, hidden_size=256, intermediate_size=1024, num_hidden_layers=12, num_attention_heads=4,
    max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, dropout=0.0,
    attention_dropout=0.0, initializer_range=0.02, initializer_factor=1.0, pad_token_id=1,
    bos_token_id=49406, eos_token_id=49407,
)
SPEC_VISION_DEFAULTS = dict(
    hidden_size=384, intermediate_size=1536, depths=[6, 3, 3], num_hidden_layers=12,
    num_group_tokens=[64, 8, 0], num_output_groups=[64, 8, 8], num_attention_heads=6, image_size=224,
    patch_size=16, num_channels=3, hidden_act="gelu", layer_norm_eps=1e-5, dropout=0.0,
    attention_dropout=0.0, initializer_range=0.02, initializer_factor=1.0, assign_eps=1.0,
    assign_mlp_ratio=[0.5, 4],
)


def test_defaults_match_spec():
    config = GroupViTConfig()
    for name, value in SPEC_TEXT_DEFAULTS.items():
        assert getattr(config.text_config, name) == value, name
    for name, value in SPEC_VISION_DEFAULTS.items():
        assert getattr(config.vision_config, name) == value, name
    assert (config.projection_dim, config.projection_intermediate_dim) == (256, 4096)
    assert config.logit_scale_init_value == 2.6592


def test_dict_and_json_round_trip(tmp_path):
    config = GroupViTConfig(
        text_config={"hidden_size": 32, "num_attention_heads": 4},
        vision_config=GroupViTVisionConfig(hidden_size=48, num_attention_heads=6, depths=[1, 2]
                                           , num_group_tokens=[4, 0], num_output_groups=[4, 4]),
        projection_dim=16,
    )
    assert GroupViTConfig.from_dict(config.to_dict()) == config
    assert GroupViTConfig.from_json_string(config.to_json_string()) == config
    config.save_pretrained(tmp_path)
    loaded = GroupViTConfig.from_pretrained(tmp_path)
    assert loaded == config
    assert loaded.vision_config.depths == [1, 2]
    on_disk = json.loads((tmp_path / "config.json").read_text())
    assert on_disk["model_type"] == "groupvit"
    assert on_disk["text_config"]["model_type"] == "groupvit_text_model"
    assert on_disk["vision_config"]["model_type"] == "groupvit_vision_model"


def test_from_text_vision_configs():
    text, vision = GroupViTTextConfig(hidden_size=64), GroupViTVisionConfig(hidden_size=96)
    config = GroupViTConfig.from_text_vision_configs(text, vision, projection_dim=32)
    assert config.text_config == text and config.vision_config == vision and config.projection_dim == 32


def test_legacy_file_with_config_dicts_extra_keys_and_eos_2(tmp_path):
    legacy = {
        "architectures": ["GroupViTModel"],
        "model_type": "groupvit",
        "torch_dtype": "float32",
        "transformers_version": "4.22.0.dev0",
        "text_config": {"hidden_size": 256, "eos_token_id": 49407},
        "text_config_dict": {"eos_token_id": 2, "bad_words_ids": None, "hidden_size": 256},
        "vision_config_dict": {"hidden_size": 384, "id2label": {"0": "LABEL_0"}},
        "projection_dim": 256,
    }
    (tmp_path / "config.json").write_text(json.dumps(legacy))
    config = GroupViTConfig.from_pretrained(tmp_path)
    assert config.text_config.eos_token_id == 2  # the *_config_dict value wins
    assert config.text_config.uses_legacy_pooling
    assert config.extra["architectures"] == ["GroupViTModel"]
    assert config.text_config.extra["bad_words_ids"] is None
    out = config.to_dict()
    assert out["torch_dtype"] == "float32" and out["transformers_version"] == "4.22.0.dev0"
    assert "text_config_dict" not in out
    assert out["vision_config"]["id2label"] == {"0": "LABEL_0"}
    assert GroupViTConfig.from_dict(out) == config


def test_written_by_the_port_layout_loads():
    # keys as transformers 5 writes them (output_segmentation, dtype, generic flags)
    port_dict = {
        "model_type": "groupvit", "output_segmentation": False, "dtype": "float32",
        "initializer_factor": 1.0, "initializer_range": 0.02, "logit_scale_init_value": 2.6592,
        "projection_dim": 256, "projection_intermediate_dim": 4096,
        "text_config": {**SPEC_TEXT_DEFAULTS, "model_type": "groupvit_text_model", "return_dict": True},
        "vision_config": {**SPEC_VISION_DEFAULTS, "model_type": "groupvit_vision_model", "output_attentions": False},
    }
    config = GroupViTConfig.from_dict(port_dict)
    assert config.to_dict() == port_dict


def test_sub_config_from_nested_file(tmp_path):
    GroupViTConfig(text_config={"hidden_size": 64}, vision_config={"hidden_size": 96}).save_pretrained(tmp_path)
    assert GroupViTTextConfig.from_pretrained(tmp_path).hidden_size == 64
    assert GroupViTVisionConfig.from_pretrained(tmp_path / "config.json").hidden_size == 96


@pytest.mark.parametrize(
    "cls, kwargs, fragment",
    [
        (GroupViTTextConfig, {"hidden_size": 30, "num_attention_heads": 4}, "divisible by num_attention_heads"),
        (GroupViTVisionConfig, {"hidden_size": 50, "num_attention_heads": 6}, "divisible by num_attention_heads"),
        (GroupViTVisionConfig, {"depths": [1, 1], "num_group_tokens": [4, 0, 0], "num_output_groups": [4, 4]},
         "same length"),
        (GroupViTVisionConfig, {"depths": [1, 1, 1], "num_group_tokens": [0, 8, 0], "num_output_groups": [4, 8, 8]},
         "num_group_tokens[0] == num_output_groups[0]"),  # a projector of 4 group tokens the plain stage lacks
        (GroupViTVisionConfig, {"depths": [1, 1], "num_group_tokens": [16, 8], "num_output_groups": [12, 8]},
         "num_group_tokens[0] == num_output_groups[0]"),
        (GroupViTVisionConfig, {"image_size": 12, "patch_size": 16}, "image_size must hold at least one patch"),
        (GroupViTVisionConfig, {"hidden_size": 0}, "positive integer"),
        (GroupViTVisionConfig, {"patch_size": -4}, "positive integer"),
        (GroupViTTextConfig, {"vocab_size": 0}, "positive integer"),
        (GroupViTTextConfig, {"max_position_embeddings": -1}, "positive integer"),
        (GroupViTTextConfig, {"hidden_act": "gelu_fancy"}, "hidden_act must be one of"),
        (GroupViTVisionConfig, {"hidden_act": "prelu"}, "hidden_act must be one of"),
        (GroupViTVisionConfig, {"layer_norm_eps": -1e-5}, "finite number >= 0"),
        (GroupViTVisionConfig, {"assign_eps": float("inf")}, "finite number >= 0"),
        (GroupViTTextConfig, {"layer_norm_eps": "1e-5"}, "finite number >= 0"),
        (GroupViTVisionConfig, {"dropout": 1.5}, "[0, 1)"),
        (GroupViTVisionConfig, {"num_group_tokens": [64, 8, -1]}, "non-negative"),
    ],
)
def test_validation_errors(cls, kwargs, fragment):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert fragment in message
    assert "Received:" in message


def test_top_level_validation():
    with pytest.raises(ValueError, match="projection_dim must be a positive integer. Received: projection_dim=0"):
        GroupViTConfig(projection_dim=0)
    with pytest.raises(ValueError, match="divisible by num_attention_heads"):
        GroupViTConfig(text_config={"hidden_size": 30})
    with pytest.raises(TypeError, match="text_config must be"):
        GroupViTConfig(text_config=3)


def test_bad_json_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        GroupViTConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="must be a JSON file"):
        GroupViTConfig.from_pretrained(tmp_path)


def test_configs_import_no_framework():
    code = (
        "import sys, groupvit.configs, groupvit.outputs, groupvit.input_checks, groupvit.weights_bridge.keys; "
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'tf_keras') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("cls", [GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig])
def test_a_config_of_another_model_is_refused(tmp_path, cls):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 64}))
    with pytest.raises(ValueError, match=r"model_type of a config .* must be one of .*Received: model_type='bert'"):
        cls.from_pretrained(tmp_path)


def test_tower_configs_read_their_own_file_and_their_part_of_a_full_one(tmp_path):
    full = GroupViTConfig()
    full.save_pretrained(tmp_path / "full")
    full.text_config.save_pretrained(tmp_path / "text")
    assert GroupViTTextConfig.from_pretrained(tmp_path / "full") == full.text_config
    assert GroupViTTextConfig.from_pretrained(tmp_path / "text") == full.text_config
    with pytest.raises(ValueError, match="groupvit_text_model"):
        GroupViTConfig.from_pretrained(tmp_path / "text")  # a tower config is not a full model's


def test_configs_load_a_shipped_model_by_name_without_a_framework():
    code = (
        "import sys; from groupvit.configs import GroupViTConfig, GroupViTTextConfig; "
        "c = GroupViTConfig.from_pretrained('shapes-tiny'); t = GroupViTTextConfig.from_pretrained('shapes-tiny'); "
        "assert c.text_config == t and c.vision_config.image_size == 64, c; "
        "sys.exit(1 if [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules] else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_common_fields_of_transformers_configs(tmp_path):
    """return_dict / output_attentions / output_hidden_states / use_return_dict and the other PretrainedConfig
    fields read with transformers' defaults; set ones (and extra keys of config.json) read back, are written
    by to_dict and survive a round trip."""
    config = GroupViTConfig()
    assert (config.return_dict, config.use_return_dict, config.output_attentions, config.output_hidden_states,
            config.name_or_path, config.architectures, config.torch_dtype, config.is_encoder_decoder) == \
        (True, True, False, False, "", None, None, False)
    config.return_dict = False
    config.output_hidden_states = True
    assert config.use_return_dict is False and config.to_dict()["output_hidden_states"] is True
    assert GroupViTConfig.from_json_string(config.to_json_string()) == config
    loaded = GroupViTConfig.from_dict({**GroupViTConfig().to_dict(), "torch_dtype": "float32",
                                       "architectures": ["GroupViTModel"], "my_key": 3})
    assert (loaded.torch_dtype, loaded.dtype, loaded.architectures, loaded.my_key) == \
        ("float32", "float32", ["GroupViTModel"], 3)
    with pytest.raises(AttributeError, match="no attribute 'not_a_field'"):
        loaded.not_a_field
    assert GroupViTTextConfig(foo=3).foo == 3


def test_config_files_and_overrides_as_the_ports(tmp_path):
    config = GroupViTConfig(projection_dim=64)
    config.to_json_file(tmp_path / "c.json")
    assert GroupViTConfig.from_json_file(tmp_path / "c.json") == config
    config.update({"projection_dim": 32, "output_attentions": True})
    assert config.projection_dim == 32 and config.output_attentions is True
    assert GroupViTConfig.from_dict(config.to_dict(), projection_dim=16).projection_dim == 16
    with pytest.raises(ValueError, match="projection_dim must be a positive integer"):
        GroupViTConfig.from_dict(config.to_dict(), projection_dim=0)
    config.save_pretrained(tmp_path / "ck")
    again = GroupViTConfig.from_pretrained(tmp_path / "ck", output_segmentation=True)
    assert again.output_segmentation is True and again.projection_dim == 32
    assert GroupViTVisionConfig.from_pretrained(tmp_path / "ck", patch_size=32).patch_size == 32
    with pytest.raises(ValueError, match="push_to_hub must be False"):
        config.save_pretrained(tmp_path / "ck", push_to_hub=True)


def test_a_partial_legacy_config_dict_overrides_as_a_whole_tower_config():
    """As the ports read `text_config_dict`: the tower config it describes (its keys over the defaults) replaces
    `text_config`'s values, so a key the dict leaves out takes its default (tests/reference checks the port)."""
    config = GroupViTConfig.from_dict({
        "text_config": {"hidden_act": "relu", "eos_token_id": 49, "hidden_size": 64},
        "text_config_dict": {"hidden_size": 32},
        "vision_config": {"hidden_act": "relu", "assign_eps": 0.5},
        "vision_config_dict": {"hidden_size": 96},
    })
    assert config.text_config.hidden_size == 32 and config.vision_config.hidden_size == 96
    assert config.text_config.hidden_act == GroupViTTextConfig().hidden_act
    assert config.text_config.eos_token_id == GroupViTTextConfig().eos_token_id
    assert config.vision_config.hidden_act == GroupViTVisionConfig().hidden_act
    assert config.vision_config.assign_eps == GroupViTVisionConfig().assign_eps


def test_zero_epsilons_load_as_in_the_ports():
    """transformers builds configs (and models) with layer_norm_eps = 0 and assign_eps = 0; they were refused."""
    assert GroupViTTextConfig(layer_norm_eps=0).layer_norm_eps == 0
    vision = GroupViTVisionConfig(layer_norm_eps=0.0, assign_eps=0)
    assert (vision.layer_norm_eps, vision.assign_eps) == (0.0, 0)


@pytest.mark.parametrize("cls, field", [(GroupViTConfig, "output_segmentation"), (GroupViTConfig, "return_dict"),
                                        (GroupViTTextConfig, "output_attentions"),
                                        (GroupViTVisionConfig, "output_hidden_states")])
def test_call_default_flags_must_be_true_or_false(cls, field):
    """A config.json holding "output_segmentation": "false" loaded and turned segmentation on (bool("false"))."""
    with pytest.raises(ValueError, match=f"{field} must be true or false. Received: {field}='false'"):
        cls.from_dict({field: "false"})
    assert getattr(cls.from_dict({field: True}), field) is True
