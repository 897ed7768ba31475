"""Write groupvit/pretrained/shapes-tiny/MODEL_CARD.md from the run's summary.json, measure.json and results.json.

    python scripts/shapes-tiny/model_card.py RUN_DIR MEASURE_JSON OUT_MD [EXTRA_MARKDOWN]

EXTRA_MARKDOWN (optional): a file whose text is appended (the other recipes tried, with their numbers).
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}"


def shell_line(start_text: str) -> str:
    """The line of train.sh that starts with `start_text`, without its trailing comment."""
    with open(os.path.join(HERE, "train.sh"), encoding="utf-8") as f:
        line = next(x for x in f if x.startswith(start_text))
    return line.split("#")[0].strip().replace('"$WORK', '"WORK').replace('"', "")


def training_command() -> str:
    with open(os.path.join(HERE, "train.sh"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("groupvit train")
    end = text.index("\n", text.index("--seed", start))
    return " ".join(text[start:end].replace("\\\n", " ").split())


def main(run: str, measure: str, out: str, extra: str | None = None) -> None:
    summary = json.load(open(os.path.join(run, "summary.json"), encoding="utf-8"))
    m = json.load(open(measure, encoding="utf-8"))
    results = json.load(open(os.path.join(os.path.dirname(out), "results.json"), encoding="utf-8"))
    names = m["classes"]
    config = json.load(open(os.path.join(run, "config.json"), encoding="utf-8"))
    text, vision = config["text_config"], config["vision_config"]
    groups = " -> ".join(str(g) for g in vision["num_group_tokens"] if g)
    import safetensors.numpy

    params = sum(v.size for v in safetensors.numpy.load_file(os.path.join(run, "model.safetensors")).values())
    data_command = shell_line('groupvit shapes "$WORK/train"')
    lines = [
        "# shapes-tiny", "",
        f"A small GroupViT ({params / 1e6:.1f} M parameters: text {text['num_hidden_layers']} x "
        f"{text['hidden_size']}, vision {vision['num_hidden_layers']} x {vision['hidden_size']} with two grouping "
        f"stages of {groups} group tokens, {vision['image_size']} x {vision['image_size']} px input, patch "
        f"{vision['patch_size']}) trained with `groupvit train` on captions of generated scenes "
        "(`groupvit shapes`). **Captions were the only supervision: no mask was seen in training.** "
        "It knows nothing outside the shapes world.", "",
        "## How it was made (the exact commands: `scripts/shapes-tiny/train.sh`)", "",
        f"- data: `{data_command}` (training, seed 1); "
        "validation (to pick the segmentation settings): `--seed 4`, 200 scenes; held-out (reported): `--seed 2`, "
        "300 scenes; hard variant `--seed 3 --variant hard`; all VOC layout;",
        f"- training, from scratch: `{training_command()}`;",
        f"- {summary['steps']} steps in {summary['wall_s'] / 60:.1f} min ({summary['images_per_s']:.1f} images/s) "
        "on the 2-core machine (PyTorch 2.13 CPU, float32); final contrastive loss "
        f"{summary['final']['contrastive']:.3f}, multi-label {summary['final'].get('multi_label', float('nan')):.3f};",
        "- tokenizer: a CLIP-style byte-level BPE trained on the captions (`--tokenizer-vocab 1024`), "
        "`tokenizer.json` with CLIP's start/end tokens;",
        f"- segmentation settings chosen on the validation scenes (`segmentation_defaults.json`): "
        f"`{json.dumps(results['settings'])}`.", "",
        "## Zero-shot segmentation on held-out scenes (seed 2, 300 scenes, never trained on)", "",
        "`groupvit evaluate`'s defaults for this checkpoint; IoU per class (%), background included in the mIoU:", "",
        "| backend | " + " | ".join(names) + " | mIoU |", "|---" * (len(names) + 2) + "|",
    ]
    for backend, row in m["backends"].items():
        per = row["per_class"]
        lines.append(f"| {backend} | " + " | ".join(pct(per[n]) for n in names) + f" | **{pct(row['default'])}** |")
    lines += ["", "| measurement (held-out, seed 2) | mIoU (%) |", "|---|---:|"]
    for backend, row in m["backends"].items():
        lines.append(f"| {backend}, default settings | {pct(row['default'])} |")
        lines.append(f"| {backend}, other vocabulary (classes_alt.txt: plurals and synonyms) | "
                     f"{pct(row['alt_vocabulary'])} |")
        if "hard_variant" in row:
            lines.append(f"| {backend}, hard variant (colour independent of class, seed 3) | "
                         f"{pct(row['hard_variant'])} |")
    lines.append(f"| untrained initial model (same config and tokenizer), default threshold | "
                 f"{pct(m['untrained']['default'])} |")
    lines.append(f"| untrained initial model, best over the threshold sweep | "
                 f"{pct(m['untrained']['best_over_sweep'])} |")
    lines.append(f"| best constant prediction (every pixel `{m['best_constant']['label']}`) | "
                 f"{pct(m['best_constant']['miou'])} |")
    lines += ["", "Background-threshold sweep (PyTorch): " + ", ".join(
        f"{k}: {pct(v)}" for k, v in m["backends"]["pt"]["sweep"].items()), "",
        f"The test scenes of `results.json` (seed 2, scenes 0-99, drawn in memory, no JPEG): PyTorch "
        f"{pct(results['miou']['pt'])}, Keras {pct(results['miou']['tf'])}; the label maps differ on "
        f"{results['pixels_differing']} pixels; best constant {pct(results['best_constant'])}. "
        "`tests/unit/segmentation/test_shapes_tiny.py` checks these numbers.", "",
        "Reproduce: `groupvit evaluate --checkpoint shapes-tiny --data HELDOUT` with HELDOUT from "
        "`groupvit shapes HELDOUT --scenes 300 --seed 2 --layout voc --size 72`; the full table: "
        "`python scripts/shapes-tiny/measure.py --checkpoint shapes-tiny --data HELDOUT --json m.json`.", ""]
    if extra:
        with open(extra, encoding="utf-8") as f:
            lines += [f.read().rstrip(), ""]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:5])
