"""`groupvit convert`: exit codes, one-line messages, refusal to overwrite, companion files."""

import pytest

import groupvit.cli as cli
from bridge_helpers import assert_same_weights
from groupvit.weights_bridge import load_checkpoint


@pytest.fixture
def run(monkeypatch):
    # Only our subcommand: the CLI main's error handling, without other subcommands' imports.
    monkeypatch.setattr(cli, "SUBCOMMANDS", {"convert": "groupvit.cli.convert"})
    return lambda *argv: cli.main(["convert", *map(str, argv)])


def test_convert_directory_to_h5_and_back(run, tmp_path, checkpoint_dir, weights, capsys):
    assert run(checkpoint_dir, tmp_path / "h5", "--format", "h5") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "tensors" in out and "parameters" in out and "bytes" in out
    assert sorted(p.name for p in (tmp_path / "h5").iterdir()) == [
        "config.json",
        "tf_model.h5",
        "tokenizer_config.json",
    ]
    assert run(tmp_path / "h5", tmp_path / "back") == 0
    _, loaded = load_checkpoint(tmp_path / "back")
    assert_same_weights(weights, loaded, skip_counters=True)
    assert (tmp_path / "back" / "config.json").read_bytes() == (checkpoint_dir / "config.json").read_bytes()


def test_file_destination_extension_picks_the_format(run, tmp_path, checkpoint_dir):
    assert run(checkpoint_dir, tmp_path / "weights" / "tf_model.h5") == 0
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["tf_model.h5"]
    src = tmp_path / "weights" / "tf_model.h5"
    assert run(src, tmp_path / "x.safetensors", "--config", checkpoint_dir / "config.json") == 0


def test_refuses_existing_files_without_overwrite(run, tmp_path, checkpoint_dir, capsys):
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "model.safetensors").write_bytes(b"old")
    (dst / "notes.txt").write_text("keep")
    assert run(checkpoint_dir, dst) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err
    assert (dst / "model.safetensors").read_bytes() == b"old"
    assert run(checkpoint_dir, dst, "--overwrite") == 0
    assert (dst / "model.safetensors").read_bytes() != b"old"
    assert (dst / "notes.txt").read_text() == "keep"


def test_refuses_to_write_over_the_source(run, checkpoint_dir, capsys):
    before = {p.name: p.read_bytes() for p in checkpoint_dir.iterdir()}
    assert run(checkpoint_dir, checkpoint_dir, "--overwrite") == 1
    assert run(checkpoint_dir / "model.safetensors", checkpoint_dir / "model.safetensors", "--overwrite") == 1
    assert "source" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in checkpoint_dir.iterdir()} == before


def test_failures_exit_non_zero_with_one_line(run, tmp_path, capsys):
    assert run(tmp_path / "missing", tmp_path / "out") == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    (bad / "model.safetensors").write_text("text")
    assert run(bad, tmp_path / "out") == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("groupvit convert: error: ") for line in lines)
    assert not (tmp_path / "out").exists()


def test_format_and_extension_must_agree(run, tmp_path, checkpoint_dir):
    assert run(checkpoint_dir, tmp_path / "model.safetensors", "--format", "h5") == 1


def test_a_shipped_models_settings_and_card_travel_with_it(run, tmp_path):
    from groupvit.pretrained import resolve_checkpoint

    source = resolve_checkpoint("shapes-tiny")
    assert run("shapes-tiny", tmp_path / "h5", "--format", "h5") == 0
    for name in ("segmentation_defaults.json", "MODEL_CARD.md", "tokenizer.json"):
        assert (tmp_path / "h5" / name).read_bytes() == open(f"{source}/{name}", "rb").read(), name


def test_refuses_a_folder_holding_another_formats_weights(run, tmp_path, checkpoint_dir, capsys):
    dst = tmp_path / "dst"
    assert run(checkpoint_dir, dst) == 0  # model.safetensors, which a loader would read before tf_model.h5
    before = {p.name: p.read_bytes() for p in dst.iterdir()}
    assert run(checkpoint_dir, dst, "--format", "h5", "--overwrite") == 1
    assert "no weight file of another format" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in dst.iterdir()} == before


def test_an_existing_file_of_no_weight_format_is_not_a_destination(run, tmp_path, checkpoint_dir, capsys):
    (tmp_path / "notes.txt").write_text("keep")
    assert run(checkpoint_dir, tmp_path / "notes.txt") == 1
    assert "a weight file named for its format" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep"
