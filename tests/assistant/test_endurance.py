"""200 consecutive replayed spoken turns: threads, file handles and memory stay bounded.

Every spoken turn pays the tiny model's speech encoders on a whole 30 s chunk (~0.5 s on a free
core), so this is the slowest test (2–4 min on a 2-core CI machine). The bounds are per run, not
per turn, so a leak of one thread, handle or buffer per turn still fails.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import threading

import pytest

from ola_core.model.loading import LoadedOla
from ola_core.model.tiny import TinyCheckpoint
from tests.assistant.conftest import fast_settings, make_session, speak

TURNS = 200
WARM_UP = 20  # turns before the baseline: allocator pools, thread pools and caches settle
CONVERSATION = 10  # turns per conversation: a long conversation's context (bounded by the engine's
# context budget, tested there) would make every turn slower and blur what this test measures


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _census() -> tuple[int, int, int]:
    gc.collect()
    return threading.active_count(), len(os.listdir("/proc/self/fd")), _rss_bytes()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_200_replayed_turns_do_not_leak(loaded: LoadedOla, tiny_checkpoint: TinyCheckpoint) -> None:
    settings = fast_settings(tiny_checkpoint, end_of_turn_silence_ms=200)
    settings = settings.replace(generation=dataclasses.replace(settings.generation, max_new_tokens=2))
    session = make_session(loaded, tiny_checkpoint, settings, replay_speed=4.0)
    session.start(timeout=120)
    utterance = speak("Hi there.")
    try:
        baseline = None
        for turn in range(TURNS):
            if turn % CONVERSATION == 0:
                session.assistant.reset()
            if turn == WARM_UP:
                baseline = _census()
            finished = session.ask_spoken(utterance, timeout=60)
            assert finished is not None and finished.outcome == "completed", (turn, session.errors[-1:])
        assert baseline is not None
        threads, fds, rss = _census()
        assert threads <= baseline[0] + 2, (baseline, threads)
        assert fds <= baseline[1] + 4, (baseline, fds)
        assert rss <= baseline[2] + 128 * 2**20, f"RSS grew {(rss - baseline[2]) / 2**20:.0f} MiB"
        assert not session.errors
    finally:
        session.close()
