"""Training a CLIP-style byte-level BPE tokenizer that `groupvit.tokenizer.load_tokenizer` reads unchanged.

The files mirror CLIP's: the 256 byte symbols, the same 256 with the "</w>" word end, the
learned merges in order, then `<|startoftext|>` and `<|endoftext|>`; the pad token is the end
token, as in CLIP. Every byte symbol is kept whatever the captions held, so no text is ever
encoded with silently dropped characters.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Iterable

from groupvit.tokenizer import CLIP_SPLIT_PATTERN, END_TOKEN, START_TOKEN, ClipTokenizer, clean_text

SUFFIX = "</w>"
SPECIAL_TOKENS_MAP = {"bos_token": START_TOKEN, "eos_token": END_TOKEN, "unk_token": END_TOKEN, "pad_token": END_TOKEN}


def _tokenizers() -> None:
    try:
        import tokenizers  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('Training a tokenizer needs the tokenizers library: pip install "tokenizers>=0.15"') from err


def _pipeline(tokenizer) -> None:
    """CLIP's normalisation (as `clean_text`) and pre-tokenisation (as `groupvit.tokenizer`)."""
    from tokenizers import Regex, decoders, normalizers, pre_tokenizers

    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_SPLIT_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    # Bytes back to text first, then each word end back to a space.
    tokenizer.decoder = decoders.Sequence(
        [decoders.ByteLevel(), decoders.Replace(SUFFIX, " "), decoders.Strip(" ", 0, 1)])


def _atomic_write(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _write_json(path: str, data: dict) -> None:
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)

    _atomic_write(path, write)


def train_clip_tokenizer(captions: Iterable[str], vocab_size: int, out_dir: str | os.PathLike) -> int:
    """Learn merges from `captions` and write tokenizer.json + special_tokens_map.json to `out_dir`.
    Returns the vocabulary size reached (at most `vocab_size`; less when the captions run out of pairs)."""
    _tokenizers()
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    base = 2 * len(alphabet) + 2  # bytes, bytes + "</w>", start and end
    if vocab_size < base:
        raise ValueError(f"vocab_size must hold the {base} byte and special symbols. Received: vocab_size={vocab_size}")
    learner = Tokenizer(models.BPE(end_of_word_suffix=SUFFIX))
    _pipeline(learner)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[START_TOKEN, END_TOKEN], show_progress=False,
                                  initial_alphabet=alphabet, end_of_word_suffix=SUFFIX)
    learner.train_from_iterator((clean_text(c) for c in captions if isinstance(c, str)), trainer)
    learned = json.loads(learner.to_str())["model"]["merges"]
    # tokenizers < 0.20 writes a merge as "a b", later versions as ["a", "b"].
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned]
    vocab: dict[str, int] = {}
    for symbol in [*alphabet, *(a + SUFFIX for a in alphabet)]:
        vocab.setdefault(symbol, len(vocab))
    kept = []
    for first, second in merges:
        if len(vocab) >= vocab_size - 2:
            break
        # The trainer's own alphabet only holds the word-end symbols the captions used; CLIP's layout
        # holds all of them, which leaves less room for merges.
        vocab.setdefault(first + second, len(vocab))
        kept.append((first, second))
    for token in (START_TOKEN, END_TOKEN):
        vocab.setdefault(token, len(vocab))
    tokenizer = Tokenizer(models.BPE(vocab, kept, end_of_word_suffix=SUFFIX, fuse_unk=False))
    _pipeline(tokenizer)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in (START_TOKEN, END_TOKEN)])
    save_tokenizer(tokenizer, out_dir)
    return tokenizer.get_vocab_size()


def save_tokenizer(tokenizer, out_dir: str | os.PathLike, pad_token: str | None = None) -> None:
    """Write a tokenizer (a `ClipTokenizer` or its `tokenizers.Tokenizer` backend) as tokenizer.json and
    special_tokens_map.json, e.g. next to a checkpoint. The pad token is the ClipTokenizer's, else the end token."""
    backend = tokenizer.backend if isinstance(tokenizer, ClipTokenizer) else tokenizer
    if pad_token is None:
        pad_token = backend.id_to_token(tokenizer.pad_id) if isinstance(tokenizer, ClipTokenizer) else END_TOKEN
    for token in {START_TOKEN, END_TOKEN, pad_token}:
        if backend.token_to_id(token) is None:
            raise ValueError(f"The tokenizer's vocabulary must contain {token!r}. Received: no id for it")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    # tokenizer.json last: other ranks wait for it, and then the pad token must already be there.
    _write_json(os.path.join(out_dir, "special_tokens_map.json"), {**SPECIAL_TOKENS_MAP, "pad_token": pad_token})
    _atomic_write(os.path.join(out_dir, "tokenizer.json"), backend.save)
