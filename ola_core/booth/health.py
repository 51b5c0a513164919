"""What the booth tells its operator: a daily log of counts and latencies, and a health file.

Neither ever holds a visitor's words: :class:`DailyLog` takes only numbers and fixed words from a
:class:`~ola_core.trace.TurnTrace` (its ``caption`` field is never read), and the health file says
whether the app is alive, what model runs and today's totals. The health file doubles as the
watchdog's heartbeat: the window rewrites it from its GUI thread every ``heartbeat_s``, so a hung
GUI stops the heartbeat and the watchdog restarts the app.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ola_core.settings import data_dir
from ola_core.trace import TurnTrace

HEALTH_FILE = "health.json"
HEARTBEAT_ENV = "OLA_BOOTH_HEARTBEAT"  # the watchdog tells the app where to beat


def log_dir(configured: str) -> Path:
    return Path(configured).expanduser() if configured else data_dir() / "booth-logs"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Temp file + rename: a reader (the operator, the watchdog) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class DailyLog:
    """``booth-YYYY-MM-DD.json`` in ``folder``: turn counts by kind and outcome, resets by reason,
    latency summaries (seconds). Rewritten after each record; a new day starts a new file."""

    def __init__(self, folder: Path, today: Callable[[], datetime.date] = datetime.date.today) -> None:
        self.folder = folder
        self._today = today
        self._lock = threading.Lock()
        self._day: datetime.date | None = None
        self._counts: dict[str, int] = {}
        self._latency: dict[str, list[float]] = {}

    @property
    def path(self) -> Path:
        return self.folder / f"booth-{self._today().isoformat()}.json"

    def record_turn(self, trace: TurnTrace) -> None:
        """One finished turn: its kind, outcome, and how long the visitor waited (no content)."""
        with self._lock:
            self._roll()
            self._count(f"turns_{trace.kind}")
            self._count(f"outcome_{trace.outcome}")
            start = trace.t_endpoint if trace.t_endpoint is not None else trace.t_turn_start
            for name, end in (
                ("first_token_s", trace.t_first_token),
                ("first_audio_s", trace.t_first_played),
            ):
                if start is not None and end is not None:
                    self._latency.setdefault(name, []).append(max(0.0, end - start))
            if trace.t_turn_start is not None and trace.t_end is not None:
                self._latency.setdefault("turn_s", []).append(max(0.0, trace.t_end - trace.t_turn_start))
            self._write()

    def record_reset(self, reason: str) -> None:
        with self._lock:
            self._roll()
            self._count(f"resets_{reason}")
            self._write()

    def summary(self) -> dict[str, Any]:
        with self._lock:
            self._roll()
            return self._summary()

    def _count(self, key: str) -> None:
        self._counts[key] = self._counts.get(key, 0) + 1

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            self._day, self._counts, self._latency = day, {}, {}

    def _summary(self) -> dict[str, Any]:
        latencies = {
            name: {
                "n": len(values),
                "mean": round(statistics.fmean(values), 3),
                "p50": round(statistics.median(values), 3),
                "p90": round(sorted(values)[int(0.9 * (len(values) - 1))], 3),
                "max": round(max(values), 3),
            }
            for name, values in self._latency.items()
            if values
        }
        return {
            "date": self._day.isoformat() if self._day else "",
            "counts": dict(self._counts),
            "latency": latencies,
        }

    def _write(self) -> None:
        with contextlib.suppress(OSError):  # a full disk must not stop the booth
            write_json_atomic(self.path, self._summary())


class HealthFile:
    """``health.json``: alive-at, state, model, uptime and today's counts; also the heartbeat."""

    def __init__(self, path: Path, daily: DailyLog | None = None) -> None:
        self.path = path
        self._daily = daily
        self._started = time.time()
        self.state = "starting"
        self.model = ""
        self.last_error = ""  # an error's class name, never its message (it may quote the visitor)

    def beat(self) -> None:
        data = {
            "pid": os.getpid(),
            "alive_at": time.time(),
            "uptime_s": round(time.time() - self._started, 1),
            "state": self.state,
            "model": self.model,
            "last_error": self.last_error,
            "today": self._daily.summary()["counts"] if self._daily is not None else {},
        }
        with contextlib.suppress(OSError):
            write_json_atomic(self.path, data)
