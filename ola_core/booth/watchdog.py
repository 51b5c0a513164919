"""Keeps the booth app running all day: restarts it when it crashes and when it hangs.

The watchdog starts the app as a child process and tells it, in ``OLA_BOOTH_HEARTBEAT``, which
file to rewrite every few seconds (the health file). It restarts the child

* at once when the child ends with a non-zero status or a signal (a crash): back within 5 s;
* when the heartbeat file is older than ``hang_s`` (10 s): the child is killed and restarted,
  back within 15 s. Until its first beat the child gets ``startup_s`` (loading Qt and the window).

The child ending with status 0 (the operator left with the PIN) ends the watchdog too, and so does
status 2 (a problem no restart cures: no model installed, a bad config; the child said why). Restarts
are counted; more than ``max_restarts_per_hour`` means something is broken for good, and the
watchdog gives up with status 1 rather than thrash.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from ola_core.booth.health import HEARTBEAT_ENV

log = logging.getLogger(__name__)


class Watchdog:
    """Run ``command`` and keep it running; see the module docstring."""

    def __init__(
        self,
        command: Sequence[str],
        heartbeat: Path,
        *,
        hang_s: float = 10.0,
        startup_s: float = 60.0,
        poll_s: float = 0.2,
        max_restarts_per_hour: int = 30,
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        self.command = list(command)
        self.heartbeat = heartbeat
        self.hang_s = hang_s
        self.startup_s = startup_s
        self.poll_s = poll_s
        self.max_restarts_per_hour = max_restarts_per_hour
        self.on_start = on_start  # called with each child's pid (tests, the log)
        self.restarts: deque[float] = deque()
        self.child: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """End the watchdog and its child (from another thread or a signal handler)."""
        self._stop.set()

    def run(self) -> int:
        """Supervise until the child exits cleanly, ``stop`` is called, or restarts run away."""
        try:
            while not self._stop.is_set():
                status = self._run_child()
                if self._stop.is_set():
                    return 0
                if status in (0, 2):
                    return status
                now = time.monotonic()
                self.restarts.append(now)
                while self.restarts and now - self.restarts[0] > 3600:
                    self.restarts.popleft()
                if len(self.restarts) > self.max_restarts_per_hour:
                    log.error("booth restarted %d times within an hour; giving up", len(self.restarts))
                    return 1
            return 0
        finally:
            self._end_child()

    def _run_child(self) -> int | None:
        """Start the child and watch it; its exit status, or None when it hung and was killed."""
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        self.heartbeat.unlink(missing_ok=True)  # a beat from the previous child must not count
        env = {**os.environ, HEARTBEAT_ENV: str(self.heartbeat)}
        self.child = subprocess.Popen(self.command, env=env)
        started = time.monotonic()
        if self.on_start is not None:
            self.on_start(self.child.pid)
        log.info("booth app started (pid %d)", self.child.pid)
        while not self._stop.wait(self.poll_s):
            status = self.child.poll()
            if status is not None:
                if status != 0:
                    log.warning("booth app ended with status %d; restarting", status)
                return status
            if self._hung(started):
                log.warning("booth app sent no heartbeat for %.0f s; restarting it", self.hang_s)
                self._end_child()
                return None
        return 0

    def _hung(self, started: float) -> bool:
        try:
            age = time.time() - self.heartbeat.stat().st_mtime
        except FileNotFoundError:
            return time.monotonic() - started > self.startup_s
        return age > self.hang_s

    def _end_child(self) -> None:
        child, self.child = self.child, None
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(1.0)
        except subprocess.TimeoutExpired:
            child.kill()  # a hung process may ignore SIGTERM
            child.wait(5.0)
