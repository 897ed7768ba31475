"""Checkpoint directories: round trips, strict loading, tower models from a full checkpoint."""

import pytest
import torch
from pt_helpers import make_inputs, randomize

from groupvit.pt import GroupViTModel, GroupViTTextModel, GroupViTVisionModel
from groupvit.weights_bridge.keys import expected_shapes
from tiny_configs import tiny_config


def test_state_dict_keys_are_the_contract():
    for stages in ("three_stage", "four_stage", "two_stage"):
        config = tiny_config(stages)
        model = GroupViTModel(config)
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected_shapes(config)
        text = GroupViTTextModel(config.text_config)
        assert {k: tuple(v.shape) for k, v in text.state_dict().items()} == expected_shapes(config.text_config)


def test_save_and_load_round_trip_bit_exact(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = GroupViTModel.from_pretrained(tmp_path)
    assert not loaded.training
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.config == tiny_model.config


def test_pytorch_bin_with_position_ids(tmp_path, tiny_model):
    tiny_model.config.save_pretrained(tmp_path)
    state = dict(tiny_model.state_dict())
    state["text_model.embeddings.position_ids"] = torch.arange(16)[None]
    torch.save(state, tmp_path / "pytorch_model.bin")
    loaded = GroupViTModel.from_pretrained(tmp_path)
    pixels, ids, _ = make_inputs(tiny_model.config)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids, pixel_values=pixels).logits_per_image,
                           tiny_model(input_ids=ids, pixel_values=pixels).logits_per_image)


