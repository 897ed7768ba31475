"""Before the first step: the output folder's rules, the model's config and weights, the tokenizer."""

from __future__ import annotations

import os
import time

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.pretrained import resolve_checkpoint
from groupvit.tokenizer import ClipTokenizer, load_tokenizer
from groupvit.training import checkpoints
from groupvit.training.run_config import TrainRun
from groupvit.training.run_files import LOG_NAME, SUMMARY_NAME

TOKENIZER_SUBDIR = "tokenizer"
_RUN_FILES = (LOG_NAME, "model.safetensors", SUMMARY_NAME)


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _data_root(data: str) -> str:
    """The folder a data spec reads from (a brace pattern's fixed prefix)."""
    head = data.split("{", 1)[0]
    return head if os.path.isdir(head) else os.path.dirname(head) or "."


def check_output_folder(run: TrainRun) -> str | None:
    """Refuse an output that would overwrite an input or another run; the checkpoint to resume."""
    out = run.out
    for name, given in (("--data", _data_root(run.data)), ("--init", run.init), ("--tokenizer", run.tokenizer),
                        ("--config", run.config), ("--eval-data", run.eval_data),
                        ("--eval-class-names", run.eval_class_names)):
        if given and os.path.exists(given) and (_inside(given, out) or _inside(out, given)):
            raise ValueError(f"--out must be a folder apart from the inputs (a run never overwrites its input). "
                             f"Received: --out {out!r} and {name} {given!r}")
    found = checkpoints.list_checkpoints(out)
    # A run killed (SIGKILL, out of memory) before its first checkpoint leaves its log and nothing to resume.
    unsaved = not found and not any(os.path.exists(os.path.join(out, n)) for n in _RUN_FILES[1:]) \
        and os.path.exists(os.path.join(out, _RUN_FILES[0]))
    dead_start = (f"the run in {out!r} stopped before its first checkpoint (it holds {_RUN_FILES[0]}, no "
                  f"checkpoints/step-*): nothing of it can be resumed; delete the folder and start again")
    if run.resume:
        if not found:
            raise FileNotFoundError(f"--resume needs a complete checkpoint under {out}/checkpoints/. Received: "
                                    + (dead_start if unsaved else f"none in {out!r}"))
        return found[-1]
    if unsaved:
        raise FileExistsError(f"--out must be a new or empty folder, or a run to --resume. Received: {dead_start}")
    if found or any(os.path.exists(os.path.join(out, n)) for n in _RUN_FILES):
        raise FileExistsError(f"--out holds a training run already; pass --resume to continue it or choose a new "
                              f"folder. Received: --out {out!r}")
    return None


def tf_config_position() -> tuple[int, int]:
    """(rank, number of workers) from TF_CONFIG, in MultiWorkerMirroredStrategy's order (chief first); (0, 1)
    without one."""
    import json

    spec = json.loads(os.environ.get("TF_CONFIG", "{}"))
    cluster, task = spec.get("cluster", {}), spec.get("task", {})
    chiefs, workers = len(cluster.get("chief", [])), len(cluster.get("worker", []))
    if not chiefs + workers:
        return 0, 1
    if task.get("type") not in ("chief", "worker"):
        raise ValueError(f"A training process must be a chief or a worker. Received: TF_CONFIG task={task}")
    rank = 0 if task["type"] == "chief" else chiefs + int(task["index"])
    return rank, chiefs + workers


def env_rank() -> int:
    """This process's rank as the launcher tells it: torchrun's RANK, or TF_CONFIG's task in
    MultiWorkerMirroredStrategy's order (`tf_config_position`)."""
    if "RANK" in os.environ:
        return int(os.environ["RANK"])
    return tf_config_position()[0]


def _trained_tokenizer_dir(run: TrainRun) -> str:
    """Rank 0 trains a tokenizer on the captions into OUT/tokenizer/; the other ranks wait for it."""
    from groupvit.training.data import open_source, train_clip_tokenizer

    folder = os.path.join(run.out, TOKENIZER_SUBDIR)
    done = os.path.join(folder, "tokenizer.json")
    if env_rank() == 0:
        source = open_source(run.data)
        captions = (ref.caption for ref in source.refs(run.seed) if ref.caption)
        train_clip_tokenizer(captions, run.tokenizer_vocab, folder)
    else:
        deadline = time.monotonic() + 3600
        while not os.path.isfile(done):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Rank 0 did not write the trained tokenizer. Received: no {done!r} after 1 h")
            time.sleep(0.5)
    return folder


