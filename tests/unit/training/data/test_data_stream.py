import json

import numpy as np
import pytest
from data_helpers import write_folder, write_shards

from groupvit.training.data import SampleStream, open_source, shuffle_buffer

STEPS = 5  # 12 samples at global batch 4: three steps an epoch, so steps 3 and 4 are in epoch 1


def _steps(stream, steps=STEPS):
    iterator = iter(stream)
    batches = [next(iterator) for _ in range(steps)]
    stream.close()
    return batches


def _rows(batch):
    return [(s.position, s.epoch, s.ref.key) for s in batch]


@pytest.fixture(params=["jsonl", "tar"])
def dataset(request, tmp_path):
    if request.param == "jsonl":
        return write_folder(tmp_path, 12)
    write_shards(tmp_path, 12, 3)
    return str(tmp_path)


def test_shuffle_buffer_is_a_seeded_permutation():
    items = list(range(50))
    first = list(shuffle_buffer(items, 8, np.random.default_rng([0, 0])))
    assert sorted(first) == items and first != items
    assert first == list(shuffle_buffer(items, 8, np.random.default_rng([0, 0])))
    assert first != list(shuffle_buffer(items, 8, np.random.default_rng([0, 1])))
    assert list(shuffle_buffer(items, 0, np.random.default_rng(0))) == items


def test_ranks_slice_the_single_process_batch(dataset):
    single = _steps(SampleStream(open_source(dataset), 4, 0, 1, seed=3, shuffle_buffer=5))
    ranks = [_steps(SampleStream(open_source(dataset), 4, r, 2, seed=3, shuffle_buffer=5)) for r in range(2)]
    for step in range(STEPS):
        assert [s.position for s in single[step]] == list(range(4 * step, 4 * step + 4))
        assert _rows(ranks[0][step]) + _rows(ranks[1][step]) == _rows(single[step])
        for a, b in zip(ranks[0][step] + ranks[1][step], single[step]):
            np.testing.assert_array_equal(a.value, b.value)
    assert {s.epoch for s in single[3]} == {1}
    # Each epoch is a permutation of the whole dataset, and epochs are shuffled differently.
    epoch0, epoch1 = ([s.ref.key for b in part for s in b] for part in (single[:3], single[3:]))
    assert len(set(epoch0)) == 12 and epoch1 != epoch0[:8]


def test_a_rank_skips_an_undecodable_sample_and_takes_its_next_local_ref(tmp_path):
    folder = write_folder(tmp_path, 12)
    (tmp_path / "images" / "002.png").write_bytes(b"corrupt")
    source = open_source(folder)
    batches = _steps(SampleStream(source, 4, 0, 2, seed=0, shuffle_buffer=0), 2)
    # Rank 0 owns positions 0, 1, 4, 5, 8, 9, ...; the shuffle is off, so position p is row p.
    assert [s.position for b in batches for s in b] == [0, 1, 4, 5]
    assert source.skips.total == 0
    rank_1 = open_source(folder)
    batches = _steps(SampleStream(rank_1, 4, 1, 2, seed=0, shuffle_buffer=0), 2)
    assert [s.position for b in batches for s in b] == [3, 6, 7, 10]
    assert rank_1.skips.as_dict() == {"unreadable_image": 1}


def test_restore_continues_like_an_uninterrupted_stream(tmp_path):
    folder = write_folder(tmp_path, 12)
    (tmp_path / "images" / "004.png").write_bytes(b"corrupt")  # a skip makes the local count matter
    def make():
        return SampleStream(open_source(folder), 4, 1, 2, seed=7, shuffle_buffer=4)

    uninterrupted = _steps(make(), 7)
    first = make()
    iterator = iter(first)
    for _ in range(4):
        next(iterator)
    state = json.loads(json.dumps(first.state()))
    first.close()
    resumed = make()
    resumed.restore(state)
    listed, refs = [], resumed.source.refs
    resumed.source.refs = lambda epoch_seed, skips=None: (listed.append(epoch_seed), refs(epoch_seed, skips))[1]
    assert [_rows(b) for b in _steps(resumed, 3)] == [_rows(b) for b in uninterrupted[4:]]
    assert state["epoch"] >= 1 and min(listed) == 7 + state["epoch"]  # earlier epochs are not listed again


@pytest.mark.parametrize("rank", [0, 1])
def test_restored_skip_counts_go_on_as_the_uninterrupted_streams(tmp_path, rank):
    folder = write_folder(tmp_path, 12)
    (tmp_path / "images" / "004.png").write_bytes(b"corrupt")  # counted by the rank that decodes it
    with open(tmp_path / "captions.jsonl", "a", encoding="utf-8") as f:
        f.write("{broken\n")  # counted once per epoch, by the rank that takes the ref after it
    def make():
        return SampleStream(open_source(folder), 4, rank, 2, seed=7, shuffle_buffer=4)

    def skip_counts(stream, steps):
        """The stream's skip counts after each of `steps` batches."""
        iterator, counts = iter(stream), []
        for _ in range(steps):
            next(iterator)
            counts.append(stream.skips.as_dict())
        stream.close()
        return counts

    counts = skip_counts(make(), 7)
    first = make()
    assert skip_counts(first, 4) == counts[:4]
    state, skipped = json.loads(json.dumps(first.state())), first.skips.as_dict()
    resumed = make()
    resumed.restore(state, skipped)
    after = skip_counts(resumed, 3)
    assert after == counts[4:]


