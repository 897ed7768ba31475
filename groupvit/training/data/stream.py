"""The deterministic, distributed-exact order in which ranks read samples.

The GLOBAL stream concatenates epochs e = 0, 1, ...; epoch e lists `source.refs(seed + e)`
through a shuffle buffer seeded with `[seed, e]`, and global position p numbers its refs.
Rank r's LOCAL stream takes, from each chunk t of `global_batch` positions, the slice
`[t*G + r*b, t*G + (r+1)*b)` (b = G // world_size), and a batch is the next b samples of it
that decode. With no bad samples, rank r's step t is therefore exactly rows r*b..(r+1)*b-1
of a single process's step t at the same global batch. Every random decision about a sample
comes from `sample_rng(seed, epoch, position)`, so it does not depend on who decodes it.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar

import numpy as np

from groupvit.training.data.skips import LISTING_ONLY_REASONS, SkipCounter
from groupvit.training.data.sources import SampleError, SampleRef, Source

T = TypeVar("T")
# (image uint8 [H, W, 3], ref, the sample's rng) -> the value a batch carries; must be picklable
# (a module-level function or an instance of a module-level class) to run in loader processes.
SampleFn = Callable[[np.ndarray, SampleRef, np.random.Generator], Any]
_STATE_CONFIG = ("rank", "world_size", "global_batch", "seed", "shuffle_buffer")
_DRAW_BLOCK = 1024  # shuffle-buffer indices drawn per numpy call; one call per ref would dominate listing


def sample_rng(seed: int, epoch: int, position: int) -> np.random.Generator:
    """The generator behind every random decision about the sample at `position` of `epoch`."""
    return np.random.default_rng([seed, epoch, position])


def shuffle_buffer(items: Iterable[T], size: int, rng: np.random.Generator) -> Iterator[T]:
    """Fill a buffer of `size` items, then let each incoming item replace a random one (which is
    yielded); drain the rest in random order. `size` <= 1 keeps the order."""
    if size <= 1:
        yield from items
        return
    buffer: list[T] = []
    draws: Iterator[int] = iter(())
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = next(draws, None)
        if index is None:
            draws = iter(rng.integers(0, size, _DRAW_BLOCK).tolist())
            index = next(draws)
        yield buffer[index]
        buffer[index] = item
    for index in rng.permutation(len(buffer)).tolist():
        yield buffer[index]


def _minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: n - b.get(k, 0) for k, n in a.items() if n - b.get(k, 0)}


def _plus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}


@dataclass(frozen=True)
class Sample:
    """One decoded sample of a rank's batch: its ref, epoch, global position and processed value."""

    ref: SampleRef
    epoch: int
    position: int
    value: Any


class _Decoder:
    """Decode + process one sample; runs in the main process or in a loader process."""

    def __init__(self, source: Source, process: SampleFn | None, seed: int):
        self.source, self.process, self.seed = source, process, seed

    def __call__(self, job: tuple[SampleRef, int, int]) -> tuple[bool, Any]:
        ref, epoch, position = job
        try:
            image = self.source.load_image(ref)
            if self.process is None:
                return True, image
            return True, self.process(image, ref, sample_rng(self.seed, epoch, position))
        except SampleError as err:  # counted by the caller; other errors are bugs and propagate
            return False, err.reason


_WORKER_DECODER: _Decoder | None = None


def _init_worker(decoder: _Decoder) -> None:
    global _WORKER_DECODER
    _WORKER_DECODER = decoder
    # Ctrl-C reaches the whole process group: a loader killed mid-sample would leave the main process waiting for
    # its result forever. The main process decides when to stop, and ends its loaders itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode_in_worker(job: tuple[SampleRef, int, int]) -> tuple[bool, Any]:
    return _WORKER_DECODER(job)


