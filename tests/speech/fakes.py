"""A deterministic synthesizer for pipeline tests: a tone whose length follows the text."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from ola_core.cancel import CancelToken
from ola_core.speech.selection import VoiceEntry
from ola_core.speech.synthesizer import Synthesizer


class ToneSynthesizer(Synthesizer):
    """``seconds_per_char`` of a 440 Hz tone per character, in ``chunk_s`` chunks.

    ``delay_s`` before each chunk imitates synthesis time; ``fail_on`` / ``stall_on`` make the
    sentence containing that word raise or stop producing (until cancelled, or ``stall_s``).
    """

    name = "tone"
    sample_rate = 16_000
    languages = frozenset({"en", "zh"})

    def __init__(
        self,
        *,
        seconds_per_char: float = 0.01,
        chunk_s: float = 0.1,
        delay_s: float = 0.0,
        fail_on: str | None = None,
        stall_on: str | None = None,
        stall_s: float = 30.0,
    ) -> None:
        self.seconds_per_char = seconds_per_char
        self.chunk_s = chunk_s
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.stall_on = stall_on
        self.stall_s = stall_s
        self.calls: list[str] = []
        self.cancelled = threading.Event()

    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        token = cancel or CancelToken()
        token.on_cancel(lambda _: self.cancelled.set())
        self.calls.append(text)
        total = int(len(text) * self.seconds_per_char * self.sample_rate)
        step = int(self.chunk_s * self.sample_rate)
        for start in range(0, total, step):
            if token.is_set():
                return
            time.sleep(self.delay_s)
            if self.fail_on and self.fail_on in text:
                raise RuntimeError("synthetic failure")
            if self.stall_on and self.stall_on in text and start > 0:
                deadline = time.monotonic() + self.stall_s
                while time.monotonic() < deadline and not token.is_set():
                    time.sleep(0.01)
                return
            t = np.arange(start, min(start + step, total)) / self.sample_rate
            yield (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _tone(context: object) -> ToneSynthesizer:
    return ToneSynthesizer()


# A registry entry, for selection tests (ENTRY_MODULES is pointed at this module).
ENTRY = VoiceEntry(
    name="tone",
    label="test tone",
    languages=frozenset({"en"}),
    priority=100,
    create=_tone,
    unavailable=lambda context: None,
)
