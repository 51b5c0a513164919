"""A reload while a load runs: the old load is cancelled and the new one waits for it on its own
thread, so the assistant's loop never blocks on a reload."""

from __future__ import annotations

import threading
import time
from typing import Any

from ola_core.assistant.loading import start_loading
from ola_core.assistant.messages import Loaded, LoadFailed
from ola_core.errors import GenerationError


class SlowEngine:
    """Loads until cancelled (or released); records when each load started and ended."""

    description = "slow test engine"

    def __init__(self, log: list[str], name: str, release: threading.Event) -> None:
        self.log, self.name, self.release = log, name, release
        self.loaded = False

    def load(self, progress: Any = None, cancel: threading.Event | None = None) -> None:
        self.log.append(f"{self.name} start")
        while not self.release.is_set():
            if cancel is not None and cancel.wait(0.01):
                self.log.append(f"{self.name} cancelled")
                raise GenerationError("cancelled")
        self.loaded = True
        self.log.append(f"{self.name} end")

    def warm_up(self) -> None:
        pass


def test_a_reload_does_not_block_and_starts_after_the_cancelled_load() -> None:
    log: list[str] = []
    results: list[Loaded | LoadFailed] = []
    old_cancel, release_old = threading.Event(), threading.Event()
    old = start_loading(
        SlowEngine(log, "old", release_old),  # type: ignore[arg-type]
        None,
        progress=lambda *_: None,
        on_speech_error=lambda _: None,
        post=results.append,
        cancel=old_cancel,
    )
    deadline = time.monotonic() + 5
    while log != ["old start"] and time.monotonic() < deadline:
        time.sleep(0.005)

    # What the loop does on a reload: cancel the old load, start the new one "after" it.
    release_old.set()  # the old load ignores the cancel for a moment: it finishes its step first
    old_cancel.set()
    release_new = threading.Event()
    t0 = time.monotonic()
    new = start_loading(
        SlowEngine(log, "new", release_new),  # type: ignore[arg-type]
        None,
        progress=lambda *_: None,
        on_speech_error=lambda _: None,
        post=results.append,
        cancel=threading.Event(),
        after=old,
    )
    assert time.monotonic() - t0 < 0.05  # returns at once: nothing waits on the caller's thread
    old.join(5)
    deadline = time.monotonic() + 5
    while "new start" not in log and time.monotonic() < deadline:
        time.sleep(0.005)
    assert log[0] == "old start" and log.index("new start") > log.index(log[1])  # old ended first
    assert log[1] in ("old end", "old cancelled")
    assert new.is_alive()  # the new load runs (until cancelled or released)
    assert len(results) == 1  # the old load's outcome only
    release_new.set()
    new.join(5)
    assert isinstance(results[-1], Loaded)
