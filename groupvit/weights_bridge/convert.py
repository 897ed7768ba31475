"""`convert`: one checkpoint to another format, strictly and all-or-nothing."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable

from groupvit.configs import CONFIG_NAME, GroupViTConfig
from groupvit.weights_bridge.atomic import AtomicFiles
from groupvit.weights_bridge.checkpoint import ConfigArg, locate, output_plan, resolve_config
from groupvit.weights_bridge.formats import DIRECTORY_ORDER, FORMATS, format_of_file
from groupvit.weights_bridge.strict import check_weights

# State-dict entries that are buffers, not parameters (left out of the parameter count).
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")
# Files of a checkpoint directory that travel with the weights.
COMPANION_FILES = (
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "preprocessor_config.json",
    "segmentation_defaults.json",  # the settings segment / evaluate take by default for this model
    "MODEL_CARD.md",
)


@dataclass
class ConversionResult:
    """What `convert` wrote and how long it took."""

    source_format: str
    format: str
    written: list[str] = field(default_factory=list)
    tensors: int = 0
    parameters: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"converted {self.source_format} -> {self.format}: {self.tensors} tensors, {self.parameters:,} parameters, "
            f"{self.bytes:,} bytes in {self.seconds:.2f} s -> {', '.join(self.written)}"
        )


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    format: str | None = None,
    overwrite: bool = False,
    config: ConfigArg = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ConversionResult:
    """Converts the checkpoint at `src` into `dst` (a checkpoint directory or a weight file).

    A directory gets config.json (copied), the weight file (model.safetensors, tf_model.h5
    or model.weights.h5) and the tokenizer / preprocessor files present beside the source.
    Never writes over `src`; refuses existing destination files unless `overwrite`;
    nothing else in `dst` is touched. `progress(stage, done_bytes, total_bytes)`.
    """
    start = time.perf_counter()
    fmt_in, weight_file = locate(src)
    cfg, config_file = resolve_config(config, weight_file, fmt_in)
    folder, file_name, is_dir = output_plan(dst, format)
    fmt_out = format_of_file(file_name)

    copies: dict[str, str] = {}  # final name -> source file
    if is_dir:
        src_folder = os.path.dirname(os.path.abspath(weight_file))
        copies = {
            n: os.path.join(src_folder, n) for n in COMPANION_FILES if os.path.isfile(os.path.join(src_folder, n))
        }
        if config_file is not None:
            copies[CONFIG_NAME] = config_file
    finals = [os.path.join(folder, n) for n in [file_name, *([CONFIG_NAME] if is_dir else []), *copies]]
    sources = [weight_file, *copies.values()] + ([config_file] if config_file else [])
    clashes = [f for f in dict.fromkeys(finals) if any(_same_file(f, s) for s in sources)]
    if clashes:
        raise ValueError(
            f"The destination must not write over the source. Received: dst files {clashes} are source files"
        )
    if is_dir:  # another format's weight file in the folder would be loaded instead of (or before) the new one
        others = [os.path.join(folder, FORMATS[n].file_name) for n in DIRECTORY_ORDER
                  if FORMATS[n].file_name != file_name and os.path.isfile(os.path.join(folder, FORMATS[n].file_name))]
        if others:
            raise FileExistsError(
                f"The destination folder must hold no weight file of another format: loading the folder would read "
                f"it, not the new {file_name}. Received: {others}; remove them or choose another destination")
    existing = [f for f in dict.fromkeys(finals) if os.path.exists(f)]
    if existing and not overwrite:
        raise FileExistsError(f"The destination files must not exist (pass --overwrite). Received: {existing}")

    src_size = os.path.getsize(weight_file)
    read_done = [0]

    def on_read(n: int) -> None:
        read_done[0] += n
        if progress:
            progress("read", min(read_done[0], src_size), src_size)

    weights = fmt_in.read(weight_file, cfg, on_read)
    weights = check_weights(cfg, weights, weight_file, fill_optional=True)
    total = sum(v.nbytes for v in weights.values())
    written = [0]

    def on_write(n: int) -> None:
        written[0] += n
        if progress:
            progress("write", min(written[0], total), total)

    with AtomicFiles(folder) as out:
        out.stage(file_name, lambda tmp: fmt_out.write(cfg, weights, tmp, on_write))
        if progress:
            progress("write", total, total)
        if is_dir:
            for name, source in copies.items():
                out.stage(name, lambda tmp, source=source: shutil.copyfile(source, tmp))
            if CONFIG_NAME not in copies:
                out.stage(CONFIG_NAME, lambda tmp: _write_config(tmp, cfg))
        paths = out.commit()
    return ConversionResult(
        source_format=fmt_in.name,
        format=fmt_out.name,
        written=paths,
        tensors=len(weights),
        parameters=sum(int(v.size) for k, v in weights.items() if not k.endswith(BUFFER_SUFFIXES)),
        bytes=os.path.getsize(paths[0]),
        seconds=time.perf_counter() - start,
    )


def _same_file(a: str, b: str) -> bool:
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def _write_config(path: str, config: GroupViTConfig) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(config.to_json_string())