def _tokenizer_source(run: TrainRun, resume_from: str | None) -> str:
    if resume_from:
        return resume_from
    if run.tokenizer:  # a folder, a shipped model's name or a hub id, read as `load_tokenizer` reads it
        return resolve_checkpoint(run.tokenizer)
    if run.tokenizer_vocab:
        return _trained_tokenizer_dir(run)
    init = resolve_checkpoint(run.init) if run.init else None
    if init and os.path.isdir(init) and checkpoints.tokenizer_files(init):
        return init
    raise ValueError("Training needs a tokenizer: --tokenizer DIR (tokenizer.json, or vocab.json + merges.txt), an "
                     "--init checkpoint with tokenizer files, or --tokenizer-vocab N to train one on the captions. "
                     f"Received: none of them (--init {run.init!r})")


def _fit_config_to_tokenizer(config: GroupViTConfig, tokenizer: ClipTokenizer, from_scratch: bool) -> GroupViTConfig:
    """The text config's special ids must be the tokenizer's: a new model adopts them, a loaded one must match."""
    text = config.text_config
    # Its ids, not its count, must fit the embedding table: a tokenizer may number its tokens sparsely (CLIP's
    # start and end ids are 49406 and 49407 whatever the vocabulary's size).
    vocab = tokenizer.backend.get_vocab(with_added_tokens=True)
    largest = max([*vocab.values(), tokenizer.start_id, tokenizer.end_id, tokenizer.pad_id])
    if largest >= text.vocab_size:
        raise ValueError(f"The tokenizer's ids must lie below the text config's vocab_size (the rows of the token "
                         f"embedding). Received: largest id {largest} ({len(vocab)} tokens), "
                         f"vocab_size={text.vocab_size}")
    wanted = {"bos_token_id": tokenizer.start_id, "eos_token_id": tokenizer.end_id, "pad_token_id": tokenizer.pad_id}
    if from_scratch:
        merged = config.to_dict()
        merged["text_config"].update(wanted)
        return GroupViTConfig.from_dict(merged)
    if not text.uses_legacy_pooling and text.eos_token_id != tokenizer.end_id:
        raise ValueError(f"The tokenizer's end token id must be the text config's eos_token_id (text pooling reads "
                         f"it). Received: end id {tokenizer.end_id}, eos_token_id={text.eos_token_id}")
    return config


def _model_fields(config: GroupViTConfig) -> dict:
    """The fields that make the model, of the config and its towers: not the keys a config.json may carry beside
    them (`transformers_version`, `architectures`, `dtype`, ...), which `to_dict` writes back."""
    fields = {name: getattr(config, name) for name in config._defaults}
    for tower in ("text_config", "vision_config"):
        part = getattr(config, tower)
        fields[tower] = {name: getattr(part, name) for name in part._defaults}
    return fields


def _differences(a: dict, b: dict, prefix: str = "") -> list[tuple[str, tuple]]:
    """(dotted key, (value in a, value in b)) for every leaf where two config dicts differ."""
    out = []
    missing = "(absent)"
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key, missing), b.get(key, missing)
        if isinstance(x, dict) and isinstance(y, dict):
            out.extend(_differences(x, y, f"{prefix}{key}."))
        elif x != y:
            out.append((f"{prefix}{key}", (x, y)))
    return out


