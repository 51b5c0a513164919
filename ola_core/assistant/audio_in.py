"""Audio into the assistant: PCM blocks → echo guard → endpointer → capture events.

:class:`AudioInput` is the part shared by every source of PCM: it owns the
:class:`~ola_core.capture.vad.Endpointer` (built from the audio settings), passes each block
through the :class:`~ola_core.assistant.echo.EchoGuard` first, and handles mute, push-to-talk and
hands-free. Subclasses only deliver blocks: :class:`MicrophoneInput` from the live microphone,
:class:`ReplayInput` from audio files "as if spoken" (``replay``, tests, benchmarks).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ola_core.assistant.echo import EchoGuard
from ola_core.capture.events import CaptureEvent, EventCallback, LevelUpdate, SpeechStarted, ignore_event
from ola_core.capture.pcm import SAMPLE_RATE, level_dbfs
from ola_core.capture.vad import Endpointer, EndpointerConfig
from ola_core.settings import AudioSettings

log = logging.getLogger(__name__)


def endpointer_config(settings: AudioSettings) -> EndpointerConfig:
    """The endpointer's configuration for the user's audio settings."""
    return EndpointerConfig(
        aggressiveness=settings.vad_sensitivity,
        end_silence_ms=settings.end_of_turn_silence_ms,
        adaptive=settings.adaptive_endpointing,
        # The settings allow 1–99 ms; the endpointer never pauses before its 200 ms tail anyway.
        pause_ms=max(settings.speculation_ms, 100) if settings.speculation_ms else 0,
        sustained_ms=settings.barge_in_ms,
    )


def contains_speech(pcm: np.ndarray, settings: AudioSettings) -> bool:
    """Whether the endpointer would hear a turn in 16 kHz mono ``pcm`` (float or int16).

    Runs the same endpointer as the live path over the samples at once (followed by the
    end-of-turn silence), so a silent recording is reported before anything waits for it.
    """
    if pcm.dtype != np.int16:
        pcm = np.clip(np.rint(pcm * 32767.0), -32768, 32767).astype(np.int16)
    tail = np.zeros(SAMPLE_RATE * (settings.end_of_turn_silence_ms + 500) // 1000, np.int16)
    endpointer = Endpointer(endpointer_config(settings))
    events = endpointer.feed(np.concatenate([pcm, tail]))
    return any(isinstance(event, SpeechStarted) for event in events)


class AudioInput(ABC):
    """Endpointing of one PCM stream; subclasses call :meth:`_deliver` from their own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the endpointer swap against the audio thread
        self._endpointer: Endpointer | None = None
        self._echo: EchoGuard | None = None
        self._on_event: EventCallback = ignore_event
        self._muted = False
        self._hands_free = True

    # ------------------------------------------------------------------ called by the assistant
    def open(self, *, settings: AudioSettings, echo: EchoGuard, on_event: EventCallback) -> None:
        """Build the endpointer and start delivering; raises an OlaError when the device is absent."""
        self._echo = echo
        self._on_event = on_event
        self._hands_free = settings.hands_free
        self.configure(settings)
        self._start()

    def configure(self, settings: AudioSettings) -> None:
        """Apply changed audio settings (an utterance being captured is dropped)."""
        endpointer = Endpointer(
            endpointer_config(settings),
            on_event=self._on_event,
            mode="vad" if self._hands_free else "push_to_talk",
            start_time=time.monotonic(),
        )
        with self._lock:
            self._endpointer = endpointer

    def close(self) -> None:
        """Stop delivering and release the device (idempotent)."""
        self._stop()

    def push_to_talk(self, down: bool, t: float) -> None:
        if self._endpointer is not None:
            self._endpointer.push_to_talk(down, t)

    def set_hands_free(self, on: bool) -> None:
        self._hands_free = on
        if self._endpointer is not None:
            self._endpointer.set_mode("vad" if on else "push_to_talk")

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if muted:
            self.drop_utterance()

    def drop_utterance(self) -> None:
        """Forget the utterance being captured, without an event (Stop, mute)."""
        if self._endpointer is not None:
            self._endpointer.reset()

    def forget_past(self) -> None:  # noqa: B027 (a replayed file keeps nothing: no-op by default)
        """Erase audio kept from before now (a new conversation); an utterance in progress goes on."""

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _start(self) -> None: ...

    @abstractmethod
    def _stop(self) -> None: ...

    def _deliver(self, block: np.ndarray, t_end: float) -> list[CaptureEvent]:
        """One block of (n,) int16 16 kHz PCM whose last sample was captured at ``t_end``."""
        if self._muted:
            return []
        echo = self._echo
        clean = block
        if echo is not None:
            clean = echo.process(block, t_end)
            t_end -= echo.pending_samples / SAMPLE_RATE  # the tail of the block waits in the guard
        with self._lock:
            endpointer = self._endpointer
        if endpointer is None or len(clean) == 0:
            return []
        return endpointer.feed(clean, t_end)


