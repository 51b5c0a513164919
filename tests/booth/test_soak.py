"""A booth soak: many typed turns with a reset every 5, on the real assistant (tiny checkpoint, the
offline espeak voice synthesising every answer into memory). Memory stays flat and no thread or
file handle is left behind by the turns or the resets.

The issue's 500 turns: one turn here costs ~0.12 s on a shared 2-core machine (about a minute in
all); ``OLA_BOOTH_SOAK_TURNS`` changes the number (a longer soak before a fair, a quick look).
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from ola_core.booth.config import BoothConfig, LimitsSection
from ola_core.booth.session import BoothSession, booth_settings
from ola_core.booth.wordfilter import WordFilter
from ola_core.events import TurnFinished
from tests.assistant.conftest import fast_settings, make_session

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for RSS, threads and fds"),
]
TURNS = int(os.environ.get("OLA_BOOTH_SOAK_TURNS", "500"))
WARM_UP = 25  # allocator pools and caches settle over the first turns
RSS_LIMIT = 64 * 2**20


def process_numbers() -> tuple[int, int, int]:
    """(RSS bytes, OS threads, open file descriptors) of this process, from /proc."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split(":")[1].split() for line in status if ":" in line}
    return int(fields["VmRSS"][0]) * 1024, int(fields["Threads"][0]), len(os.listdir("/proc/self/fd"))


def settled(baseline: tuple[int, int, int], timeout: float = 10.0) -> tuple[int, int, int]:
    """The numbers once the threads of the last turn have ended (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    numbers = process_numbers()
    while time.monotonic() < deadline and (numbers[1] > baseline[1] or numbers[2] > baseline[2]):
        time.sleep(0.05)
        numbers = process_numbers()
    return numbers


def test_booth_turns_with_resets_stay_flat(loaded, tiny_checkpoint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = BoothConfig(limits=LimitsSection(max_answer_tokens=8, turns_per_minute=120))
    settings = booth_settings(fast_settings(tiny_checkpoint), config)
    settings = settings.replace(vision=settings.vision.__class__())  # no camera on a CI machine
    session = make_session(loaded, tiny_checkpoint, settings, answer_filter=WordFilter(["zebra"]))
    ticks = itertools.count(0.0, 61.0)  # a minute between questions: the rate limit never refuses
    booth = BoothSession(session.assistant, config, clock=lambda: next(ticks))
    session.start(timeout=120)
    started = time.monotonic()
    try:
        baseline: tuple[int, int, int] | None = None
        python_threads = 0
        for turn in range(TURNS):
            if turn == WARM_UP:
                gc.collect()
                baseline = process_numbers()
                python_threads = threading.active_count()
            mark = session.mark()
            assert booth.ask(f"Question {turn}: what is {turn} plus one?")
            finished = session.wait_for(lambda e: isinstance(e, TurnFinished), 60, after=mark)
            assert finished is not None, f"turn {turn} did not finish"
            assert session.assistant.wait_idle(30)
            if turn % 5 == 4:
                booth.start_over()
                assert session.assistant.wait_idle(30)
            with session._cond:  # the harness's own record of events, not the assistant's: not measured
                session.events.clear()
        assert baseline is not None
        gc.collect()
        rss, threads, fds = settled(baseline)
        grown = rss - baseline[0]
        print(
            f"{TURNS} turns in {time.monotonic() - started:.0f} s; RSS {grown / 2**20:+.1f} MiB, "
            f"threads {baseline[1]}→{threads}, fds {baseline[2]}→{fds}"
        )
        assert grown <= RSS_LIMIT, f"RSS grew {grown / 2**20:.1f} MiB over {TURNS - WARM_UP} turns"
        assert threads <= baseline[1] and threading.active_count() <= python_threads
        assert fds <= baseline[2]
        assert booth.resets == TURNS // 5
    finally:
        booth.close()
        session.close()