def prepare_model_and_tokenizer(
    run: TrainRun, resume_from: str | None
) -> tuple[GroupViTConfig, dict[str, np.ndarray] | None, ClipTokenizer, dict[str, bytes]]:
    """(config, initial weights or None for a seeded random init, tokenizer, tokenizer files)."""
    from groupvit.weights_bridge import load_checkpoint

    weights = None
    if resume_from:
        config, weights = load_checkpoint(resume_from)
    elif run.init:
        config, weights = load_checkpoint(run.init)
        if run.config:
            given = GroupViTConfig.from_pretrained(run.config)
            differing = _differences(_model_fields(given), _model_fields(config))
            if differing:
                shown = "; ".join(f"{k}: {a!r} here, {b!r} in --init" for k, (a, b) in differing[:8])
                more = f" (and {len(differing) - 8} more)" if len(differing) > 8 else ""
                raise ValueError(f"--config must describe the --init checkpoint's model: the same fields as its "
                                 f"config (or be left out: the checkpoint's is used; keys such as transformers_version "
                                 f"are not compared). Received: {run.config!r}, which differs from {run.init!r}'s "
                                 f"config in {shown}{more}")
    elif run.config:
        config = GroupViTConfig.from_pretrained(run.config)
    else:
        raise ValueError("Training needs a model: --config CONFIG.json (a new model) or --init CHECKPOINT. "
                         "Received: neither")
    height, width = config.vision_config.image_hw
    if height != width:  # before a tokenizer is trained into OUT: the crops are square (the authors' too)
        raise ValueError(f"Training crops square images (RandomResizedCrop to image_size): the vision config's "
                         f"image_size must be square. Received: image_size={[height, width]}")
    if not config.vision_config.grouping_stages:  # nothing to segment, and no groups to name
        needing = [flag for flag, on in (("--eval-data", run.eval_data is not None),
                                         ("--grouped-multi-label", run.grouped_multi_label)) if on]
        if needing:
            raise ValueError(f"{' and '.join(needing)} need a vision config with a grouping stage (group tokens). "
                             f"Received: num_group_tokens={config.vision_config.num_group_tokens}")
    tokenizer_dir = _tokenizer_source(run, resume_from)
    context = config.text_config.max_position_embeddings
    tokenizer = load_tokenizer(tokenizer_dir, max_length=context)
    tokenizer = ClipTokenizer(tokenizer.backend, max_length=context, pad_id=tokenizer.pad_id, pad_to_max_length=True)
    fitted = _fit_config_to_tokenizer(config, tokenizer, from_scratch=weights is None)
    if run.progress and env_rank() == 0:
        _report_tokenizer(run, tokenizer, config, fitted, trained=tokenizer_dir == os.path.join(run.out,
                                                                                                TOKENIZER_SUBDIR))
    return fitted, weights, tokenizer, checkpoints.tokenizer_files(tokenizer_dir)


def _report_tokenizer(run: TrainRun, tokenizer: ClipTokenizer, before: GroupViTConfig, after: GroupViTConfig,
                      trained: bool) -> None:
    """Say what the tokenizer changed: a trained one's size (the captions may hold fewer merges than asked for)
    and the text config's special ids a new model took from it."""
    size = tokenizer.backend.get_vocab_size()
    if trained:
        fewer = f" (asked for {run.tokenizer_vocab}: the captions hold no more merges)" \
            if size < run.tokenizer_vocab else ""
        print(f"tokenizer: trained on the captions, {size} ids{fewer}, in {os.path.join(run.out, TOKENIZER_SUBDIR)}")
    names = ("bos_token_id", "eos_token_id", "pad_token_id")
    changed = [f"{n} {getattr(before.text_config, n)} -> {getattr(after.text_config, n)}" for n in names
               if getattr(before.text_config, n) != getattr(after.text_config, n)]
    if changed:
        print(f"config: the text config takes the tokenizer's special ids ({', '.join(changed)}); "
              f"vocab_size stays {after.text_config.vocab_size}")


def check_nouns(run: TrainRun, source) -> None:
    """The multi-label loss needs each sample's nouns: its `nouns` field, or nltk's tagger. Without nltk, a
    dataset where no sample has the field is refused before training, and samples without it are skipped
    (counted as missing_nouns), as the run says."""
    from groupvit.training.data import SkipCounter
    from groupvit.training.data.nouns import NLTK_HELP, nltk_available

    if not run.multi_label or nltk_available():
        return
    listed = without = 0
    for ref in source.refs(run.seed, skips=SkipCounter()):  # a scratch counter: checking is not reading
        listed += 1
        without += ref.nouns is None
    if listed and without == listed:
        raise ValueError(f"--multi-label needs each sample's nouns: {NLTK_HELP} (or train with --multi-label 0). "
                         f"Received: none of the {listed} samples of {run.data!r} has a `nouns` field, and nltk or "
                         f"its data is missing")
    if without and env_rank() == 0:
        print(f"nouns: {without} of {listed} samples have no `nouns` field and nltk is missing: they are skipped "
              f"(missing_nouns)")
