"""RecordingSink: keep the spoken answer as audio (a wav for ``replay``), playing it or not.

It stands where the :class:`~ola_core.speech.player.AudioPlayer` stands in the pipeline. With a
player it plays through it and forwards its events, so timings stay those of the real speaker;
without one, a chunk counts as "started" when it is written, and the answer "finished" at its
end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soxr

from ola_core.cancel import CancelToken
from ola_core.speech.pipeline import RenderedSpeech
from ola_core.speech.player import AudioPlayer, ChunkStarted, PlaybackFinished, PlayerEvent

__all__ = ["RecordingSink"]


class RecordingSink:
    """Records everything played (at the rate of the first chunk), optionally playing it too."""

    def __init__(self, player: AudioPlayer | None = None) -> None:
        self.player = player
        self.on_event: Callable[[PlayerEvent], None] | None = None
        self._parts: list[np.ndarray] = []
        self._samples = 0
        self._rate: int | None = None
        self._marks: list[tuple[object, float]] = []  # (marker, start in seconds)
        self._lock = threading.Lock()
        if player is not None:
            player.on_event = self._forward

    def play(
        self, pcm: np.ndarray, sample_rate: int, marker: object = None, cancel: CancelToken | None = None
    ) -> None:
        pcm = np.asarray(pcm, np.float32).reshape(-1)
        with self._lock:
            rate = self._rate = self._rate or sample_rate
            if marker is not None:
                self._marks.append((marker, self._samples / rate))
            kept = pcm if sample_rate == rate else soxr.resample(pcm, sample_rate, rate)
            self._parts.append(kept)
            self._samples += len(kept)
        if self.player is not None:
            self.player.play(pcm, sample_rate, marker, cancel)
        elif marker is not None and not (cancel is not None and cancel.is_set()):
            self._forward(ChunkStarted(marker, time.monotonic()))

    def end(self, marker: object = None, cancel: CancelToken | None = None) -> None:
        if self.player is not None:
            self.player.end(marker, cancel)
        elif not (cancel is not None and cancel.is_set()):
            self._forward(PlaybackFinished(marker, time.monotonic()))

    def stop(self) -> None:
        """Stops the player; what was recorded so far is kept."""
        if self.player is not None:
            self.player.stop()

    def close(self) -> None:
        if self.player is not None:
            self.player.close()

    def rendered(self) -> RenderedSpeech:
        """Everything recorded so far; sentences are the markers that carry an index and a text."""
        with self._lock:
            pcm = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
            sentences = [
                (int(getattr(m, "index")), str(getattr(m, "text")), start)  # noqa: B009
                for m, start in self._marks
                if hasattr(m, "index") and hasattr(m, "text")
            ]
            return RenderedSpeech(pcm, self._rate or 24_000, sentences)

    def save(self, path: Path | str) -> None:
        self.rendered().write_wav(path)

    def clear(self) -> None:
        with self._lock:
            self._parts, self._samples, self._marks = [], 0, []

    def _forward(self, event: PlayerEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
