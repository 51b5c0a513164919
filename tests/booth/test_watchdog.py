"""The watchdog brings back a killed app within 5 s and a hung one within 15 s (a tiny fake child).

The child beats (rewrites the heartbeat file) every 0.5 s; told to hang by a flag file, it stops
beating but stays alive. Each start is recorded with its pid and time; the test waits for events
with deadlines (the numbers the issue asks for), never sleeps-then-asserts.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ola_core.booth.watchdog import Watchdog

CHILD = textwrap.dedent(
    """
    import os, pathlib, sys, time
    beat = pathlib.Path(os.environ["OLA_BOOTH_HEARTBEAT"])
    hang, done = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    while not done.exists():
        if not hang.exists():
            beat.write_text(str(time.time()))
        time.sleep(0.5)
    sys.exit(0)
    """
)


class Starts:
    def __init__(self) -> None:
        self.items: list[tuple[int, float]] = []
        self.cond = threading.Condition()

    def __call__(self, pid: int) -> None:
        with self.cond:
            self.items.append((pid, time.monotonic()))
            self.cond.notify_all()

    def wait_count(self, n: int, timeout: float) -> tuple[int, float]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= n, timeout), (
                f"start {n} not within {timeout} s"
            )
            return self.items[n - 1]


@pytest.fixture
def running(tmp_path: Path):  # type: ignore[no-untyped-def]
    script, hang, done = tmp_path / "child.py", tmp_path / "hang", tmp_path / "done"
    script.write_text(CHILD)
    starts = Starts()
    dog = Watchdog(
        [sys.executable, str(script), str(hang), str(done)],
        tmp_path / "health.json",
        hang_s=10.0,
        startup_s=10.0,
        on_start=starts,
    )
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(dog.run()), daemon=True)
    thread.start()
    yield dog, starts, hang, done
    done.touch()
    dog.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_a_killed_app_is_back_within_5_s(running) -> None:  # type: ignore[no-untyped-def]
    _, starts, _, _ = running
    pid, _ = starts.wait_count(1, 10)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    new_pid, started = starts.wait_count(2, 5)
    assert new_pid != pid and started - killed_at < 5.0


def test_a_hung_app_is_back_within_15_s(running) -> None:  # type: ignore[no-untyped-def]
    _, starts, hang, _ = running
    pid, _ = starts.wait_count(1, 10)
    hung_at = time.monotonic()
    hang.touch()  # alive, but no more heartbeats
    new_pid, started = starts.wait_count(2, 15)
    hang.unlink()
    assert new_pid != pid and started - hung_at < 15.0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the hung one was ended, not left behind


def test_a_clean_exit_ends_the_watchdog(tmp_path: Path) -> None:
    dog = Watchdog([sys.executable, "-c", "pass"], tmp_path / "health.json")
    assert dog.run() == 0 and len(dog.restarts) == 0


def test_a_problem_no_restart_cures_ends_the_watchdog(tmp_path: Path) -> None:
    dog = Watchdog([sys.executable, "-c", "raise SystemExit(2)"], tmp_path / "health.json")
    assert dog.run() == 2 and len(dog.restarts) == 0


def test_a_crash_loop_gives_up(tmp_path: Path) -> None:
    dog = Watchdog(
        [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "health.json", max_restarts_per_hour=2
    )
    assert dog.run() == 1 and len(dog.restarts) == 3
