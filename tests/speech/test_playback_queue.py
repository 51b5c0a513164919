"""The player's queue: the start-up buffer, and which silences count as underruns."""

from __future__ import annotations

import numpy as np

from ola_core.speech.playback_buffer import Audio, End, Mark
from ola_core.speech.playback_queue import PlaybackQueue

RATE = 1000  # samples per second: 10 samples = 10 ms


def _block(queue: PlaybackQueue, now: float, frames: int = 10) -> tuple[np.ndarray, list[object]]:
    block = np.full(frames, np.nan, np.float32)
    reached = queue.fill(block, RATE, now)
    return block, [item.marker for item, _ in reached]


def test_a_short_first_chunk_waits_for_more_up_to_the_prebuffer_time() -> None:
    queue = PlaybackQueue(prebuffer_s=0.05)
    queue.extend([Mark("first"), Audio(np.ones(20, np.float32))])  # 20 ms < 50 ms
    block, marks = _block(queue, now=0.0)
    assert not block.any() and marks == []  # held: silence, the marker not reached
    queue.extend([Audio(np.ones(40, np.float32))])  # 60 ms queued: plays
    block, marks = _block(queue, now=0.01)
    assert block.all() and marks == ["first"]
    assert queue.underruns == 0 and queue.starved_samples == 0


def test_the_hold_ends_after_the_prebuffer_time_or_at_the_end_of_the_utterance() -> None:
    queue = PlaybackQueue(prebuffer_s=0.05)
    queue.extend([Audio(np.ones(20, np.float32))])
    assert not _block(queue, now=1.0)[0].any()
    assert not _block(queue, now=1.04)[0].any()
    assert _block(queue, now=1.05)[0].all()  # waited long enough
    other = PlaybackQueue(prebuffer_s=0.05)
    other.extend([Audio(np.ones(5, np.float32)), End("done")])  # a whole (short) utterance
    block, marks = _block(other, now=0.0)
    assert block[:5].all() and not block[5:].any() and marks == ["done"]
    assert other.underruns == 0  # silence after the end is no gap


def test_running_dry_inside_an_utterance_is_counted_and_buffers_again() -> None:
    queue = PlaybackQueue(prebuffer_s=0.02)
    queue.extend([Audio(np.ones(25, np.float32))])
    _block(queue, now=0.0)
    _block(queue, now=0.01)
    block, _ = _block(queue, now=0.02)  # 5 samples left, then dry
    assert block[:5].all() and not block[5:].any()
    assert queue.underruns == 1 and queue.starved_samples == 5
    queue.extend([Audio(np.ones(10, np.float32))])  # less than the buffer: held (still a gap)
    assert not _block(queue, now=0.03)[0].any()
    assert queue.underruns == 1 and queue.starved_samples == 15
    queue.extend([Audio(np.ones(30, np.float32)), End(None)])
    assert _block(queue, now=0.04)[0].all()
    queue.clear()
    assert queue.empty and not _block(queue, now=0.05)[0].any() and queue.underruns == 1