class SampleStream:
    """Batches of `global_batch // world_size` decoded samples for one rank; iterate for an endless
    stream that continues from `state()`. Use one iterator at a time; `close()` (or `with`)
    stops its loader processes."""

    def __init__(
        self,
        source: Source,
        global_batch: int,
        rank: int,
        world_size: int,
        seed: int,
        shuffle_buffer: int = 10000,
        num_workers: int = 0,
        process: SampleFn | None = None,
        prefetch: int | None = None,
    ):
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank must lie in [0, world_size). Received: rank={rank}, world_size={world_size}")
        if global_batch < world_size or global_batch % world_size:
            raise ValueError(f"global_batch must be a positive multiple of world_size. "
                             f"Received: global_batch={global_batch}, world_size={world_size}")
        if shuffle_buffer < 0 or num_workers < 0:
            raise ValueError(f"shuffle_buffer and num_workers must be >= 0. "
                             f"Received: shuffle_buffer={shuffle_buffer}, num_workers={num_workers}")
        self.source, self.process = source, process
        self.global_batch, self.rank, self.world_size = int(global_batch), int(rank), int(world_size)
        self.seed, self.shuffle_buffer, self.num_workers = int(seed), int(shuffle_buffer), int(num_workers)
        self.local_batch = self.global_batch // self.world_size
        # Two batches in flight keep the loaders busy while the trainer runs a step.
        self.prefetch = max(1, prefetch if prefetch is not None else 2 * self.local_batch)
        self._consumed, self._epoch, self._epoch_start = 0, 0, 0
        self._epoch_size = 0
        self._active: Iterator | None = None

    @property
    def skips(self) -> SkipCounter:
        return self.source.skips

    def position_of(self, local_index: int) -> int:
        """The global position of this rank's `local_index`-th local-stream ref."""
        chunk, offset = divmod(local_index, self.local_batch)
        return chunk * self.global_batch + self.rank * self.local_batch + offset

    def _global_refs(self, epoch: int, position: int) -> Iterator[tuple[int, int, int, SampleRef, dict[str, int]]]:
        """(position, epoch, epoch's first position, ref, listing skips) of the endless global stream from
        `epoch`. The listing skips are those the listing passed since the ref before (an epoch's last ref also
        takes those after it): they are counted when, and by the rank that, consumes that ref, so each is counted
        once in a run, however far loaders read ahead and however many ranks list."""
        while True:
            start = position
            rng = np.random.default_rng([self.seed, epoch])
            listing = SkipCounter()
            attached: dict[str, int] = {}  # this epoch's listing skips handed to refs so far
            held = None  # one ref held back, so that the skips after the epoch's last ref go with it
            for ref in shuffle_buffer(self.source.refs(self.seed + epoch, skips=listing), self.shuffle_buffer, rng):
                passed = {}
                if listing.total != sum(attached.values()):
                    passed, attached = _minus(listing.as_dict(), attached), listing.as_dict()
                if held is not None:
                    yield held
                    position += 1
                held = (position, epoch, start, ref, passed)
            if held is None:
                raise ValueError(f"The dataset must yield usable samples. Received: path={self.source.path!r}, "
                                 f"epoch {epoch} listed none, skips={listing.as_dict()}")
            yield (*held[:4], _plus(held[4], _minus(listing.as_dict(), attached)))
            position += 1
            self._epoch_size = position - start
            epoch += 1

    def _local_refs(self) -> Iterator[tuple[int, int, int, SampleRef, dict[str, int]]]:
        target = self.position_of(self._consumed)
        low, high = self.rank * self.local_batch, (self.rank + 1) * self.local_batch
        for item in self._global_refs(self._epoch, self._epoch_start):
            if item[0] >= target and low <= item[0] % self.global_batch < high:
                yield item

    def __iter__(self) -> Iterator[list[Sample]]:
        self.close()
        self._active = self._batches()
        return self._active

    def _batches(self) -> Iterator[list[Sample]]:
        decoder = _Decoder(self.source, self.process, self.seed)
        pool = None
        if self.num_workers:
            # spawn: safe beside threads (torch, tf) and the same on every platform.
            context = multiprocessing.get_context("spawn")
            pool = context.Pool(self.num_workers, initializer=_init_worker, initargs=(decoder,))
        refs, pending = self._local_refs(), deque()
        batch: list[Sample] = []
        failures = 0
        try:
            while True:
                while len(pending) < (self.prefetch if pool else 1):
                    item = next(refs)
                    job = (item[3], item[1], item[0])
                    pending.append((item, pool.apply_async(_decode_in_worker, (job,)) if pool else job))
                (position, epoch, start, ref, passed), handle = pending.popleft()
                for reason, n in passed.items():  # the listing's skips before this ref: this rank's to count
                    self.skips.count(reason, n)
                ok, value = handle.get() if pool else decoder(handle)
                self._consumed, self._epoch, self._epoch_start = self._consumed + 1, epoch, start
                if not ok:
                    self.skips.count(value)
                    failures += 1
                    if failures >= self._epoch_size > 0:
                        raise ValueError(
                            f"The dataset must yield samples that decode and prepare (image, nouns). Received: "
                            f"path={self.source.path!r}, "
                            f"{failures} samples in a row failed, skips={self.skips.as_dict()}")
                    continue
                failures = 0
                batch.append(Sample(ref, epoch, position, value))
                if len(batch) == self.local_batch:
                    yield batch
                    batch = []
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()

    def close(self) -> None:
        """Stop the running iterator and its loader processes (the position is kept)."""
        if self._active is not None:
            self._active.close()
            self._active = None

    def __enter__(self) -> SampleStream:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def state(self) -> dict[str, int]:
        """JSON-serialisable position of this rank: local-stream refs consumed (decoded or skipped), the
        epoch of the last one and that epoch's first global position. Each rank saves its own."""
        config = {name: getattr(self, name) for name in _STATE_CONFIG}
        return {"consumed": self._consumed, "epoch": self._epoch, "epoch_start": self._epoch_start,
                "next_position": self.position_of(self._consumed), **config}

    def restore(self, state: dict[str, int], skipped: dict[str, int] | None = None) -> None:
        """Continue from `state()`: the next batch lists (without decoding or counting) from the saved epoch's
        start. `skipped`: the skip counts saved with the state (`skips.as_dict()`), which the run's counts
        continue from (a listing skip is counted with the ref after it, so none before the saved position is
        counted again; from a state written before that rule the skips its loaders had read ahead are counted
        twice, and on ranks above 0 a missing image found by the listing)."""
        missing = [k for k in ("consumed", "epoch", "epoch_start", *_STATE_CONFIG) if k not in state]
        if missing:
            raise ValueError(f"The stream state must hold {missing}. Received: keys={sorted(state)}")
        differing = {k: (state[k], getattr(self, k)) for k in _STATE_CONFIG if state[k] != getattr(self, k)}
        if differing:
            raise ValueError(f"The stream state must come from the same rank and settings "
                             f"(saved, current). Received: {differing}")
        self.close()
        self._consumed, self._epoch, self._epoch_start = (int(state[k]) for k in ("consumed", "epoch", "epoch_start"))
        if skipped is not None:
            if "listing_skips" in state and self.rank > 0:
                # A state saved before 2026-12-08 counted the listing's skips on every rank; a run's count is now
                # the ranks' sum, so only rank 0 keeps those of reasons only the listing counts.
                skipped = {k: n for k, n in skipped.items() if k not in LISTING_ONLY_REASONS}
            self.skips.restore(skipped)

    def num_samples(self) -> int:
        """Usable refs in one epoch, by listing only (undecodable images still count)."""
        listing = SkipCounter()  # a scratch counter: counting an epoch is not reading it
        count = sum(1 for _ in self.source.refs(self.seed, skips=listing))
        if count == 0:
            raise ValueError(f"The dataset must yield usable samples. Received: path={self.source.path!r}, "
                             f"skips={listing.as_dict()}")
        return count
