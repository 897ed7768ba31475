"""Virtual environments for the workers, created under benchmarks/.venvs/ on first use.

Each contender's framework lives in its own environment, so the reference ports (`transformers`
5 for PyTorch, `transformers` 4.57 + tf-keras for Keras 2) never become dependencies of the
library. `torch` is always pinned: an unpinned torch pulls a multi-GB CUDA build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENVS = REPO / "benchmarks" / ".venvs"
TORCH = "torch==2.13.0"
COMPLETE = ".complete"  # written last: a venv without it is a failed or interrupted set-up
TF = "tensorflow-cpu==2.21.*"
KERAS = "keras>=3.10,<4"

# env name -> pip install steps (each a list of arguments after `pip install`)
ENV_STEPS: dict[str, list[list[str]]] = {
    "ours-pt": [[TORCH], ["-e", f"{REPO}[torch]"]],
    "ours-tf": [[TF, KERAS], ["-e", f"{REPO}[tf]"]],
    "port-pt": [[TORCH, "transformers>=5,<6"], ["-e", str(REPO)]],
    "ours-onnx": [[TORCH], ["-e", f"{REPO}[torch,export]"]],
    # tensorflow-probability: the port's training path samples its Gumbel noise with tfp
    "port-tf": [[TF, "transformers==4.57.*", "tensorflow-probability==0.25.*"], ["--no-deps", "tf-keras==2.21.*"],
                ["-e", str(REPO)]],
}

# Extra environment variables of a worker, per env.
ENV_VARS: dict[str, dict[str, str]] = {
    "port-tf": {"TF_USE_LEGACY_KERAS": "1"},  # transformers 4.57's TF models need Keras 2 (tf-keras)
}


def env_var_name(env: str) -> str:
    return "GROUPVIT_BENCH_PYTHON_" + env.upper().replace("-", "_")


def venv_python(env: str) -> Path:
    return VENVS / env / "bin" / "python"


def python_for(env: str, overrides: dict[str, str]) -> str:
    """The interpreter of `env`: an override (`--python-for`, then $GROUPVIT_BENCH_PYTHON_<ENV>), else the venv."""
    if env in overrides:
        return overrides[env]
    if os.environ.get(env_var_name(env)):
        return os.environ[env_var_name(env)]
    return str(venv_python(env))


def ensure_env(env: str, overrides: dict[str, str], log=print) -> str:
    """Create and fill `env`'s venv unless it exists or is overridden; returns its interpreter."""
    python = python_for(env, overrides)
    target = VENVS / env
    ours = Path(python) == venv_python(env)
    if Path(python).exists() and (not ours or (target / COMPLETE).exists()):
        return python
    if env not in ENV_STEPS:
        raise ValueError(f"Unknown environment. Expected one of {sorted(ENV_STEPS)}. Received: env={env!r}")
    if target.exists():  # an interrupted or failed set-up: start over
        log(f"[setup] {target} is incomplete (no {COMPLETE}); recreating it")
        shutil.rmtree(target)
    log(f"[setup] creating {target} (one-time; several minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    pip = [str(venv_python(env)), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    for step in ENV_STEPS[env]:
        log(f"[setup] {env}: pip install {' '.join(step)}")
        subprocess.run([*pip, *step], check=True)
    (target / COMPLETE).write_text("every install step of ENV_STEPS succeeded\n")
    return str(venv_python(env))
