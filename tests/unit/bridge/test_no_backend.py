"""The weight bridge imports no backend: a format that needs one (keras) is supplied by groupvit.tf."""

import subprocess
import sys

import pytest

from groupvit.weights_bridge import save_checkpoint
from groupvit.weights_bridge.formats import FORMATS


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_converting_imports_neither_backend_nor_framework(checkpoint_dir, tmp_path):
    done = _run(
        "import sys\n"
        "from groupvit.weights_bridge import convert, load_checkpoint\n"
        f"convert({str(checkpoint_dir)!r}, {str(tmp_path / 'h5')!r}, format='h5')\n"
        f"load_checkpoint({str(tmp_path / 'h5')!r})\n"
        "print(sorted(m for m in ('groupvit.pt', 'groupvit.tf', 'torch', 'tensorflow', 'keras') if m in sys.modules))\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_keras_format_without_groupvit_tf_says_what_is_needed(tmp_path, config, weights, monkeypatch):
    from groupvit.weights_bridge import formats

    monkeypatch.setattr(formats, "_KERAS_IO", {})
    save_checkpoint(config, weights, tmp_path / "src")
    with pytest.raises(ValueError, match=r"read and written by groupvit.tf: import groupvit.tf first.*Received"):
        FORMATS["keras"].write(config, weights, str(tmp_path / "model.weights.h5"), None)
