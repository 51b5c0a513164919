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

from ola_core.capture.pcm import SAMPLE_RATE, level_dbfs, to_int16
from ola_core.settings import EchoMode

log = logging.getLogger(__name__)

FRAME = SAMPLE_RATE // 100  # the WebRTC module works on 10 ms frames: 160 samples at 16 kHz
REFERENCE_MARGIN_S = 0.1  # while our voice plays, a mic frame waits for the reference this far past it …
NEAR_HOLD_MAX_S = (
    0.03  # … but never longer than this (barge-in latency); a late reference = a leak, caught below
)
REFERENCE_STALL_S = 0.15  # no reference for this long (wall clock): the player stopped, stop waiting
GATE_TAIL_S = 0.3  # room reverberation after our audio stops
GATE_MARGIN_DB = 3.0  # a barge-in voice must be this much louder than our playback
AUDIBLE_DBFS = -60.0  # playback quieter than this cannot be heard back
ECHO_LIKENESS = 0.8  # correlation with our own voice above which "speech" is taken for echo
HISTORY_FRAMES = 100  # 1 s of processed mic and reference kept for that check
MAX_REFERENCE_S = 2.0  # reference waiting for the mic thread (more means nobody is listening)


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
    """Cleans microphone PCM of the assistant's own voice; see the module docstring.

    Alignment: the canceller wants each stretch of our voice (far end) BEFORE the microphone
    frame that contains its echo. The player reports what it sent every ~10 ms (later when the
    CPU is busy), and a sound server may loop it back to the microphone faster than that
    (PulseAudio did: the echo reached the microphone up to 100 ms "before" the player's
    estimated DAC time). So the reference is fed in arrival order, and while our voice is
    audible a microphone frame captured at ``t`` waits until the reference reaches
    ``t + REFERENCE_MARGIN_S``, at most :data:`NEAR_HOLD_MAX_S` (barge-in must stay quick).
    Measured on the virtual loopback (benchmarks/RESULTS.md): without waiting, ERLE fell below
    10 dB in 18 of 31 windows of 0.3 s; waiting ≥ 20 ms kept it ≥ 30 dB (median 73 dB). When the
    CPU is starved the reference can still come late and some echo leaks: :meth:`echo_likeness`
    then keeps it from counting as a barge-in. Outside playback frames pass at once, so the
    endpointing of a question is never delayed.
    """

    def __init__(
        self,
        mode: EchoMode = "speakers",
        *,
        use_aec: bool = True,
        on_warning: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_warning = on_warning
        self._use_aec = use_aec
        self._clock = clock
        self._lock = threading.Lock()
        self._reference: deque[np.ndarray] = deque()  # 10 ms int16 frames not yet given to the AEC
        self._ref_partial = np.zeros(0, np.int16)
        self._ref_levels: deque[tuple[float, float]] = deque()  # (arrival, dBFS) of audible frames
        self._ref_until = -np.inf  # DAC time just after the last reference sample received
        self._ref_arrival = -np.inf  # wall time the last reference block arrived
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._near: deque[tuple[float, np.ndarray, float]] = (
            deque()
        )  # (capture time of its end, frame, arrival)
        self._near_partial = np.zeros(0, np.int16)
        self._near_history: deque[np.ndarray] = deque(maxlen=HISTORY_FRAMES)  # raw mic, as processed
        self._far_history: deque[np.ndarray] = deque(maxlen=2 * HISTORY_FRAMES)  # reference, as consumed
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
        """Microphone samples received but not yet returned (partial frame + held frames)."""
        return len(self._near_partial) + FRAME * len(self._near)

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
        """What the player sent to the device: (n,) float32 mono at ``sample_rate`` (silence included).

        ``t_start`` is the player's estimate of when ``pcm[0]`` is heard (monotonic).
        """
        if self.mode == "headphones" or len(pcm) == 0:
            return
        if sample_rate != SAMPLE_RATE:
            stream = self._resamplers.get(sample_rate)
            if stream is None:
                stream = self._resamplers[sample_rate] = soxr.ResampleStream(
                    sample_rate, SAMPLE_RATE, 1, dtype="float32"
                )
            pcm = stream.resample_chunk(np.ascontiguousarray(pcm, np.float32))
        now = self._clock()
        ints = to_int16(np.asarray(pcm))
        with self._lock:
            buf = np.concatenate([self._ref_partial, ints])
            n = len(buf) // FRAME
            for i in range(n):
                frame = buf[i * FRAME : (i + 1) * FRAME]
                self._reference.append(frame)
                level = level_dbfs(frame)[0]
                if level > AUDIBLE_DBFS:
                    self._ref_levels.append((now, level))
            self._ref_partial = buf[n * FRAME :]
            self._ref_until = max(self._ref_until, t_start + len(pcm) / sample_rate)
            self._ref_arrival = now
            while len(self._reference) > MAX_REFERENCE_S * 100:
                self._reference.popleft()
            while self._ref_levels and self._ref_levels[0][0] < now - GATE_TAIL_S:
                self._ref_levels.popleft()

    def _audible_db(self, now: float) -> float | None:
        """Loudest reference frame that arrived within the last GATE_TAIL_S, None if all quiet."""
        with self._lock:
            recent = [level for t, level in self._ref_levels if t >= now - GATE_TAIL_S]
        return max(recent) if recent else None

    # ------------------------------------------------------------------ near end (mic thread)
    def process(self, pcm: np.ndarray, t_end: float) -> np.ndarray:
        """Clean one block of (n,) int16 mic PCM (its last sample captured at ``t_end``).

        Returns int16 PCM in order, ending :attr:`pending_samples` before ``t_end``: whole
        10 ms frames, some held back while our voice plays.
        """
        if self.mode == "headphones":
            return pcm
        now = self._clock()
        buf = np.concatenate([self._near_partial, pcm]) if len(self._near_partial) else pcm
        n = len(buf) // FRAME
        self._near_partial = buf[n * FRAME :].copy()
        t_buf = t_end - len(buf) / SAMPLE_RATE  # capture time of buf[0]
        for i in range(n):
            self._near.append((t_buf + (i + 1) * FRAME / SAMPLE_RATE, buf[i * FRAME : (i + 1) * FRAME], now))
        audible = self._audible_db(now)
        with self._lock:
            stalled = now - self._ref_arrival > REFERENCE_STALL_S
            ready_until = np.inf if audible is None or stalled else self._ref_until - REFERENCE_MARGIN_S
        out: list[np.ndarray] = []
        while self._near and (self._near[0][0] <= ready_until or self._near[0][2] <= now - NEAR_HOLD_MAX_S):
            frame = self._near.popleft()[1]
            self._near_history.append(frame)
            out.append(self._cancel(frame) if self._aec is not None else self._gate(frame, audible))
        return np.concatenate(out) if out else np.zeros(0, np.int16)

    def _cancel(self, frame: np.ndarray) -> np.ndarray:
        from livekit import rtc

        far = self._take_reference()
        for ref in far:
            self._aec.process_reverse_stream(rtc.AudioFrame(ref.tobytes(), SAMPLE_RATE, 1, FRAME))  # type: ignore[union-attr]
        near = rtc.AudioFrame(frame.tobytes(), SAMPLE_RATE, 1, FRAME)
        self._aec.process_stream(near)  # type: ignore[union-attr]
        return np.frombuffer(bytes(near.data), np.int16)

    def _gate(self, frame: np.ndarray, audible_db: float | None) -> np.ndarray:
        self._take_reference()
        if audible_db is None or level_dbfs(frame)[0] >= audible_db + GATE_MARGIN_DB:
            return frame
        return np.zeros_like(frame)

    def _take_reference(self) -> list[np.ndarray]:
        """The reference frames that arrived since the last call (kept in the history too)."""
        with self._lock:
            far = list(self._reference)
            self._reference.clear()
        self._far_history.extend(far)
        return far

    def echo_likeness(self, window_s: float = 0.4) -> float | None:
        """How much the last ``window_s`` of microphone sound is our own voice: the peak normalised
        correlation of the raw microphone with the reference (lags 0–0.6 s); None when nothing
        audible was played then.

        A second line of defence before a barge-in (the caller's thread, any time): a canceller
        that lost track of the echo path (an audio underrun shifts it) lets our voice through for
        a few hundred ms, but that sound still correlates ~1 with what we played, while a person
        talking over it brings the correlation down (≈0.7 at equal loudness, less when louder).
        """
        if self.mode == "headphones":
            return None
        n = int(window_s * SAMPLE_RATE) // FRAME
        near_frames = list(self._near_history)[-n:]
        far_frames = list(self._far_history)
        if len(near_frames) < n or len(far_frames) < n:
            return None
        near = np.concatenate(near_frames).astype(np.float64)
        far = np.concatenate(far_frames[-(n + 60) :]).astype(np.float64)  # the window plus 0.6 s before it
        if level_dbfs(far.astype(np.float32) / 32768)[0] < AUDIBLE_DBFS:
            return None
        size = 1 << int(np.ceil(np.log2(len(near) + len(far))))
        corr = np.fft.irfft(np.fft.rfft(far, size) * np.conj(np.fft.rfft(near, size)), size)[
            : len(far) - len(near) + 1
        ]
        energy = np.concatenate([[0.0], np.cumsum(far * far)])
        far_norm = np.sqrt(energy[len(near) :] - energy[: len(far) - len(near) + 1])
        near_norm = np.sqrt(np.dot(near, near))
        if near_norm == 0:
            return None
        audible = far_norm > np.sqrt(len(near)) * 32768 * 10 ** (
            AUDIBLE_DBFS / 20
        )  # silent stretches: no echo
        if not audible.any():
            return None
        return float((np.abs(corr[audible]) / (far_norm[audible] * near_norm)).max())
