"""Small immutable events that the capture classes report.

Every capture class takes one ``on_event`` callback and calls it with these dataclasses. The
callback runs on the capture class's own thread (never on a PortAudio callback thread), so it
must return quickly: the assistant passes ``queue.put`` and handles events on its thread, the
GUI bridge re-emits them as queued Qt signals. All times are ``time.monotonic()`` seconds (for
a replayed file: the clock the caller gave, see :class:`~ola_core.capture.vad.Endpointer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

DeviceKind = Literal["microphone", "camera", "screen"]
EndReason = Literal["silence", "max_length", "push_to_talk", "flush"]


@dataclass(frozen=True)
class DeviceLost:
    """A device stopped delivering (unplugged, busy, missing); the source keeps retrying."""

    kind: DeviceKind
    name: str
    message: str  # for people: what happened and what to do
    t: float


@dataclass(frozen=True)
class DeviceRestored:
    """A lost device (or the system default that replaced it) delivers again."""

    kind: DeviceKind
    name: str
    t: float


@dataclass(frozen=True)
class Overflow:
    """The microphone dropped input since the last report (``count`` new, ``total`` since start)."""

    count: int
    total: int
    t: float


@dataclass(frozen=True)
class LevelUpdate:
    """Input level of the last block, for the GUI meter (−inf..0 dBFS; silence is clamped to −100)."""

    rms_dbfs: float
    peak_dbfs: float
    t: float


@dataclass(frozen=True)
class SpeechStarted:
    """A turn began: the first voiced frame (VAD) or the push-to-talk key went down."""

    t_first_voiced: float


@dataclass(frozen=True)
class SpeechEnded:
    """A turn ended; ``pcm`` is the utterance including the pre-roll before the first voiced frame.

    ``t_last_voiced`` is what latency is measured from; ``t_endpoint`` is when the endpointer
    decided (``t_last_voiced`` + the end-of-turn silence, or the key release / length cut).
    """

    t_first_voiced: float
    t_last_voiced: float
    t_endpoint: float
    pcm: np.ndarray = field(repr=False)  # (n,) int16, 16 kHz mono
    reason: EndReason = "silence"
    wait_ms: float = 0.0  # the silence this turn's end waited for (adaptive endpointing: per utterance)

    @property
    def duration_s(self) -> float:
        """Length of ``pcm`` in seconds."""
        return len(self.pcm) / 16_000


@dataclass(frozen=True)
class SpeechPaused:
    """The speaker has been silent for the pause time, shorter than the end-of-turn wait: a guess
    that the turn ends here, early enough to start working on it (speculative turn start).

    ``pcm`` is exactly the ``pcm`` the turn's :class:`SpeechEnded` will carry if no voice comes
    before the endpoint (the utterance is cut ``tail_ms`` after the last voiced frame, and the
    pause is never shorter than that tail). At most one per silence; VAD mode only.
    """

    t_first_voiced: float
    t_last_voiced: float
    t: float  # when the pause was decided
    pcm: np.ndarray = field(repr=False)  # (n,) int16, 16 kHz mono


@dataclass(frozen=True)
class SpeechResumed:
    """Voice again after a :class:`SpeechPaused`, before the endpoint: the guess was wrong."""

    t: float


@dataclass(frozen=True)
class SustainedSpeech:
    """Speech has lasted at least the barge-in threshold (short bursts never cause this)."""

    t_first_voiced: float
    t: float


CaptureEvent = (
    DeviceLost
    | DeviceRestored
    | Overflow
    | LevelUpdate
    | SpeechStarted
    | SpeechPaused
    | SpeechResumed
    | SpeechEnded
    | SustainedSpeech
)
EventCallback = Callable[[CaptureEvent], None]


def ignore_event(_event: CaptureEvent) -> None:
    """Default callback: drop the event (for scripts that only poll)."""
