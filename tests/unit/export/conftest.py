import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "segmentation"))  # seg_helpers

from seg_helpers import write_tiny_tokenizer  # noqa: E402

from groupvit.random_checkpoint import random_weights  # noqa: E402
from tiny_configs import tiny_config  # noqa: E402


def write_checkpoint(folder, stages: str = "three_stage", seed: int = 0, **top) -> str:
    from groupvit.weights_bridge import save_checkpoint

    config = tiny_config(stages, **top)
    save_checkpoint(config, random_weights(config, seed), folder)
    write_tiny_tokenizer(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    return write_checkpoint(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def exports(tmp_path_factory, tiny_checkpoint):
    """Every format of the tiny checkpoint, exported once: {(format, parts): folder}."""
    from groupvit.export import export_checkpoint

    root = tmp_path_factory.mktemp("exports")
    out = {}
    for fmt, parts in (("onnx", "full"), ("onnx", "towers"), ("torch-export", "full"), ("saved-model", "full")):
        out[fmt, parts] = export_checkpoint(tiny_checkpoint, root / f"{fmt}-{parts}", format=fmt, parts=parts)
    return out
