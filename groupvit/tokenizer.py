"""CLIP tokenization, offline, from a checkpoint directory (needs the `tokenizers` library).

Reads `tokenizer.json`, or `vocab.json` + `merges.txt` (CLIP byte-level BPE with "</w>" word
ends). CLIP conventions are applied here whatever the files say: the original CLIP tokenizer's
text cleaning (`ftfy.fix_text`, HTML-unescaping twice, whitespace collapsed, lower-case),
`<|startoftext|>` first, `<|endoftext|>` last, truncation that keeps the end token, right padding
with the pad id. Without `ftfy` installed the mojibake/quote/width repairs are skipped, with a
one-time warning when a text could be affected (non-ASCII or control characters).
"""

from __future__ import annotations

import html
import json
import os
import re
import warnings
from typing import Sequence

import numpy as np

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
CLIP_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


# Unicode's White_Space property, the `\s` of the `regex` module the original CLIP tokenizer uses
# (Python's `re` would also take U+001C-U+001F as whitespace).
_WHITESPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# Texts ftfy can change: anything beyond printable ASCII and ordinary whitespace.
_FTFY_CAN_CHANGE = re.compile(r"[^\x20-\x7e\t\n\r]")
_warned_without_ftfy = False


def _fix_text(text: str) -> str:
    global _warned_without_ftfy
    try:
        import ftfy
    except ImportError:
        if not _warned_without_ftfy and _FTFY_CAN_CHANGE.search(text):
            _warned_without_ftfy = True
            warnings.warn(
                "ftfy is not installed, so texts with non-ASCII or control characters (mojibake, curly "
                "quotes, full-width letters, ...) may get other token ids than CLIP's own tokenizer gives; "
                'pip install "ftfy>=6" (part of the segment and train extras) to match it.',
                stacklevel=3,
            )
        return text
    return ftfy.fix_text(text)


def clean_text(text: str) -> str:
    """The original CLIP tokenizer's clean-up: `ftfy.fix_text`, HTML-unescape twice, strip,
    collapse whitespace, lower-case."""
    text = html.unescape(html.unescape(_fix_text(text))).strip()
    return _WHITESPACE.sub(" ", text).strip().lower()


def token_text(text: str) -> str:
    """What the byte-level BPE reads of `text`: `clean_text`, and a space for each U+0345."""
    # U+0345 (combining ypogegrammeni) left alone after ftfy's composition: the original tokenizer's regex, with
    # IGNORECASE, matches it with no class (it case-folds to a letter, yet is none), so it drops it and splits
    # the word there: the one code point found to tokenize differently (all of Unicode was compared)
    return clean_text(text).replace("\u0345", " ")


def _load_backend(checkpoint_dir: str):
    try:
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('Tokenizing needs the tokenizers library: pip install "tokenizers>=0.15"') from err
    tokenizer_json = os.path.join(checkpoint_dir, "tokenizer.json")
    vocab_json, merges_txt = (os.path.join(checkpoint_dir, n) for n in ("vocab.json", "merges.txt"))
    if os.path.isfile(tokenizer_json):
        return Tokenizer.from_file(tokenizer_json)
    if not (os.path.isfile(vocab_json) and os.path.isfile(merges_txt)):
        raise FileNotFoundError(
            f"The checkpoint directory must hold tokenizer.json, or vocab.json and merges.txt. "
            f"Received: checkpoint_dir={checkpoint_dir!r}"
        )
    with open(vocab_json, encoding="utf-8") as f:
        vocab = json.load(f)
    with open(merges_txt, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    bad = [m for m in merges if len(m) != 2]
    if bad:
        raise ValueError(f"Every line of merges.txt must hold two symbols. Received: {bad[:3]}")
    unk = END_TOKEN if END_TOKEN in vocab else None
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token=unk, end_of_word_suffix="</w>",
                                     continuing_subword_prefix="", fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_SPLIT_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    # as in a CLIP tokenizer.json: the start and end tokens are special, so a literal "<|endoftext|>" in a text is
    # read as that token (and dropped by `encode`), not spelled out in characters
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                  for t in (START_TOKEN, END_TOKEN) if t in vocab])
    return tokenizer