class MicrophoneInput(AudioInput):
    """The live microphone (``device`` name, None = system default) through capture's MicStream."""

    def __init__(self, device: str | None = None) -> None:
        super().__init__()
        self.device = device
        self._stream: object | None = None

    def _start(self) -> None:
        from ola_core.capture.mic import MicStream

        stream = MicStream(device=self.device, on_block=self._on_block, on_event=self._on_mic_event)
        stream.start()
        self._stream = stream

    def _on_block(self, block: np.ndarray, t_end: float) -> None:
        self._deliver(block, t_end)

    def _on_mic_event(self, event: CaptureEvent) -> None:
        if isinstance(event, LevelUpdate) and self._muted:
            return
        self._on_event(event)

    def forget_past(self) -> None:
        stream = self._stream
        if stream is not None:
            stream.forget()  # type: ignore[attr-defined]

    def _stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()  # type: ignore[attr-defined]


class ReplayInput(AudioInput):
    """Plays audio into the endpointer as a live microphone would: blocks at their real pace.

    Between queued utterances it delivers silence, like a quiet room, so the endpointer ends each
    turn by its own silence rule. ``speed`` > 1 delivers faster than real time (long test runs);
    time stamps are then the real delivery times (compressed, still ordered).
    """

    BLOCK = SAMPLE_RATE // 50  # 20 ms, a typical PortAudio block
    # Each utterance starts on this grid of the delivered stream (a multiple of the block and of
    # every endpointer frame: 10, 20, 30 ms), so the endpointer frames a replayed utterance the
    # same way whatever the timing before it: the same file gives the same turn, to the sample.
    ALIGN = 3 * BLOCK

    def __init__(
        self, *, speed: float = 1.0, level_every: int = 2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.speed = speed
        self._clock = clock
        self._queue: deque[tuple[np.ndarray, bool]] = deque()  # (block, first of an utterance)
        self._queue_lock = threading.Lock()
        self._drained = threading.Event()
        self._drained.set()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._level_every = level_every
        self.fed_s = 0.0  # seconds of audio delivered so far (speech and silence)
        self._fed_blocks = 0

    def say(self, pcm: np.ndarray) -> None:
        """Queue (n,) int16 or float32 16 kHz PCM to be "spoken" after what is already queued."""
        if pcm.dtype != np.int16:
            pcm = np.clip(np.rint(pcm * 32767.0), -32768, 32767).astype(np.int16)
        with self._queue_lock:
            for i in range(0, len(pcm), self.BLOCK):
                block = pcm[i : i + self.BLOCK]
                if len(block) < self.BLOCK:
                    block = np.concatenate([block, np.zeros(self.BLOCK - len(block), np.int16)])
                self._queue.append((block, i == 0))
            self._drained.clear()

    def say_file(self, path: Path) -> None:
        """Queue an audio file (any rate/channels soundfile reads; mixed to mono, resampled to 16 kHz)."""
        from ola_core.processing.audio import load_audio

        self.say(load_audio(path))

    def wait_spoken(self, timeout: float) -> bool:
        """Block until everything queued has been delivered."""
        return self._drained.wait(timeout)

    def _start(self) -> None:
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._run, name="replay-mic", daemon=True)
        self._thread.start()

    def _stop(self) -> None:
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def _run(self) -> None:
        period = self.BLOCK / SAMPLE_RATE / self.speed
        silence = np.zeros(self.BLOCK, np.int16)
        next_t = self._clock()
        n = 0
        while not self._stop_event.is_set():
            with self._queue_lock:
                block: np.ndarray | None = None
                if self._queue:
                    first = self._queue[0][1]
                    if not first or self._fed_blocks % (self.ALIGN // self.BLOCK) == 0:
                        block = self._queue.popleft()[0]
                else:
                    self._drained.set()
            block = silence if block is None else block
            self._fed_blocks += 1
            next_t += period
            delay = next_t - self._clock()
            if delay > 0:
                self._stop_event.wait(delay)
            else:
                next_t = self._clock()  # fell behind (busy CPU): do not burst
            t_end = self._clock()
            self.fed_s += self.BLOCK / SAMPLE_RATE
            n += 1
            if n % self._level_every == 0 and not self._muted:
                rms, peak = level_dbfs(block)
                self._on_event(LevelUpdate(rms, peak, t_end))
            try:
                self._deliver(block, t_end)
            except Exception:  # a bad block must not end the replayed "microphone"
                log.exception("replay input: endpointing failed")
