"""The audio waiting to be played, as the output callback drains it: start-up buffer and gap counts.

Split out of :mod:`ola_core.speech.player` (which owns the stream, the clock and the notices);
used only under the player's lock, by its callback and its commands.

Why a start-up buffer: a voice's first chunk can be short (espeak-ng streams 93 ms blocks, a
neural voice's first hop may be small) and the next one late on a loaded CPU; playing the first
chunk at once then stops after it, an audible stutter inside a word. So when playback starts, and
again after the queue ran dry, the queue holds its audio back until ``prebuffer_s`` of it is
queued, or the end of the utterance is queued, or the first chunk has waited ``prebuffer_s``:
at most ``prebuffer_s`` of added latency, paid only when the chunks are short. While it holds,
or when nothing is queued, the callback still writes silence (the device never runs dry); only
silence inside an utterance that was not chosen (the queue ran dry before the utterance's
``End``) counts as an underrun.
"""

from __future__ import annotations

import collections

import numpy as np

from ola_core.speech.playback_buffer import Audio, End, Item, Mark

__all__ = ["PlaybackQueue"]


class PlaybackQueue:
    """Items (audio at the device rate, markers, ends) in play order; see the module docstring."""

    def __init__(self, prebuffer_s: float) -> None:
        self.prebuffer_s = prebuffer_s
        self._items: collections.deque[Item] = collections.deque()
        self._offset = 0  # samples of _items[0] already played
        self._queued = 0  # audio samples queued and not played
        self._playing = False  # audio queued and its End not reached: running dry is a gap
        self._primed = False  # the start-up buffer is filled: play
        self._dry = False  # ran dry inside an utterance: silence until it plays again is a gap
        self._held_since: float | None = None  # when audio first waited for the buffer to fill
        self.underruns = 0  # callback blocks that ran dry inside an utterance
        self.starved_samples = 0  # silence written inside an utterance because nothing was queued

    @property
    def empty(self) -> bool:
        return not self._items

    def extend(self, items: list[Item]) -> None:
        self._items.extend(items)
        audio = sum(len(item.pcm) for item in items if isinstance(item, Audio))
        self._queued += audio
        self._playing = self._playing or audio > 0

    def clear(self) -> None:
        self._items.clear()
        self._offset = self._queued = 0
        self._playing = self._primed = self._dry = False
        self._held_since = None

    def fill(self, block: np.ndarray, rate: int, now: float) -> list[tuple[Mark | End, int]]:
        """Copy queued audio into ``block`` (silence after it); returns the markers reached, each
        with the offset in ``block`` where it plays."""
        reached: list[tuple[Mark | End, int]] = []
        frames = len(block)
        filled = 0
        if self._hold(rate, now):
            block[:] = 0.0
            if self._dry:
                self.starved_samples += frames
            return reached
        items = self._items
        while filled < frames and items:
            item = items[0]
            if isinstance(item, Audio):
                n = min(frames - filled, len(item.pcm) - self._offset)
                block[filled : filled + n] = item.pcm[self._offset : self._offset + n]
                filled += n
                self._offset += n
                self._queued -= n
                if self._offset < len(item.pcm):
                    break
                self._offset = 0
            else:
                reached.append((item, filled))
                if isinstance(item, End):
                    self._playing = False
            items.popleft()
        if not self._playing:
            self._dry = False
        if filled < frames:
            block[filled:] = 0.0
            self._primed = False  # run dry: buffer again before the next audio plays
            if self._playing:
                self.underruns += 1
                self.starved_samples += frames - filled
                self._dry = True
        return reached

    def _hold(self, rate: int, now: float) -> bool:
        """Whether the start-up buffer is still filling (then nothing plays in this block)."""
        if self._primed or not self._items:
            return False
        if self._held_since is None:
            self._held_since = now
        waited = now - self._held_since
        if (
            self._queued >= self.prebuffer_s * rate
            or waited >= self.prebuffer_s
            or any(isinstance(item, End) for item in self._items)
        ):
            self._primed, self._dry, self._held_since = True, False, None
            return False
        return True