def test_restore_refuses_another_rank_or_settings(dataset):
    state = SampleStream(open_source(dataset), 4, 0, 2, seed=0).state()
    with pytest.raises(ValueError, match="same rank and settings"):
        SampleStream(open_source(dataset), 4, 1, 2, seed=0).restore(state)
    with pytest.raises(ValueError, match="must hold"):
        SampleStream(open_source(dataset), 4, 0, 2, seed=0).restore({"consumed": 3})


def test_batch_settings_are_checked(dataset):
    with pytest.raises(ValueError, match="multiple of world_size"):
        SampleStream(open_source(dataset), 5, 0, 2, seed=0)
    with pytest.raises(ValueError, match="rank must lie"):
        SampleStream(open_source(dataset), 4, 2, 2, seed=0)


def test_num_samples_lists_one_epoch_without_counting_skips(tmp_path):
    folder = write_folder(tmp_path, 12)
    (tmp_path / "images" / "003.png").unlink()
    stream = SampleStream(open_source(folder), 4, 0, 1, seed=0)
    assert stream.num_samples() == 11
    assert stream.skips.total == 0


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "loader-reading-ahead"])
def test_each_skip_is_counted_once_by_one_rank_however_far_the_stream_reads_ahead(tmp_path, workers):
    """Listing skips were counted as the listing passed them, by every rank and ahead of use: the counts grew
    with the loaders' read-ahead (--num-workers) and every rank held the same listing skips."""
    from groupvit.training.data.skips import sum_counts

    folder = write_folder(tmp_path, 12)
    (tmp_path / "images" / "006.png").write_bytes(b"corrupt")
    with open(tmp_path / "captions.jsonl", "a", encoding="utf-8") as f:
        f.write("{broken json\n")  # one listing skip an epoch, after its last usable row
    streams = [SampleStream(open_source(folder), 4, r, 2, seed=0, shuffle_buffer=0, num_workers=workers, prefetch=9)
               for r in range(2)]
    for stream in streams:
        _steps(stream, 6)  # 2 x 6 x 2 = 24 positions (+ the replacements of skipped ones): two epochs of 12
    counts = [s.skips.as_dict() for s in streams]
    # No shuffle, 12 usable refs an epoch: each epoch's broken line goes with its last ref, positions 11 and 23
    # (rank 1's, both reached); row 6 is positions 6 and 18 (rank 1's too).
    assert counts == [{}, {"bad_json": 2, "unreadable_image": 2}]
    assert sum_counts(counts) == {"bad_json": 2, "unreadable_image": 2}


def test_a_skip_after_the_last_usable_row_is_counted_by_a_run_that_ends_with_the_epoch(tmp_path):
    """It went with the next epoch's first position, which a run of whole epochs never reaches (shuffle off)."""
    folder = write_folder(tmp_path, 8)
    with open(tmp_path / "captions.jsonl", "a", encoding="utf-8") as f:
        f.write("{broken json\n")
    stream = SampleStream(open_source(folder), 4, 0, 1, seed=0, shuffle_buffer=0)
    _steps(stream, 2)  # exactly one epoch
    assert stream.skips.as_dict() == {"bad_json": 1}


def test_a_state_saved_before_the_counting_rule_keeps_listing_skips_on_rank_0_only(tmp_path):
    """Such states counted every listing skip on every rank; the run's count now sums the ranks."""
    folder = write_folder(tmp_path, 8)
    counts = {"bad_json": 3, "unreadable_image": 1}
    for rank, kept in ((0, counts), (1, {"unreadable_image": 1})):
        stream = SampleStream(open_source(folder), 4, rank, 2, seed=0)
        stream.restore({**stream.state(), "listing_skips": {"bad_json": 1}}, counts)
        assert stream.skips.as_dict() == kept
        fresh = SampleStream(open_source(folder), 4, rank, 2, seed=0)
        fresh.restore(fresh.state(), counts)  # a state of today's rule: every count kept
        assert fresh.skips.as_dict() == counts


def test_loader_processes_leave_ctrl_c_to_the_main_process():
    """Ctrl-C reaches the process group: a loader it killed mid-sample left the main process waiting forever."""
    import signal

    from groupvit.training.data import stream

    previous = signal.getsignal(signal.SIGINT)
    try:
        stream._init_worker(None)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
        stream._WORKER_DECODER = None
