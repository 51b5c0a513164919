"""Echo safety: the assistant must not hear its own voice from the speakers as the user.

Two tools, chosen by the ``echo_mode`` setting and by what is installed:

* **Acoustic echo cancellation** (speakers, default): the WebRTC audio processing module from the
  ``livekit`` package (AEC3 + noise suppression + high-pass). Its far-end reference is exactly
  what our player sent to the device (:meth:`EchoGuard.feed_reference`), so it subtracts our
  voice and leaves a second voice standing. Picked by measurement against ``pyaec`` (speex) on
  our own voice looped back (benchmarks/RESULTS.md, "Echo cancellation"): ERLE 26 dB vs 19 dB
  through a simulated room, 96 dB vs 46 dB through a digital loopback, a second talker kept at
  −1.6 dB.
* **Half-duplex gating** (fallback when the AEC cannot be created): while our audio plays and for
  a short tail after it, microphone frames quieter than the recent playback level plus a margin
  are replaced by silence, so only a voice louder than the loudspeaker can barge in.

``headphones`` turns both off: nothing leaks back, and barge-in stays fully sensitive.

Threads: ``feed_reference`` runs on the player's thread; ``process`` on the microphone thread,
which alone touches the AEC object (reference frames wait in a locked FIFO until then).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr

from ola_core.capture.pcm import SAMPLE_RATE, level_dbfs
from ola_core.settings import EchoMode

log = logging.getLogger(__name__)

FRAME = SAMPLE_RATE // 100  # the WebRTC module works on 10 ms frames: 160 samples at 16 kHz
GATE_TAIL_S = 0.3  # room reverberation and output latency after the last played sample
GATE_MARGIN_DB = 3.0  # a barge-in voice must be this much louder than our playback
MAX_REFERENCE_S = 2.0
AUDIBLE_DBFS = -60.0  # playback quieter than this cannot be heard back  # reference kept waiting for the mic thread (longer means nobody listens)


def _make_aec() -> Any | None:
    """The WebRTC APM with echo cancellation, or None when ``livekit`` is missing or fails."""
    try:
        from livekit import rtc
    except ImportError as error:
        log.info("livekit not available (%s): echo cancellation off, half-duplex gating instead", error)
        return None
    try:
        return rtc.AudioProcessingModule(
            echo_cancellation=True, noise_suppression=True, high_pass_filter=True
        )
    except Exception as error:  # a broken native library must not stop the assistant
        log.warning("echo canceller could not start (%s); half-duplex gating instead", error)
        return None


class EchoGuard:
    """Cleans microphone PCM of the assistant's own voice; see the module docstring."""

    def __init__(
        self,
        mode: EchoMode = "speakers",
        *,
        use_aec: bool = True,
        on_warning: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._on_warning = on_warning
        self._use_aec = use_aec
        self._lock = threading.Lock()
        self._reference: deque[np.ndarray] = deque()  # 10 ms int16 frames waiting for the mic thread
        self._ref_partial = np.zeros(0, np.int16)
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._playing_until = -np.inf  # monotonic time the last reference sample finishes playing
        self._ref_db: deque[float] = deque(maxlen=20)  # levels of the last 200 ms of reference
        self._near_partial = np.zeros(0, np.int16)
        self._aec: Any | None = None
        self.mode: EchoMode = mode
        self.set_mode(mode)

    @property
    def method(self) -> str:
        """ "aec", "gate" or "off": what is protecting the microphone now."""
        if self.mode == "headphones":
            return "off"
        return "aec" if self._aec is not None else "gate"

    @property
    def pending_samples(self) -> int:
        """Microphone samples held back until a whole 10 ms frame is there."""
        return len(self._near_partial)

    def set_mode(self, mode: EchoMode) -> None:
        self.mode = mode
        if mode == "speakers" and self._aec is None and self._use_aec:
            self._aec = _make_aec()
            if self._aec is None and self._on_warning is not None:
                self._on_warning(
                    "Echo cancellation is not available, so while the assistant speaks it only hears a "
                    "voice louder than its own. Use headphones for easy interruptions."
                )

    # ------------------------------------------------------------------ far end (player thread)
    def feed_reference(self, pcm: np.ndarray, sample_rate: int, t_start: float) -> None:
        """What the player sent to the device: (n,) float32 mono at ``sample_rate``, ``pcm[0]`` heard at ``t_start``.

        The player reports its whole output, silence included, so "playing" means "the reference
        is audible" (above :data:`AUDIBLE_DBFS`), not "a stream is open".
        """
        if self.mode == "headphones" or len(pcm) == 0:
            return
        if sample_rate != SAMPLE_RATE:
            stream = self._resamplers.get(sample_rate)
            if stream is None:
                stream = self._resamplers[sample_rate] = soxr.ResampleStream(
                    sample_rate, SAMPLE_RATE, 1, dtype="float32"
                )
            pcm16k = stream.resample_chunk(np.ascontiguousarray(pcm, np.float32))
        else:
            pcm16k = pcm
        ints = np.clip(np.asarray(pcm16k) * 32767.0, -32768, 32767).astype(np.int16)
        with self._lock:
            buf = np.concatenate([self._ref_partial, ints])
            n = len(buf) // FRAME
            for i in range(n):
                frame = buf[i * FRAME : (i + 1) * FRAME]
                self._reference.append(frame)
                level = level_dbfs(frame)[0]
                self._ref_db.append(level)
                if level > AUDIBLE_DBFS:
                    self._playing_until = max(self._playing_until, t_start + (i + 1) * FRAME / SAMPLE_RATE)
            self._ref_partial = buf[n * FRAME :]
            while len(self._reference) > MAX_REFERENCE_S * 100:
                self._reference.popleft()

    def playing(self, t: float | None = None) -> bool:
        """True while our audio plays or its tail may still be heard."""
        t = self._clock() if t is None else t
        with self._lock:
            return t < self._playing_until + GATE_TAIL_S

    # ------------------------------------------------------------------ near end (mic thread)
    def process(self, pcm: np.ndarray) -> np.ndarray:
        """Clean one block of int16 mic PCM; returns int16 PCM (whole 10 ms frames; the rest waits)."""
        if self.mode == "headphones":
            return pcm
        buf = np.concatenate([self._near_partial, pcm]) if len(self._near_partial) else pcm
        n = len(buf) // FRAME
        self._near_partial = buf[n * FRAME :].copy()
        out = np.empty(n * FRAME, np.int16)
        for i in range(n):
            frame = buf[i * FRAME : (i + 1) * FRAME]
            out[i * FRAME : (i + 1) * FRAME] = (
                self._cancel(frame) if self._aec is not None else self._gate(frame)
            )
        return out

    def _take_reference(self) -> list[np.ndarray]:
        with self._lock:
            frames = list(self._reference)
            self._reference.clear()
        return frames

    def _cancel(self, frame: np.ndarray) -> np.ndarray:
        from livekit import rtc

        for ref in self._take_reference():
            self._aec.process_reverse_stream(rtc.AudioFrame(ref.tobytes(), SAMPLE_RATE, 1, FRAME))  # type: ignore[union-attr]
        near = rtc.AudioFrame(frame.tobytes(), SAMPLE_RATE, 1, FRAME)
        self._aec.process_stream(near)  # type: ignore[union-attr]
        return np.frombuffer(bytes(near.data), np.int16)

    def _gate(self, frame: np.ndarray) -> np.ndarray:
        self._take_reference()  # levels were recorded on arrival; the frames are not needed
        if not self.playing():
            return frame
        with self._lock:
            ref_db = max(self._ref_db, default=-100.0)
        if level_dbfs(frame)[0] >= ref_db + GATE_MARGIN_DB:
            return frame
        return np.zeros_like(frame)

    def reset(self) -> None:
        """Forget queued reference audio (e.g. after the player was cancelled)."""
        with self._lock:
            self._reference.clear()
            self._ref_partial = np.zeros(0, np.int16)
