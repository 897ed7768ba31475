"""The framework-neutral training loop behind `groupvit train`.

Data, schedule, Gumbel noise, logging, checkpoints and resume live here; a backend trainer
(`groupvit.pt.training.TorchTrainer` or `groupvit.tf.training.KerasTrainer`) takes the steps.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any

from groupvit.configs import GroupViTConfig
from groupvit.segmentation.templates import resolve_templates
from groupvit.training import checkpoints
from groupvit.training.evaluation import EVAL_LOG_NAME, append_entry, best_and_last, check_eval_data, \
    evaluate_checkpoint, evaluated
from groupvit.training.init import initial_weights
from groupvit.training.noise import drop_path_scales, gumbel_noise
from groupvit.training.options import OPTIONAL_TERMS, StepOptions, frozen_names
from groupvit.training.run_config import RESUME_FIXED, TrainRun
from groupvit.training.schedule import (AUTHORS_BASE_LR, AUTHORS_MIN_LR, AUTHORS_WARMUP_LR, CosineSchedule,
                                        scaled_lr)
from groupvit.training.data.skips import sum_counts
from groupvit.training.run_files import LOG_NAME, SUMMARY_NAME, NullLog, discard_out, rewrite_log
from groupvit.training.setup import check_nouns, check_output_folder, env_rank, prepare_model_and_tokenizer
from groupvit.training.stopping import StopRequest, TrainingStopped
from groupvit.weights_bridge.atomic import write_text


def make_schedule(run: TrainRun, total_steps: int) -> CosineSchedule:
    """The authors' schedule; warm-up and floor keep the authors' ratios to the base rate."""
    base = run.lr if run.lr is not None else scaled_lr(AUTHORS_BASE_LR, run.batch_size)
    warmup = run.warmup_steps if run.warmup_steps is not None else round(total_steps * 2 / 30)
    return CosineSchedule(base_lr=base, total_steps=total_steps, warmup_steps=min(warmup, total_steps - 1),
                          warmup_lr=base * AUTHORS_WARMUP_LR / AUTHORS_BASE_LR,
                          min_lr=base * AUTHORS_MIN_LR / AUTHORS_BASE_LR)


def _backend_class(name: str):
    if name == "pt":
        from groupvit.pt.training.trainer import TorchTrainer
        return TorchTrainer
    from groupvit.tf.training.trainer import KerasTrainer
    return KerasTrainer


def _progress(run: TrainRun, total: int, start: int, rank: int):
    if not run.progress or rank != 0:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=start, desc=f"train ({run.backend})", unit="step", dynamic_ncols=True)


def train(run: TrainRun) -> dict[str, Any]:
    """Run (or resume) a training run; returns the summary that is also written to OUT/summary.json."""
    run.validate()
    check_eval_data(run)
    from groupvit.training.data import AugmentConfig, TrainBatches, open_source

    resume_from = check_output_folder(run)
    # Before the setup writes into it (a trained tokenizer): a run that fails early leaves the folder as it found it.
    existed_empty = os.path.isdir(run.out) and not os.listdir(run.out)
    created_out = existed_empty or not os.path.exists(run.out)
    try:
        saved: dict[str, Any] | None = None
        optimizer_arrays = None
        if resume_from:
            saved, optimizer_arrays = checkpoints.read_state(resume_from)
            defaults = {f.name: f.default for f in dataclasses.fields(TrainRun)}  # runs saved before a setting existed
            stored = {k: saved["run"].get(k, defaults.get(k)) for k in RESUME_FIXED}
            changed = {k: (stored[k], getattr(run, k)) for k in RESUME_FIXED
                       if json.loads(json.dumps(getattr(run, k))) != json.loads(json.dumps(stored[k]))}
            if changed:
                raise ValueError("A resumed run must keep the settings it started with (they fix its schedule, data "
                                 "order and losses; to train on with other settings, start a new run with --init "
                                 "and a checkpoint of this one). Received changes "
                                 + ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changed.items()))
        config, weights, tokenizer, tokenizer_files = prepare_model_and_tokenizer(run, resume_from)

        source = open_source(run.data)
        check_nouns(run, source)
        trainer_cls = _backend_class(run.backend)
        names = list(weights_names(config))
        options = StepOptions(weight_decay=run.weight_decay, clip_norm=run.clip_norm, multi_label=run.multi_label,
                              grouped=run.grouped_multi_label, group_balance=run.group_balance,
                              pooling_tau=run.pooling_tau, group_exclusivity=run.group_exclusivity,
                              group_naming=run.group_naming,
                              logit_scale_init=config.logit_scale_init_value, bf16=run.bf16,
                              frozen=frozen_names(names, run.freeze, run.unfreeze))
        if weights is None:  # from scratch: the authors' init, the same for both backends (training/init.py)
            weights = initial_weights(config, run.seed)
        trainer = trainer_cls(config, weights, options, seed=run.seed)
        rank, world = trainer.rank, trainer.world_size
        if run.batch_size % world:
            raise ValueError(f"batch_size (global) must be divisible by the number of processes ({world}). "
                             f"Received: batch_size={run.batch_size}")
        local = run.batch_size // world
        augment = AugmentConfig(image_size=config.vision_config.image_hw[0], scale=tuple(run.crop_scale), flip=run.flip,
                                color_jitter=run.color_jitter, random_erasing=run.random_erasing,
                                rand_augment=run.rand_augment, interpolation=run.interpolation)
        batches = TrainBatches(source=source, tokenizer=tokenizer, augment=augment, global_batch=run.batch_size,
                               rank=rank, world_size=world, seed=run.seed,
                               context_length=config.text_config.max_position_embeddings,
                               multi_label_k=run.multi_label, noun_ids=run.grouped_multi_label,
                               templates=resolve_templates(run.prompt_templates),
                               shuffle_buffer=run.shuffle_buffer,
                               num_workers=run.num_workers)
        if run.steps is not None:
            total = run.steps
        else:
            total = max(1, math.ceil(run.epochs * batches.num_samples() / run.batch_size))
        schedule = make_schedule(run, total)

        start = 0
        if saved is not None:
            start = int(saved["step"])
            if int(saved["world_size"]) != world:
                raise ValueError(f"A run resumes on as many processes as it ran on ({saved['world_size']}). "
                                 f"Received: {world}")
            skipped = saved.get("skipped")  # the counts go on from the checkpoint's
            batches.restore(saved["data"][rank], skipped[rank] if skipped else None)
            trainer.load_optimizer_state(optimizer_arrays)
            trainer.set_rng_state(saved.get("rng", {}).get(str(rank), {}))
    except BaseException:
        if created_out and env_rank() == 0:  # a run that fails before its first step leaves nothing behind
            discard_out(run.out, existed_empty)
        raise
    summary_path = os.path.join(run.out, SUMMARY_NAME)
    if start >= total and os.path.isfile(summary_path):  # a finished run resumed: nothing to train or rewrite
        if rank == 0:  # (its summary was rewritten with an empty "final" and halved skip counts)
            print(f"The run in {run.out} is complete ({total} steps): nothing to resume; its files are unchanged.")
        with open(summary_path, encoding="utf-8") as f:
            summary = json.load(f)
        trainer.close()
        return summary
    log_path, eval_path = os.path.join(run.out, LOG_NAME), os.path.join(run.out, EVAL_LOG_NAME)
    if rank == 0:
        os.makedirs(run.out, exist_ok=True)
        checkpoints.sweep_temporaries(run.out)  # a resumed run killed while it saved left them
        rewrite_log(log_path, start)
        rewrite_log(eval_path, start)
    saves = []

    def save(step: int, evaluate: bool = True) -> str | None:
        ranks = trainer.gather_objects({"data": batches.state(), "rng": trainer.rng_state(),
                                        "skipped": batches.skips.as_dict()})  # one collective per save
        weights_now, optimizer_now = trainer.weights(), trainer.optimizer_state()
        path = None
        if rank == 0:
            state = {"run": run.to_dict(), "world_size": world, "schedule": schedule.to_dict(),
                     "data": [r["data"] for r in ranks], "rng": {str(i): r["rng"] for i, r in enumerate(ranks)},
                     "skipped": [r["skipped"] for r in ranks], "backend": run.backend}
            scores = best_and_last(run.out) if run.eval_data is not None else None
            protect = (checkpoints.checkpoint_dir(run.out, scores["best"]["step"]),) if scores else ()
            path = checkpoints.write_checkpoint(run.out, step, config, weights_now, tokenizer_files, state,
                                                optimizer_now, keep=run.keep, protect=protect)
        saves.append(step)  # from here on a failure keeps the folder: it holds a checkpoint
        if rank == 0 and run.eval_data is not None and evaluate and not evaluated(run.out, step):
            entry = evaluate_checkpoint(run, path, step)
            append_entry(run.out, entry)
            if "error" in entry:
                message = f"step {step}: evaluation failed, training goes on: {entry['error']}"
            else:  # no class occurs in the scored pixels (all ignored): no mIoU, the line holds null
                miou = "n/a" if entry["miou"] is None else f"{100 * entry['miou']:.2f} %"
                message = f"step {step}: zero-shot mIoU {miou} on {entry['images']} image(s)"
            if run.progress or "error" in entry:
                (bar.write if bar is not None else print)(message)
        trainer.barrier()
        return path

    def undo_unsaved() -> None:
        """A run that stops before its first checkpoint leaves nothing behind: the folder it made goes (an empty
        one it was given is emptied), a resumed run's logs are cut back to where it resumed."""
        if rank != 0 or saves:
            return
        if created_out:
            discard_out(run.out, existed_empty)
        elif resume_from:
            rewrite_log(log_path, start)
            rewrite_log(eval_path, start)
        else:
            for path in (log_path, eval_path):
                if os.path.exists(path):
                    os.remove(path)

    stop = StopRequest()
    bar = _progress(run, total, start, rank)
    step, last, began, interrupted, stopped_at_boundary = start, {}, time.perf_counter(), 0, False
    iterator = iter(batches)
    try:
        with open(log_path, "a", encoding="utf-8") if rank == 0 else NullLog() as log:
            while step < total:
                tick = time.perf_counter()
                batch = next(iterator)
                rows = slice(rank * local, (rank + 1) * local)
                noise = gumbel_noise(config.vision_config, run.seed, step, run.batch_size, rows=rows)
                scales = drop_path_scales(config.vision_config, run.drop_path_rate, run.seed, step, run.batch_size,
                                          rows=rows)
                lr = schedule.lr_at(step)
                metrics = trainer.step(batch, noise, lr, scales)
                step += 1
                images_per_s = run.batch_size / max(time.perf_counter() - tick, 1e-9)
                skipped = trainer.sum_over_ranks(batches.skips.total)
                last = {"step": step, **{k: metrics[k] for k in ("loss", "contrastive")},
                        "multi_label": metrics.get("multi_label"), "lr": lr, "logit_scale": metrics["logit_scale"],
                        "images_per_s": images_per_s, "grad_norm": metrics["grad_norm"],
                        "multi_label_logit_scale": metrics.get("multi_label_logit_scale"),
                        "skipped": skipped}  # every rank's skips so far, as summary.json counts them
                for term in OPTIONAL_TERMS:
                    if term in metrics:
                        last[term] = metrics[term]
                if not all(math.isfinite(v) for v in (metrics["loss"], metrics["grad_norm"])):
                    raise FloatingPointError(f"The loss became non-finite at step {step}: {metrics}. "
                                             "Lower --lr or keep --clip-norm on.")
                if rank == 0:
                    log.write(json.dumps(last) + "\n")
                    log.flush()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{lr:.2e}",
                                    scale=f"{metrics['logit_scale']:.2f}", img_s=f"{images_per_s:.1f}")
                if step % run.save_every == 0 and step < total:
                    save(step)
                # Every rank stops at the same boundary, on the signal any rank received (a signal may reach the
                # processes a step apart, or one process only; the save that follows is a collective)
                signum = stop.signum if stop.requested else 0
                signum = trainer.max_over_ranks(signum)
                if signum and step < total:
                    raise TrainingStopped(signum, at_boundary=True)
    except KeyboardInterrupt as err:
        interrupted = getattr(err, "signum", stop.signum)
        stopped_at_boundary = getattr(err, "at_boundary", False)
        if not stopped_at_boundary:
            # Stopped inside a step or a save (a second signal, or an interrupt the handler did not see): the data
            # stream may be a batch ahead of the weights, so the state is not saved; the last checkpoint stands,
            # and without one the run undoes its writes as a failed one does (a rerun then starts afresh).
            if rank == 0:
                last_saved = f"the last checkpoint is step {saves[-1]}" if saves else "no checkpoint, nothing kept"
                print(f"\nstopped at once after {step} completed steps: nothing saved, {last_saved}")
            undo_unsaved()
        elif step > start and not (saves and saves[-1] == step):
            try:
                path = save(step, evaluate=False)
            except BaseException:
                undo_unsaved()
                raise
            if rank == 0:
                print(f"\ninterrupted: saved {path}; continue with the same command and --resume")
        elif rank == 0 and saves:
            print(f"\ninterrupted: step {step} is saved; continue with the same command and --resume")
    except BaseException:
        undo_unsaved()
        raise
    finally:
        if bar is not None:
            bar.close()
        stop.restore()
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if interrupted:
        trainer.close(wait=stopped_at_boundary)  # stopped at once, the other ranks may be inside a step
        raise TrainingStopped(interrupted)

    save(total)
    wall = time.perf_counter() - began
    counts = trainer.gather_objects(batches.skips.as_dict())
    summary = {"backend": run.backend, "world_size": world, "steps": total, "resumed_from_step": start,
               "wall_s": round(wall, 3), "images_per_s": round((total - start) * run.batch_size / max(wall, 1e-9), 3),
               "final": last, "skipped": sum_counts(counts), "skipped_per_rank": counts,
               "out": run.out}
    if run.eval_data is not None and rank == 0:
        summary["eval"] = best_and_last(run.out)
    if rank == 0:
        checkpoints.write_model(run.out, config, trainer.weights(), tokenizer_files)
        write_text(os.path.join(run.out, SUMMARY_NAME), json.dumps(summary, indent=1))
    trainer.close()  # waits for every rank first
    return summary


def weights_names(config: GroupViTConfig) -> list[str]:
    """Trainable parameter names of a model of `config` (no buffers), for `--freeze` patterns."""
    from groupvit.weights_bridge.keys import expected_shapes
    buffers = ("running_mean", "running_var", "num_batches_tracked", "position_ids")
    return [k for k in expected_shapes(config) if not k.endswith(buffers)]
