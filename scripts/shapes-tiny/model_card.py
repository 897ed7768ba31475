"""Write groupvit/pretrained/shapes-tiny/MODEL_CARD.md from the runs' summaries and measure.json."""

from __future__ import annotations

import json
import sys


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}"


def main(stage1: str, stage2: str, measure: str, out: str) -> None:
    s1, s2 = (json.load(open(f"{p}/summary.json")) for p in (stage1, stage2))
    m = json.load(open(measure))
    names = m["classes"]
    lines = [
        "# shapes-tiny", "",
        "A small GroupViT (2.3 M parameters: text 3 x 128, vision 6 x 128 with two grouping stages 24 -> 8 groups, "
        "64 x 64 px input, patch 4) trained with `groupvit train` on captions of generated scenes "
        "(`groupvit shapes`). **Captions were the only supervision: no mask was seen in training.** "
        "It exists so the library segments offline, inside the package, and so reduced-precision and exported "
        "paths can be checked on a model that really groups. It knows nothing outside the shapes world.", "",
        "## How it was made (exact commands: `scripts/shapes-tiny/train.sh`)", "",
        "- data: `groupvit shapes WORK/train --scenes 20000 --seed 1 --layout train --size 72` (training, seed 1); "
        "held-out: `--seed 2` (300 scenes, VOC layout), hard variant `--seed 3 --variant hard`;",
        f"- stage 1: from scratch, {s1['steps']} steps at global batch 64, lr 5e-4 (warm-up 60, cosine), "
        f"multi-label K = 3, crop scale 0.7-1, no flips, seed 0: {s1['wall_s'] / 60:.1f} min "
        f"({s1['images_per_s']:.1f} images/s);",
        f"- stage 2: `--init` stage 1, {s2['steps']} more steps, lr 5e-4 (warm-up 20, cosine), data seed 1: "
        f"{s2['wall_s'] / 60:.1f} min ({s2['images_per_s']:.1f} images/s);",
        f"- total {(s1['wall_s'] + s2['wall_s']) / 60:.1f} min of training on the 2-core machine "
        "(AMD EPYC, PyTorch 2.13 CPU, float32), while other jobs shared it;",
        "- tokenizer: a CLIP-style byte-level BPE trained on the captions (`--tokenizer-vocab 1024`), "
        "`tokenizer.json` with CLIP's start/end tokens.", "",
        "## Zero-shot segmentation on held-out scenes (seed 2, 300 scenes, never trained on)", "",
        f"Settings (`groupvit evaluate`'s defaults for this checkpoint): {json.dumps(m['settings'])}.", "",
        "| | " + " | ".join(names) + " | mIoU |", "|---" * (len(names) + 2) + "|",
    ]
    for backend, row in m["backends"].items():
        per = row["per_class"]
        lines.append(f"| {backend} | " + " | ".join(pct(per[n]) for n in names) + f" | **{pct(row['default'])}** |")
    lines += ["", "| measurement | mIoU (%) |", "|---|---:|"]
    for backend, row in m["backends"].items():
        lines.append(f"| {backend}, default settings | {pct(row['default'])} |")
        lines.append(f"| {backend}, other vocabulary (classes_alt.txt: plurals and synonyms) | "
                     f"{pct(row['alt_vocabulary'])} |")
        if "hard_variant" in row:
            lines.append(f"| {backend}, hard variant (colour independent of class, seed 3) | {pct(row['hard_variant'])} |")
    lines.append(f"| untrained initial model (same config and tokenizer), default threshold | "
                 f"{pct(m['untrained']['default'])} |")
    lines.append(f"| untrained initial model, best over the threshold sweep | {pct(m['untrained']['best_over_sweep'])} |")
    lines.append(f"| best constant prediction (every pixel `{m['best_constant']['label']}`) | "
                 f"{pct(m['best_constant']['miou'])} |")
    lines += ["", "Background-threshold sweep (PyTorch): " + ", ".join(
        f"{k}: {pct(v)}" for k, v in m["backends"]["pt"]["sweep"].items()), "",
        "Reproduce: `groupvit evaluate --checkpoint shapes-tiny --data HELDOUT` with HELDOUT from "
        "`groupvit shapes HELDOUT --scenes 300 --seed 2 --layout voc --size 72`; the full table: "
        "`python scripts/shapes-tiny/measure.py --checkpoint shapes-tiny --data HELDOUT --json m.json`.", ""]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main(*sys.argv[1:5])