def test_towers_take_their_part_of_a_full_checkpoint(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    pixels, ids, mask = make_inputs(tiny_model.config)
    text = GroupViTTextModel.from_pretrained(tmp_path)
    vision = GroupViTVisionModel.from_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.equal(text(ids, mask).pooler_output, tiny_model.text_model(ids, mask).pooler_output)
        assert torch.equal(vision(pixels).pooler_output, tiny_model.vision_model(pixels).pooler_output)
    vision.save_pretrained(tmp_path / "vision")
    again = GroupViTVisionModel.from_pretrained(tmp_path / "vision")
    assert again.config == vision.config


def _corrupt(tmp_path, tiny_model, edit):
    tiny_model.config.save_pretrained(tmp_path)
    state = dict(tiny_model.state_dict())
    edit(state)
    torch.save(state, tmp_path / "pytorch_model.bin")


def test_strict_loading_lists_every_problem(tmp_path, tiny_model):
    def edit(state):
        del state["logit_scale"]
        state["vision_model.extra.weight"] = torch.zeros(3)
        state["text_projection.3.bias"] = torch.zeros(25)

    _corrupt(tmp_path, tiny_model, edit)
    with pytest.raises(ValueError) as info:
        GroupViTModel.from_pretrained(tmp_path)
    message = str(info.value)
    assert "missing 1: logit_scale" in message
    assert "unexpected 1: vision_model.extra.weight" in message
    assert "text_projection.3.bias (expected (24,), received (25,))" in message


def test_checkpoint_of_another_config_is_refused(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="mis-shaped"):
        GroupViTModel.from_pretrained(tmp_path, config=tiny_config(vision={"hidden_size": 40}))
    with pytest.raises(ValueError, match="missing"):
        GroupViTModel.from_pretrained(tmp_path, config=tiny_config("four_stage"))


def test_missing_checkpoint_files(tmp_path, tiny_model):
    with pytest.raises(FileNotFoundError, match="must be a directory or a weight file"):
        GroupViTModel.from_pretrained(tmp_path / "nowhere")
    tiny_model.config.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        GroupViTModel.from_pretrained(tmp_path)


def test_save_overwrites_atomically(tmp_path):
    model = randomize(GroupViTModel(tiny_config()))
    model.save_pretrained(tmp_path)
    randomize(model, seed=3).save_pretrained(tmp_path)
    assert not list(tmp_path.glob("*.tmp"))
    assert torch.equal(GroupViTModel.from_pretrained(tmp_path).logit_scale, model.logit_scale)


def test_every_bridge_format_loads(tmp_path, tiny_model):
    """A directory holding only the old port's tf_model.h5 (or any bridge format) loads directly."""
    from groupvit.weights_bridge import convert

    tiny_model.save_pretrained(tmp_path / "pt")
    convert(tmp_path / "pt", tmp_path / "h5", format="h5")
    assert sorted(p.name for p in (tmp_path / "h5").iterdir()) == ["config.json", "tf_model.h5"]
    loaded = GroupViTModel.from_pretrained(tmp_path / "h5")
    for key, value in tiny_model.state_dict().items():
        if not key.endswith("num_batches_tracked"):  # the old TF port has no such counter
            assert torch.equal(loaded.state_dict()[key], value), key
    vision = GroupViTVisionModel.from_pretrained(tmp_path / "h5" / "tf_model.h5")
    assert torch.equal(vision.vision_model.layernorm.weight, tiny_model.vision_model.layernorm.weight)


@pytest.mark.parametrize("model_class", [GroupViTModel, GroupViTTextModel, GroupViTVisionModel])
def test_from_pretrained_materializes_everything_in_the_models_dtypes(tmp_path, tiny_model, model_class):
    """from_pretrained builds on the meta device and adopts the arrays: nothing may stay on meta."""
    from safetensors.numpy import save_file

    tiny_model.config.save_pretrained(tmp_path)
    # a float16 file (as some published checkpoints are): parameters still come out float32
    state = {k: v.detach().numpy() for k, v in tiny_model.state_dict().items()}
    save_file({k: v.astype("float16") if v.dtype.kind == "f" else v for k, v in state.items()},
              str(tmp_path / "model.safetensors"))
    loaded = model_class.from_pretrained(tmp_path)
    tensors = dict(loaded.named_parameters()) | dict(loaded.named_buffers())
    assert not [name for name, t in tensors.items() if t.is_meta]
    reference = dict(model_class(loaded.config).named_parameters()) | dict(model_class(loaded.config).named_buffers())
    assert {name: t.dtype for name, t in tensors.items()} == {name: t.dtype for name, t in reference.items()}
    if model_class is not GroupViTVisionModel:
        position_ids = loaded.text_model.embeddings.position_ids
        assert torch.equal(position_ids, torch.arange(position_ids.shape[-1])[None])
    assert all(p.requires_grad for p in loaded.parameters())


def test_from_pretrained_draws_nothing_and_imports_no_compiler(tmp_path, tiny_model):
    """Built on the meta device to be loaded, the model makes no random draws: on meta tensors they (and
    arange) go through torch._refs, whose first use imports torch._dynamo and sympy (0.7 s and ~70 MiB of
    peak RSS at the default size, measured). A model built outside from_pretrained is still drawn."""
    import subprocess
    import sys

    tiny_model.save_pretrained(tmp_path)
    code = ("import sys, torch; from groupvit.pt import GroupViTModel; "
            f"m = GroupViTModel.from_pretrained({str(tmp_path)!r}); "
            "print(sorted(n for n in ('sympy', 'torch._dynamo') if n in sys.modules)); "
            "print(float(GroupViTModel(m.config).text_model.embeddings.token_embedding.weight.detach().std()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    imported, std = done.stdout.split("\n")[:2]
    assert imported == "[]", imported
    assert float(std) > 0.001  # the random init of an ordinary construction is untouched


def _folder_with_two_formats(tmp_path, config):
    """model.safetensors holding weights A and tf_model.h5 holding weights B (different values)."""
    from groupvit.weights_bridge import save_checkpoint

    a, b = GroupViTModel(config), GroupViTModel(config)
    randomize(a, seed=1)
    randomize(b, seed=2)
    folder = tmp_path / "both"
    a.save_pretrained(folder)
    save_checkpoint(config, {k: v.numpy() for k, v in b.state_dict().items()}, folder / "tf_model.h5")
    return folder, a, b


def _same(model, reference):
    return all(torch.equal(model.state_dict()[k], v) for k, v in reference.state_dict().items()
               if not k.endswith("num_batches_tracked"))


def test_transformers_loading_arguments(tmp_path):
    """dtype (transformers 5's name for torch_dtype), subfolder, from_tf, use_safetensors, output_loading_info."""
    config = tiny_config()
    folder, a, b = _folder_with_two_formats(tmp_path, config)
    assert _same(GroupViTModel.from_pretrained(folder), a)  # safetensors first, as transformers
    assert _same(GroupViTModel.from_pretrained(folder, from_tf=True), b)
    assert _same(GroupViTModel.from_pretrained(folder, use_safetensors=False), b)
    assert _same(GroupViTModel.from_pretrained(tmp_path, subfolder="both", use_safetensors=True), a)
    model, info = GroupViTModel.from_pretrained(folder, output_loading_info=True, low_cpu_mem_usage=True)
    assert _same(model, a) and info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [],
                                        "error_msgs": []}
    bf16 = GroupViTModel.from_pretrained(folder, dtype=torch.bfloat16)
    assert bf16.text_model.encoder.layers[0].mlp.fc1.weight.dtype == torch.bfloat16
    assert GroupViTModel.from_pretrained(folder, dtype="auto").text_model.encoder.layers[0].mlp.fc1.weight.dtype \
        == torch.float32  # config.json names no dtype
    with pytest.raises(FileNotFoundError, match="use_safetensors=True"):
        GroupViTModel.from_pretrained(_only_h5(tmp_path, folder), use_safetensors=True)
    with pytest.raises(ValueError, match="must agree"):
        GroupViTModel.from_pretrained(folder, dtype="float32", torch_dtype="bfloat16")
    with pytest.raises(ValueError, match="relative path inside"):
        GroupViTModel.from_pretrained(tmp_path, subfolder="../elsewhere")


def _only_h5(tmp_path, folder):
    only = tmp_path / "only_h5"
    only.mkdir()
    for name in ("config.json", "tf_model.h5"):
        (only / name).write_bytes((folder / name).read_bytes())
    return only


def test_dtype_auto_reads_the_dtype_config_json_names(tmp_path, tiny_model):
    import json

    tiny_model.save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    stored["dtype"] = "bfloat16"  # what transformers 5 writes for a model saved in bfloat16
    (tmp_path / "config.json").write_text(json.dumps(stored))
    model = GroupViTModel.from_pretrained(tmp_path, dtype="auto")
    assert model.text_model.encoder.layers[0].mlp.fc1.weight.dtype == torch.bfloat16
    assert GroupViTModel.from_pretrained(tmp_path).text_model.encoder.layers[0].mlp.fc1.weight.dtype == torch.float32


def test_model_conveniences_of_transformers(tiny_model):
    assert tiny_model.device == torch.device("cpu") and tiny_model.dtype == torch.float32
    assert tiny_model.num_parameters() == sum(p.numel() for p in tiny_model.parameters())
    embeddings = sum(m.weight.numel() for m in tiny_model.modules() if isinstance(m, torch.nn.Embedding))
    assert tiny_model.num_parameters(exclude_embeddings=True) == tiny_model.num_parameters() - embeddings > 0
    config = tiny_model.config
    assert (tiny_model.text_embed_dim, tiny_model.vision_embed_dim, tiny_model.projection_intermediate_dim) == \
        (config.text_config.hidden_size, config.vision_config.hidden_size, config.projection_intermediate_dim)
    text = GroupViTTextModel(config.text_config)
    assert text.get_input_embeddings() is text.text_model.embeddings.token_embedding
    replacement = torch.nn.Embedding(config.text_config.vocab_size, config.text_config.hidden_size)
    text.set_input_embeddings(replacement)
    assert text.text_model.embeddings.token_embedding is replacement
    vision = GroupViTVisionModel(config.vision_config)
    assert vision.main_input_name == "pixel_values" and text.main_input_name == "input_ids"
    assert vision.get_input_embeddings() is vision.vision_model.embeddings.patch_embeddings
    bf16 = GroupViTModel(config).to(torch.bfloat16)
    assert bf16.dtype == torch.bfloat16


def test_the_configs_call_flags_are_the_call_defaults(tiny_model):
    pixels, ids, _ = make_inputs(tiny_model.config)
    tiny_model.config.return_dict = False
    tiny_model.config.output_hidden_states = True
    with torch.no_grad():
        as_tuple = tiny_model(input_ids=ids, pixel_values=pixels)
        as_dict = tiny_model(input_ids=ids, pixel_values=pixels, return_dict=True, output_hidden_states=False)
    assert isinstance(as_tuple, tuple) and as_dict.vision_model_output.hidden_states is None
    vision_config = tiny_model.config.vision_config
    vision_config.output_attentions = True
    vision = GroupViTVisionModel(vision_config).eval()
    with torch.no_grad():
        assert vision(pixels).attentions is not None and vision(pixels, output_attentions=False).attentions is None


def test_from_pretrained_passes_config_fields_and_refuses_the_rest(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    model = GroupViTModel.from_pretrained(tmp_path, output_segmentation=True, token=None, force_download=False,
                                          attn_implementation="sdpa")
    assert model.config.output_segmentation is True
    pixels, ids, _ = make_inputs(tiny_model.config)
    with torch.no_grad():
        assert model(input_ids=ids, pixel_values=pixels).segmentation_logits is not None
    with pytest.raises(TypeError, match=r"must be fields of GroupViTConfig. Received: \['not_a_field'\]"):
        GroupViTModel.from_pretrained(tmp_path, not_a_field=1)
    with pytest.raises(ValueError, match="ignore_mismatched_sizes must be False"):
        GroupViTModel.from_pretrained(tmp_path, ignore_mismatched_sizes=True)
    with pytest.raises(ValueError, match="attn_implementation must be"):
        GroupViTModel.from_pretrained(tmp_path, attn_implementation="flash_attention_2")


def test_save_pretrained_shards_as_transformers_and_leaves_nothing_stale(tmp_path, tiny_model):
    import json

    tiny_model.save_pretrained(tmp_path, max_shard_size="40KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(p.name for p in tmp_path.glob("model-*-of-*.safetensors"))
    assert len(shards) > 1 and sorted(set(index["weight_map"].values())) == shards
    state = tiny_model.state_dict()
    for shard in shards:  # tensor bytes, as transformers counts them; a larger tensor alone in its shard
        keys = [k for k, v in index["weight_map"].items() if v == shard]
        assert sum(state[k].numel() * state[k].element_size() for k in keys) <= 40_000 or len(keys) == 1
    loaded = GroupViTModel.from_pretrained(tmp_path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in tiny_model.state_dict().items())
    tiny_model.save_pretrained(tmp_path)  # one file again: the shards would be clutter, removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    tiny_model.save_pretrained(tmp_path, max_shard_size=40_000)  # shards again: the single file would win
    assert not (tmp_path / "model.safetensors").exists()
    tiny_model.save_pretrained(tmp_path / "other", is_main_process=False)
    assert not (tmp_path / "other").exists()
    with pytest.raises(ValueError, match="max_shard_size must be"):
        tiny_model.save_pretrained(tmp_path, max_shard_size="lots")


def test_a_tower_folders_files_are_chosen_by_from_tf_and_use_safetensors(tmp_path, tiny_model):
    """A tower's own checkpoint may hold the old port's tf_model.h5 beside PyTorch files; from_tf=True and
    use_safetensors choose among them as for a full checkpoint (they were ignored for a tower folder)."""
    tower = randomize(GroupViTTextModel(tiny_model.config.text_config), seed=4)
    tower.save_pretrained(tmp_path / "text")
    (tmp_path / "text" / "tf_model.h5").write_bytes(b"not an h5 file")  # read only when chosen
    loaded = GroupViTTextModel.from_pretrained(tmp_path / "text")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tower.state_dict().values()))
    for kwargs in ({"from_tf": True}, {"use_safetensors": False}):
        with pytest.raises(Exception, match="tf_model.h5"):
            GroupViTTextModel.from_pretrained(tmp_path / "text", **kwargs)
    (tmp_path / "text" / "tf_model.h5").unlink()
    with pytest.raises(FileNotFoundError, match="use_safetensors=False, a checkpoint directory must hold one of"):
        GroupViTTextModel.from_pretrained(tmp_path / "text", use_safetensors=False)
    assert GroupViTTextModel.from_pretrained(tmp_path / "text", use_safetensors=True) is not None


def test_a_sharded_tower_whose_shards_mix_pytorch_and_tensorflow_names_is_refused(tmp_path, tiny_model):
    """A full checkpoint's reader refused such an index; a tower's read it as PyTorch names and failed on keys."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    tower = randomize(GroupViTTextModel(tiny_model.config.text_config), seed=4)
    tower.save_pretrained(tmp_path / "text", max_shard_size="20KB")
    shards = sorted((tmp_path / "text").glob("model-*.safetensors"))
    assert len(shards) > 1
    with safe_open(shards[0], "np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, shards[0], metadata={"format": "tf"})
    with pytest.raises(ValueError, match="all hold PyTorch or all TensorFlow weights"):
        GroupViTTextModel.from_pretrained(tmp_path / "text")