def _pad_id_from_files(checkpoint_dir: str, tokenizer) -> int | None:
    """The pad token of tokenizer_config.json / special_tokens_map.json, else config.json's text pad_token_id."""
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = os.path.join(checkpoint_dir, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                pad = json.load(f).get("pad_token")
            if isinstance(pad, dict):
                pad = pad.get("content")
            if isinstance(pad, str) and tokenizer.token_to_id(pad) is not None:
                return int(tokenizer.token_to_id(pad))
    path = os.path.join(checkpoint_dir, "config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        legacy = config.get("text_config_dict")
        if isinstance(legacy, dict):  # as the ports read it: the legacy dict's value, else the default, wins
            from groupvit.configs import GroupViTTextConfig

            pad = legacy.get("pad_token_id", GroupViTTextConfig().pad_token_id)
        else:
            pad = (config.get("text_config") or {}).get("pad_token_id")
        if isinstance(pad, int) and not isinstance(pad, bool):
            return int(pad)
    return None


class ClipTokenizer:
    """`names -> (ids int64 [N, L], mask int64 [N, L])` with CLIP conventions; L = longest text
    (at most `max_length`) unless `pad_to_max_length`."""

    def __init__(self, backend, max_length: int = 77, pad_id: int | None = None, pad_to_max_length: bool = False):
        if max_length < 2:
            raise ValueError(
                f"max_length must leave room for the start and end tokens. Received: max_length={max_length}"
            )
        self.backend = backend
        self.max_length = int(max_length)
        self.start_id = self._special_id(START_TOKEN)
        self.end_id = self._special_id(END_TOKEN)
        self.pad_id = int(self.end_id if pad_id is None else pad_id)
        self.pad_to_max_length = pad_to_max_length

    def _special_id(self, token: str) -> int:
        token_id = self.backend.token_to_id(token)
        if token_id is None:
            raise ValueError(f"The tokenizer's vocabulary must contain {token}. Received: no id for {token!r}")
        return int(token_id)

    def encode(self, text: str) -> list[int]:
        """Token ids of one text with start and end tokens, truncated to max_length keeping the end token."""
        body = self.backend.encode(token_text(text), add_special_tokens=False).ids
        body = [i for i in body if i not in (self.start_id, self.end_id)][: self.max_length - 2]
        return [self.start_id, *body, self.end_id]

    def __call__(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(names, str):
            names = [names]
        rows = [self.encode(n) for n in names]
        if not rows:
            raise ValueError("The tokenizer needs at least one text. Received: names=[]")
        length = self.max_length if self.pad_to_max_length else max(len(r) for r in rows)
        ids = np.full((len(rows), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), length), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask


def load_tokenizer(checkpoint_dir: str | os.PathLike, max_length: int = 77, pad_id: int | None = None, *,
                   revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                   local_files_only: bool | None = None) -> ClipTokenizer:
    """The CLIP tokenizer stored with a checkpoint. The pad id comes from `pad_id`, the tokenizer files,
    the checkpoint's config.json, or else the end token, in that order. `checkpoint_dir`: a folder, a
    file in one, a shipped model's name or a hub id (`revision`, `cache_dir`, `local_files_only`)."""
    from groupvit.pretrained import resolve_checkpoint

    checkpoint_dir = resolve_checkpoint(checkpoint_dir, revision=revision, cache_dir=cache_dir,
                                        local_files_only=local_files_only)
    if os.path.isfile(checkpoint_dir):
        checkpoint_dir = os.path.dirname(os.path.abspath(checkpoint_dir))
    backend = _load_backend(checkpoint_dir)
    if pad_id is None:
        pad_id = _pad_id_from_files(checkpoint_dir, backend)
    return ClipTokenizer(backend, max_length=max_length, pad_id=pad_id)
