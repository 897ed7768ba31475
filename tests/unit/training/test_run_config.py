"""TrainRun's check of the prompt templates: a built-in set or one template of one's own, nothing else."""

import re

import pytest

from groupvit.training.run_config import TrainRun


def _run(templates):
    return TrainRun(backend="pt", data="d", out="o", steps=1, prompt_templates=templates)


@pytest.mark.parametrize("templates", [1, 7, 80, "{}", "a photo of a {}."])
def test_built_in_sets_and_one_template_of_ones_own_pass(templates):
    _run(templates).validate()


@pytest.mark.parametrize("templates", [3, True, "a photo", "{} {}", ["{}"], None])
def test_anything_else_is_refused_with_the_value(templates):
    with pytest.raises(ValueError, match=r"prompt_templates must name a built-in template set .* Received: "
                                         r"prompt_templates=" + re.escape(repr(templates))):
        _run(templates).validate()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("clip_norm", -1.0, r"clip_norm must be > 0, or None \(no clipping\). Received: clip_norm=-1.0"),
    ("clip_norm", 0.0, r"clip_norm must be > 0, or None"),
    ("weight_decay", -0.1, r"weight_decay must be >= 0. Received: weight_decay=-0.1"),
    ("weight_decay", float("nan"), r"weight_decay must be >= 0. Received: weight_decay=nan"),
    ("keep", -1, r"keep must be >= 0 \(0 keeps every checkpoint\). Received: keep=-1"),
    ("rand_augment", "rand-m9-inc1-x", r"section 'x' of 'rand-m9-inc1-x'"),
    ("interpolation", "nearest", r"interpolation must be one of \('bilinear', 'bicubic'\). Received: 'nearest'"),
    ("random_erasing", 1.5, r"random_erasing is a probability: it must be in \[0, 1\]. Received: random_erasing=1.5"),
    ("drop_path_rate", 1.0, r"drop_path_rate must be in \[0, 1\) \(the authors: 0.1\). Received: drop_path_rate=1.0"),
    ("drop_path_rate", -0.1, r"drop_path_rate must be in \[0, 1\)"),
    ("warmup_steps", 1, r"warmup_steps must be >= 0 and fewer than the run's steps .* Received: warmup_steps=1, "
                        r"steps=1"),
    ("warmup_steps", -2, r"warmup_steps must be >= 0"),
])
def test_settings_that_would_train_wrongly_or_delete_checkpoints_are_refused(name, value, message):
    with pytest.raises(ValueError, match=message):
        TrainRun(backend="pt", data="d", out="o", steps=1, **{name: value}).validate()


@pytest.mark.parametrize(("name", "value"), [("clip_norm", None), ("clip_norm", 0.5), ("weight_decay", 0.0),
                                             ("keep", 0), ("keep", 1), ("rand_augment", "rand-m9-mstd0.5-inc1"),
                                             ("interpolation", "bilinear"),
                                             ("drop_path_rate", 0.1)])
def test_their_valid_values_pass(name, value):
    TrainRun(backend="pt", data="d", out="o", steps=1, **{name: value}).validate()


def test_train_errors_name_the_flags_but_leave_quoted_values_alone():
    from groupvit.cli.train import as_flags

    assert as_flags("drop_path_rate must be in [0, 1). Received: drop_path_rate=1.5") == \
        "--drop-path-rate must be in [0, 1). Received: --drop-path-rate=1.5"
    assert as_flags("Received: '/runs/eval_data' and \"batch_size\"; steps=3") == \
        "Received: '/runs/eval_data' and \"batch_size\"; steps=3"  # a path, a quoted word, a plain word
    assert as_flags("multi_label_logit_scale of grouped_multi_label") == \
        "multi_label_logit_scale of --grouped-multi-label"


def test_best_and_last_skip_an_evaluation_with_no_score(tmp_path):
    """A split whose pixels are all ignored scores no class: its line holds "miou": null (JSON has no NaN) and the
    best / last summary passes over it."""
    from groupvit.training import evaluation

    for entry in ({"step": 2, "miou": 0.25}, {"step": 4, "miou": None}, {"step": 6, "error": "ValueError: x"}):
        evaluation.append_entry(str(tmp_path), entry)
    assert evaluation.best_and_last(str(tmp_path)) == {"best": {"step": 2, "miou": 0.25},
                                                         "last": {"step": 2, "miou": 0.25}}


@pytest.mark.parametrize(("cluster", "task", "rank"), [
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, 1),
    ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, {"type": "chief", "index": 0}, 0),
    ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, {"type": "worker", "index": 0}, 1),  # was 0: a second rank 0
    ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, 2),
])
def test_env_rank_orders_tf_config_as_the_strategy_does(monkeypatch, cluster, task, rank):
    """Chief first, then the workers (MultiWorkerMirroredStrategy's order, tf's worker_position): with a chief,
    worker 0 was taken for rank 0 too, and both trained the tokenizer into OUT and cleaned up a failed start."""
    import json

    from groupvit.training.setup import env_rank

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    assert env_rank() == rank
