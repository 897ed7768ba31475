"""Checkpoints by Hugging Face hub id (`org/name`), through `huggingface_hub` and its cache.

Optional: `pip install "groupvit[hub]"`. The cache is `huggingface_hub`'s own (`HF_HOME`,
`HF_HUB_CACHE`, or `cache_dir=`), so a model another library already downloaded is used as is.
Offline (`local_files_only=True` or `HF_HUB_OFFLINE=1`) only the cache is read; online, only the
files a GroupViT checkpoint needs are downloaded: config, one weight file (safetensors first, then
pytorch_model.bin, then tf_model.h5; each one file, or an index and its shards) and the tokenizer files.
"""

from __future__ import annotations

import os
import re

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json", "tf_model.h5", "tf_model.h5.index.json")
# an index -> the names save_pretrained gives its shards (model-00001-of-00003.safetensors, ...)
SHARDS = {"model.safetensors.index.json": re.compile(r"^model-\d+-of-\d+\.safetensors$"),
          "pytorch_model.bin.index.json": re.compile(r"^pytorch_model-\d+-of-\d+\.bin$"),
          "tf_model.h5.index.json": re.compile(r"^tf_model-\d+-of-\d+\.h5$")}
OTHER_FILES = ("config.json", "tokenizer.json", "vocab.json", "merges.txt", "special_tokens_map.json",
               "tokenizer_config.json", "segmentation_defaults.json")
HUB_HELP = 'pip install "groupvit[hub]" (huggingface_hub)'


def looks_like_hub_id(path: str) -> bool:
    """`org/name` that is not a local path (a local folder always wins over an id of the same spelling)."""
    return bool(HUB_ID.match(path)) and not os.path.exists(path) and ".." not in path


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        return None
    return huggingface_hub


def _env_flag(name: str) -> bool:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import; a later change of the variable counts too."""
    return os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _needed(files: list[str]) -> list[str]:
    weights = next((name for name in WEIGHT_FILES if name in files), None)
    shards = [name for name in files if weights in SHARDS and SHARDS[weights].match(name)]
    return [name for name in OTHER_FILES if name in files] + ([weights] if weights else []) + shards


def snapshot(repo_id: str, *, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
             local_files_only: bool | None = None, token: str | bool | None = None,
             force_download: bool = False) -> str:
    """The local folder of `repo_id` at `revision` (default "main"), from the cache or downloaded (`token`,
    `force_download` as huggingface_hub's)."""
    revision = revision or "main"
    hub = _hub()
    if hub is None:
        raise FileNotFoundError(
            f"{repo_id!r} is not a local path, and loading a Hugging Face hub id needs huggingface_hub: "
            f"{HUB_HELP}. Received: checkpoint={repo_id!r}, revision={revision!r}")
    from huggingface_hub import constants

    cache = os.fspath(cache_dir) if cache_dir is not None else constants.HF_HUB_CACHE
    offline = bool(local_files_only) or bool(constants.HF_HUB_OFFLINE) or _env_flag("HF_HUB_OFFLINE")
    key = (repo_id, revision, os.path.realpath(cache), offline)
    known = _RESOLVED.get(key)
    if known is not None and not force_download and os.path.isdir(known):
        return known
    folder = _snapshot(hub, repo_id, revision, cache, offline, token, force_download)
    _RESOLVED[key] = folder
    return folder


# repo id, revision, cache, local_files_only -> the folder this process resolved them to: a command reads the
# config, the weights and the tokenizer of one id in turn, and each lookup of an unreachable hub waits for its
# timeout (3 x 23 s measured offline without HF_HUB_OFFLINE); one answer per process also keeps the pieces
# of one revision together if the hub's branch moves meanwhile
_RESOLVED: dict[tuple, str] = {}


def _snapshot(hub, repo_id: str, revision: str, cache: str, offline: bool, token, force_download: bool) -> str:
    from huggingface_hub import errors

    not_found = (errors.LocalEntryNotFoundError, errors.RepositoryNotFoundError, errors.RevisionNotFoundError,
                 errors.HfHubHTTPError, OSError)
    try:
        if offline:
            return hub.snapshot_download(repo_id, revision=revision, cache_dir=cache, local_files_only=True)
        try:
            auth = {"token": token} if token is not None else {}
            files = hub.list_repo_files(repo_id, revision=revision, **auth)
            return hub.snapshot_download(repo_id, revision=revision, cache_dir=cache, allow_patterns=_needed(files),
                                         **auth, **({"force_download": True} if force_download else {}))
        except not_found:
            raise
        except Exception as err:  # noqa: BLE001 - the HTTP client's own errors (no network, proxy, TLS)
            unreachable = err
    except not_found as err:
        where = "offline, in the cache only" if offline else "in the cache and on the hub"
        raise FileNotFoundError(
            f"A checkpoint must be a local path, a shipped model's name or a Hugging Face hub id that can be "
            f"found. Received: {repo_id!r} at revision {revision!r}, not found {where} (cache: {cache}): "
            f"{type(err).__name__}: {err}") from None
    try:  # the hub could not be reached: a copy in the cache still serves
        return hub.snapshot_download(repo_id, revision=revision, cache_dir=cache, local_files_only=True)
    except not_found:
        raise FileNotFoundError(
            f"A checkpoint must be a local path, a shipped model's name or a Hugging Face hub id that can be "
            f"found. Received: {repo_id!r} at revision {revision!r}: the hub could not be reached "
            f"({type(unreachable).__name__}: {unreachable}) and the cache ({cache}) does not hold it. "
            f"Download it where there is a network, or pass a local folder") from None
