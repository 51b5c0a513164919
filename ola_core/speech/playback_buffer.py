"""What the player keeps besides its stream: the played signal (echo reference) and the
resampler that keeps each marker at its exact sample.

Split out of :mod:`ola_core.speech.player` so that the player module is about the stream and
its timing; these are plain data structures, used only under the player's lock or its callback.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

import numpy as np
import soxr

__all__ = ["Audio", "End", "Item", "Mark", "MarkedResampler", "PlayedAudio", "PlayedSignal"]


@dataclass(frozen=True)
class PlayedAudio:
    """A stretch of what was sent to the speaker."""

    pcm: np.ndarray  # (n,) float32 mono, after volume
    sample_rate: int
    start_index: int  # index of pcm[0] in the stream of everything ever played
    t_start: float  # time.monotonic() when pcm[0] reached the DAC


class PlayedSignal:
    """Ring buffer of the mono signal sent to the device, with the DAC time of each block.

    Written by the audio callback only; read by any thread (an echo canceller keeps a cursor and
    calls :meth:`read` with it).
    """

    def __init__(self, sample_rate: int, seconds: float) -> None:
        self.sample_rate = sample_rate
        self._ring = np.zeros(max(1, int(sample_rate * seconds)), np.float32)
        self._written = 0  # samples ever written
        self._anchors: collections.deque[tuple[int, float]] = collections.deque(maxlen=4096)  # (index, t)
        self._lock = threading.Lock()

    @property
    def written(self) -> int:
        return self._written

    def write(self, block: np.ndarray, t0: float) -> None:
        size = len(self._ring)
        n = min(len(block), size)
        with self._lock:
            start = self._written % size
            first = min(n, size - start)
            self._ring[start : start + first] = block[-n:][:first]
            self._ring[: n - first] = block[-n:][first:]
            self._anchors.append((self._written, t0))
            self._written += len(block)

    def read(self, since: int = 0) -> PlayedAudio:
        """Everything written from sample index ``since`` (clamped to what the ring still holds)."""
        with self._lock:
            size = len(self._ring)
            start = max(since, self._written - size, 0)
            count = self._written - start
            first = start % size
            pcm = np.concatenate(
                [self._ring[first : first + count], self._ring[: max(0, first + count - size)]]
            )
            t_start = self._time_of(start)
        return PlayedAudio(pcm, self.sample_rate, start, t_start)

    def latest(self, seconds: float) -> PlayedAudio:
        return self.read(self._written - int(seconds * self.sample_rate))

    def _time_of(self, index: int) -> float:
        for anchor_index, anchor_t in reversed(self._anchors):
            if anchor_index <= index:
                return anchor_t + (index - anchor_index) / self.sample_rate
        return float("nan")


@dataclass
class Audio:
    pcm: np.ndarray  # (n,) float32 at the device rate


@dataclass(frozen=True)
class Mark:
    marker: object


@dataclass(frozen=True)
class End:
    marker: object


Item = Audio | Mark | End


class MarkedResampler:
    """Resamples one source rate to the device rate, keeping markers at their exact sample.

    A streaming resampler holds back a few milliseconds of output, so "after the resampled
    output of chunk k" is not where chunk k+1 starts; markers are placed at source position ×
    rate ratio instead, inside whichever later output reaches that position.
    """

    def __init__(self, source_rate: int, device_rate: int) -> None:
        self.source_rate = source_rate
        self.ratio = device_rate / source_rate
        self._stream = (
            None
            if source_rate == device_rate
            else soxr.ResampleStream(source_rate, device_rate, 1, dtype="float32", quality="HQ")
        )
        self._fed = 0  # source samples in
        self._made = 0  # device-rate samples out
        self._marks: collections.deque[tuple[int, object]] = collections.deque()  # (output index, marker)

    def convert(self, pcm: np.ndarray, marker: object = None) -> list[Item]:
        if marker is not None:
            self._marks.append((round(self._fed * self.ratio), marker))
        self._fed += len(pcm)
        out = pcm.copy() if self._stream is None else self._stream.resample_chunk(pcm)
        return self._place(out)

    def finish(self) -> list[Item]:
        """The resampler's tail, and any marker not yet reached."""
        tail = (
            np.zeros(0, np.float32)
            if self._stream is None
            else self._stream.resample_chunk(np.zeros(0, np.float32), last=True)
        )
        items = self._place(tail)
        items += [Mark(marker) for _, marker in self._marks]
        self._marks.clear()
        return items

    def _place(self, out: np.ndarray) -> list[Item]:
        items: list[Item] = []
        cursor = 0
        while self._marks and self._marks[0][0] <= self._made + len(out):
            cut = max(0, self._marks[0][0] - self._made)
            if cut > cursor:
                items.append(Audio(out[cursor:cut]))
            cursor = max(cursor, cut)
            items.append(Mark(self._marks.popleft()[1]))
        if cursor < len(out):
            items.append(Audio(out[cursor:]))
        self._made += len(out)
        return items
