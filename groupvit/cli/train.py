"""`groupvit train`: train GroupViT from image-caption pairs (wraps groupvit.training.loop.train).

Under `torchrun` the same command runs distributed (one process per rank).
"""

from __future__ import annotations

import argparse
import json

from groupvit.cli import positive_int, template_option


def _items(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train GroupViT on image-caption pairs (PyTorch or Keras)",
        description="Train GroupViT with the image-text contrastive loss (and the multi-label loss with "
                    "--multi-label K) on a captions.jsonl/.csv folder or WebDataset tar shards. Writes "
                    "OUT/log.jsonl, OUT/checkpoints/step-N/ and, at the end, OUT/config.json + "
                    "OUT/model.safetensors + the tokenizer.",
    )
    p.add_argument("--backend", choices=("pt", "tf"), default="pt")
    p.add_argument("--data", required=True, help="folder with captions.jsonl/.csv, or shards/{00000..00099}.tar")
    p.add_argument("--config", help="config.json of a new model (or of --init, which must match)")
    p.add_argument("--out", required=True, help="output folder (a new one, or the run's own with --resume)")
    p.add_argument("--init", help="checkpoint to start from (any format the weight bridge reads)")
    tok = p.add_mutually_exclusive_group()
    tok.add_argument("--tokenizer", help="folder with tokenizer.json, or vocab.json + merges.txt")
    tok.add_argument("--tokenizer-vocab", type=int, help="train a CLIP-style BPE tokenizer of N ids on the captions")
    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int)
    length.add_argument("--epochs", type=float)
    p.add_argument("--batch-size", type=int, default=32, help="global batch over all processes (default 32)")
    p.add_argument("--lr", type=float, help="base learning rate (default: 1.6e-3 * batch / 4096, the authors' rule)")
    p.add_argument("--warmup-steps", type=int, help="default: 2/30 of the steps (the authors' 2 of 30 epochs)")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--clip-norm", type=float, default=5.0, help="gradient-norm clip, > 0 (0 switches it off)")
    p.add_argument("--multi-label", type=int, default=0, metavar="K",
                   help="noun prompts per caption for the multi-label loss (the authors: 3; 0 = off)")
    p.add_argument("--grouped-multi-label", action="store_true",
                   help="score the multi-label loss by each image's best-matching group, every image holding a "
                        "prompt's noun a positive (not the authors'; docs/training.md)")
    p.add_argument("--group-balance", type=float, default=0.0, metavar="W",
                   help="weight of a group-usage term against groups collapsing (not the authors'; "
                        "docs/training.md; default 0 = off)")
    p.add_argument("--pooling-tau", type=float, default=0.0, metavar="T",
                   help="with --grouped-multi-label: score a prompt by T * logsumexp over the groups of "
                        "(cosine / T) instead of the best group's cosine, so every group learns from it "
                        "(not the authors'; docs/training.md; default 0 = the maximum)")
    p.add_argument("--group-exclusivity", type=float, default=0.0, metavar="W",
                   help="with --grouped-multi-label: weight of a term asking each noun of an image to be carried by "
                        "one of its groups, pushing the image's other groups away from it (not the authors'; "
                        "docs/training.md; default 0 = off)")
    p.add_argument("--group-naming", type=float, default=0.0, metavar="W",
                   help="with --grouped-multi-label: weight of a term asking each group to name the nouns it "
                        "carries and no other, a flat class distribution when it carries none (what segmentation "
                        "reads as background; not the authors'; docs/training.md; default 0 = off)")
    p.add_argument("--prompt-templates", type=template_option, default=80, metavar="1|7|80|TEMPLATE",
                   help="template set of the multi-label prompts (the authors: 80, the ImageNet set; "
                        "1 = 'a photo of a {}.'), or one template of your own holding {} ('{}' = the bare noun)")
    p.add_argument("--freeze", type=_items, default=[], help="comma list: text, vision, projections, "
                   "text_projection, visual_projection, logit_scale, group_tokens, all, or name patterns")
    p.add_argument("--unfreeze", type=_items, default=[], help="released after --freeze (same items)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=500, help="checkpoint every N steps (default 500)")
    p.add_argument("--keep", type=int, default=3, help="checkpoints kept, the newest (default 3; 0 keeps every one)")
    p.add_argument("--num-workers", type=int, default=0, help="image-decoding processes per rank")
    p.add_argument("--shuffle-buffer", type=int, default=10000)
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (PyTorch)")
    p.add_argument("--no-flip", action="store_true", help="no horizontal flips (captions that say left/right)")
    p.add_argument("--color-jitter", type=float, default=0.0, help="brightness/contrast/saturation strength "
                   "(default 0; not with --rand-augment)")
    p.add_argument("--random-erasing", type=float, default=0.0, help="probability of erasing one box with noise "
                   "(the authors: 0.25; default 0)")
    p.add_argument("--rand-augment", default=None, metavar="POLICY",
                   help="timm's RandAugment policy, e.g. rand-m9-mstd0.5-inc1 (the authors'; default off)")
    p.add_argument("--interpolation", choices=("bicubic", "bilinear"), default="bicubic",
                   help="resampling of the random crop and of RandAugment's geometric operations "
                        "(the authors: bilinear; default bicubic)")
    p.add_argument("--crop-scale", type=float, nargs=2, default=(0.08, 1.0), metavar=("MIN", "MAX"))
    p.add_argument("--drop-path-rate", type=float, default=0.0, metavar="R",
                   help="stochastic depth of the vision layers, rising linearly from 0 at the first to R at the "
                        "last (the authors: 0.1; default 0)")
    p.add_argument("--eval-data", metavar="VOC_DIR",
                   help="score each checkpoint's zero-shot segmentation on this Pascal VOC layout folder (what "
                        "`groupvit evaluate` computes); one line per checkpoint in OUT/eval.jsonl")
    p.add_argument("--eval-limit", type=positive_int, help="with --eval-data: only the first N images of its val split")
    p.add_argument("--eval-class-names", help="with --eval-data: its class-name file (default: its classes.txt)")
    p.add_argument("--eval-bg-thresh", type=float, help="with --eval-data: background threshold (default: the "
                   "checkpoint's, as `groupvit evaluate`)")
    p.add_argument("--eval-templates", type=template_option, metavar="1|7|80|TEMPLATE",
                   help="with --eval-data: prompt templates (default: as `groupvit evaluate`)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (the log is still written)")
    p.set_defaults(func=run)
    return p


def as_flags(message: str) -> str:
    """A TrainRun message in the command line's words: `drop_path_rate=1.5` -> `--drop-path-rate=1.5` (the
    settings whose names hold an underscore: a plain word such as "steps" stays a word)."""
    import dataclasses
    import re

    from groupvit.training.run_config import TrainRun

    names = sorted((f.name for f in dataclasses.fields(TrainRun) if "_" in f.name), key=len, reverse=True)
    pattern = re.compile(r"(?<![\w/.-])(" + "|".join(names) + r")\b")
    parts = re.split(r"('[^']*'|\"[^\"]*\")", message)  # quoted values (paths, policies) stay as given
    return "".join(part if index % 2 else pattern.sub(lambda m: "--" + m.group(1).replace("_", "-"), part)
                   for index, part in enumerate(parts))


def run(args: argparse.Namespace) -> int:
    from groupvit.training.loop import train
    from groupvit.training.run_config import TrainRun

    train_run = TrainRun(
        backend=args.backend, data=args.data, out=args.out, config=args.config, init=args.init,
        tokenizer=args.tokenizer, tokenizer_vocab=args.tokenizer_vocab, steps=args.steps, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, weight_decay=args.weight_decay,
        clip_norm=args.clip_norm or None, multi_label=args.multi_label,
        grouped_multi_label=args.grouped_multi_label, group_balance=args.group_balance,
        pooling_tau=args.pooling_tau, group_exclusivity=args.group_exclusivity, group_naming=args.group_naming,
        prompt_templates=args.prompt_templates, freeze=args.freeze,
        unfreeze=args.unfreeze,
        resume=args.resume, seed=args.seed, save_every=args.save_every, keep=args.keep,
        num_workers=args.num_workers, shuffle_buffer=args.shuffle_buffer, bf16=args.bf16, flip=not args.no_flip,
        color_jitter=args.color_jitter, random_erasing=args.random_erasing, crop_scale=tuple(args.crop_scale),
        rand_augment=args.rand_augment, interpolation=args.interpolation,
        drop_path_rate=args.drop_path_rate, eval_data=args.eval_data, eval_limit=args.eval_limit,
        eval_class_names=args.eval_class_names, eval_bg_thresh=args.eval_bg_thresh,
        eval_templates=args.eval_templates, progress=not args.no_progress,
    )
    try:
        summary = train(train_run)
    except KeyboardInterrupt as stopped:  # 128 + the signal, as the shell reports a process it ended
        return 128 + getattr(stopped, "signum", 2)
    except (ValueError, FileNotFoundError, FileExistsError) as error:  # name the flags, not TrainRun's fields
        if type(error) not in (ValueError, FileNotFoundError, FileExistsError):
            raise  # an error class of its own (a checkpoint's format error) keeps its form
        raise type(error)(as_flags(str(error))) from error
    from groupvit.training.setup import env_rank

    if summary["world_size"] == 1 or env_rank() == 0:  # one line per run, whatever launched it
        print(json.dumps({k: summary[k] for k in ("backend", "steps", "wall_s", "images_per_s", "skipped", "out")}))
    return 0
