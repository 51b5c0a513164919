"""AudioPlayer: gapless playback of synthesized chunks through one sounddevice output stream.

Design, and why:

* One ``OutputStream`` stays open for the whole answer and its callback pulls from a queue of
  chunks already resampled to the device rate (soxr, one streaming resampler per source rate),
  so consecutive chunks and sentences join sample-exactly: no gap, no click.
* Timestamps come from the audio clock, not from when a chunk was queued: the callback knows
  when the first sample of each block reaches the DAC (``outputBufferDacTime``), so "sentence
  started playing" is the moment the user can hear it. Events are delivered by a small
  dispatcher thread at that moment (never from the PortAudio callback, which must not block).
* ``stop()`` (barge-in) empties the queue and aborts the stream, which also discards what
  PortAudio/the server already buffered, then restarts it: silence within one block instead of
  after the whole device latency.
* Each utterance starts with a small buffer (:mod:`ola_core.speech.playback_queue`): a short
  first chunk waits up to ``prebuffer_s`` for more instead of stuttering. An empty queue is
  played as silence, never left to the device; ``underruns`` counts the blocks that ran dry inside
  an utterance (a gap nobody chose), ``output_underflows`` the device's own underflow flags (the
  callback came too late: an xrun). ``latency`` (seconds of device buffer, 30 ms rather than
  PortAudio's "low" 10-20 ms) leaves room for a callback delayed by the GIL and a CPU busy with
  the language model; on the loaded 2-core test VM "low" gave device underflows in most runs.
* Everything actually sent to the device, silence included, is kept in :class:`PlayedSignal`
  with DAC timestamps: the reference an echo canceller subtracts from the microphone.
* Every notice carries the tokens it depends on: the player's own (replaced by each ``stop()``)
  and the turn's :class:`~ola_core.cancel.CancelToken` passed to ``play``/``end``; a notice is
  delivered only while none of them is set, so nothing of a cancelled turn is reported.
* The player never looks devices up itself (speech does not import capture): whoever builds it
  passes ``locate``, which turns the speaker name into where to open the stream.
* A device that disappears (the stream finishes or stops calling back without being asked)
  becomes a :class:`SpeakerLost` event; the queued audio is dropped and the next ``play()``
  opens a stream again (on the default device if the chosen one is gone).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ola_core.cancel import CancelToken
from ola_core.errors import AudioDeviceError
from ola_core.speech.playback_buffer import End, Item, Mark, MarkedResampler, PlayedAudio, PlayedSignal
from ola_core.speech.playback_queue import PlaybackQueue

__all__ = [
    "AudioPlayer",
    "AudioSink",
    "ChunkStarted",
    "DefaultOutput",
    "OutputTarget",
    "PlaybackFinished",
    "PlayedAudio",
    "PlayedSignal",
    "SpeakerLocator",
    "SpeakerLost",
]

log = logging.getLogger(__name__)

_STALL_SECONDS = 1.0  # no callback for this long on a started stream: the device is gone
_DISPATCH_TICK = 0.01  # how often on_played is fed and the device is checked


@dataclass(frozen=True)
class ChunkStarted:
    """The first sample of the chunk queued with ``marker`` reached the device at ``t``."""

    marker: object
    t: float  # time.monotonic() of the first sample at the DAC


@dataclass(frozen=True)
class PlaybackFinished:
    """The last sample queued before ``end(marker)`` reached the device at ``t``."""

    marker: object
    t: float


@dataclass(frozen=True)
class SpeakerLost:
    """The output device disappeared; queued audio was dropped."""

    error: AudioDeviceError
    t: float


PlayerEvent = ChunkStarted | PlaybackFinished | SpeakerLost


class OutputTarget(Protocol):
    """Where to open the output stream (``ola_core.capture.devices.StreamTarget`` is one)."""

    @property
    def portaudio_device(self) -> str | None: ...
    def opening(self) -> contextlib.AbstractContextManager[None]: ...
    def track(self, stream: Any) -> None:
        """Told of the opened stream (so a device-list refresh never closes it under the player)."""


@dataclass(frozen=True)
class DefaultOutput:
    """PortAudio's default output, opened as is: the target when no ``locate`` is given."""

    portaudio_device: str | None = None

    def opening(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def track(self, stream: Any) -> None:
        pass


SpeakerLocator = Callable[[str | None], OutputTarget]  # raises AudioDeviceError when the name is gone


@dataclass(frozen=True)
class _Tag:
    """A caller's marker with the tokens its notice depends on."""

    marker: object
    tokens: tuple[CancelToken, ...]


def _live(tokens: tuple[CancelToken, ...]) -> bool:
    return not any(token.is_set() for token in tokens)


class AudioSink(Protocol):
    """Where the speech pipeline sends audio: the :class:`AudioPlayer`, or a recording sink."""

    on_event: Callable[[PlayerEvent], None] | None

    def play(
        self, pcm: np.ndarray, sample_rate: int, marker: object = None, cancel: CancelToken | None = None
    ) -> None: ...
    def end(self, marker: object = None, cancel: CancelToken | None = None) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class AudioPlayer:
    """Plays float32 mono chunks at any sample rate on one output device; see the module docstring.

    ``device``: a speaker name that ``locate`` resolves (the assistant passes
    ``ola_core.capture.devices.stream_target``; without ``locate`` only PortAudio's default
    output is used). ``on_event``
    receives :data:`PlayerEvent` objects, ``on_played`` every new stretch of the played signal
    (echo-canceller reference, about every 10 ms), both on the player's dispatcher thread.
    """

    def __init__(
        self,
        device: str | None = None,
        *,
        block_ms: float = 10.0,
        latency: float | str = 0.03,
        prebuffer_s: float = 0.06,
        volume: float = 1.0,
        reference_seconds: float = 10.0,
        on_event: Callable[[PlayerEvent], None] | None = None,
        on_played: Callable[[PlayedAudio], None] | None = None,
        locate: SpeakerLocator | None = None,
    ) -> None:
        self.device = device
        self._locate = locate
        self.block_ms = block_ms
        self.latency = latency
        self.reference_seconds = reference_seconds
        self.on_event = on_event
        self.on_played = on_played
        self._volume = float(np.clip(volume, 0.0, 1.0))
        self._queue = PlaybackQueue(prebuffer_s)  # under _lock
        self._lock = threading.Lock()
        self._converter: MarkedResampler | None = None  # for the source rate of the chunks now arriving
        self._stream: Any = None
        self._rate = 0
        self._channels = 0
        self._block: np.ndarray = np.zeros(0, np.float32)
        self._notices: queue.SimpleQueue[tuple[PlayerEvent, tuple[CancelToken, ...]] | None] = (
            queue.SimpleQueue()
        )  # None: quit
        self._token = CancelToken()  # replaced by stop(): notices of dropped audio are not delivered
        self._expected_finish = False
        self._last_callback = 0.0
        self._clock_anchor = 0.0  # DAC time of the first frame since the stream (re)started
        self._clock_frames = 0  # frames written since then
        self._clock_measured = False  # the anchor came from a DAC time, not a latency guess
        self._output_underflows = 0
        self._idle = threading.Event()
        self._idle.set()
        self._dispatcher: threading.Thread | None = None
        self._closed = threading.Event()
        self.played: PlayedSignal | None = None

    # -- properties -----------------------------------------------------------------------------
    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        self._volume = float(np.clip(value, 0.0, 1.0))

    @property
    def sample_rate(self) -> int:
        """The device rate (0 before the stream is open)."""
        return self._rate

    @property
    def underruns(self) -> int:
        """Blocks in which queued audio ran out before ``end()``: audible gaps."""
        return self._queue.underruns

    @property
    def starved_seconds(self) -> float:
        """Silence played inside utterances because the queue ran dry (the length of the gaps)."""
        return self._queue.starved_samples / self._rate if self._rate else 0.0

    @property
    def output_underflows(self) -> int:
        """Callbacks the device reported as too late (PortAudio's output underflow: an xrun)."""
        return self._output_underflows

    @property
    def output_latency(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    # -- commands -------------------------------------------------------------------------------
    def open(self) -> None:
        """Open and start the output stream now (``play`` does it on demand)."""
        if self._stream is None:
            self._open_stream()

    def play(
        self, pcm: np.ndarray, sample_rate: int, marker: object = None, cancel: CancelToken | None = None
    ) -> None:
        """Queue a chunk (n,) float32 mono; ``marker`` (if not None) gets a ChunkStarted event,
        unless ``cancel`` (the turn's token) or a ``stop()`` comes first."""
        self.open()
        converter = self._converter
        if converter is None or converter.source_rate != sample_rate:
            self._enqueue(converter.finish() if converter else [])
            converter = self._converter = MarkedResampler(sample_rate, self._rate)
        tag = None if marker is None else self._tag(marker, cancel)
        self._enqueue(converter.convert(np.asarray(pcm, np.float32).reshape(-1), tag))

    def end(self, marker: object = None, cancel: CancelToken | None = None) -> None:
        """No more audio for now: play out the resampler's tail, then report PlaybackFinished."""
        self.open()
        converter, self._converter = self._converter, None
        self._enqueue([*(converter.finish() if converter else []), End(self._tag(marker, cancel))])

    def stop(self) -> None:
        """Silence now and drop everything queued (barge-in). The player stays usable."""
        with self._lock:
            self._drop_notices()
            self._queue.clear()
            self._idle.set()
        self._converter = None
        stream = self._stream
        if stream is not None:
            # abort() discards the audio PortAudio and the sound server already hold; restart at once.
            self._expected_finish = True
            try:
                stream.abort()
                self._last_callback = time.monotonic()
                self._clock_frames = 0
                stream.start()
            except Exception as error:  # the device vanished meanwhile
                self._lose(AudioDeviceError(f"The speaker stopped working ({error})."))
            finally:
                self._expected_finish = False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until everything queued has been played; False on timeout."""
        return self._idle.wait(timeout)

    def set_device(self, device: str | None) -> None:
        """Use another output device from the next ``play`` on (the current audio is dropped)."""
        self.stop()
        self._close_stream()
        self.device = device

    def close(self) -> None:
        self.stop()
        self._close_stream()
        self._closed.set()
        self._notices.put(None)
        if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
            self._dispatcher.join(timeout=2.0)
        self._dispatcher = None

    def __enter__(self) -> AudioPlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------
    def _tag(self, marker: object, cancel: CancelToken | None) -> _Tag:
        return _Tag(marker, (self._token,) if cancel is None else (self._token, cancel))

    def _drop_notices(self) -> None:
        """Notices of what was queued until now are not delivered (called under the lock)."""
        self._token.cancel("stopped")
        self._token = CancelToken()

    def _enqueue(self, items: list[Item]) -> None:
        if not items:
            return
        with self._lock:
            self._queue.extend(items)
            self._idle.clear()

    def _target(self) -> OutputTarget:
        """Where to open the stream: the chosen speaker, or the default when it is gone."""
        if self._locate is None:
            return DefaultOutput()
        if self.device is not None:
            try:
                return self._locate(str(self.device))
            except AudioDeviceError as error:
                log.warning("output device %r is gone; using the default (%s)", self.device, error)
                self.device = None
        return self._locate(None)

    def _open_stream(self) -> None:
        try:
            import sounddevice as sd
        except OSError as error:  # the PortAudio library itself is missing
            raise AudioDeviceError(
                f"Sound output is unavailable: {error}. Install PortAudio (Debian/Ubuntu: apt install libportaudio2)."
            ) from error

        target = self._target()
        with target.opening():  # routes PortAudio's default to the chosen PulseAudio sink
            try:
                info = sd.query_devices(target.portaudio_device, "output")
            except (ValueError, sd.PortAudioError) as error:
                raise AudioDeviceError(
                    f"No speaker found ({error}). Connect one, or pick an output device in the settings."
                ) from error
            self._rate = int(info["default_samplerate"])
            self._channels = max(1, min(2, int(info["max_output_channels"])))
            blocksize = max(64, int(self._rate * self.block_ms / 1000))
            self._block = np.zeros(blocksize * 4, np.float32)
            if self.played is None or self.played.sample_rate != self._rate:
                self.played = PlayedSignal(self._rate, self.reference_seconds)
            try:
                stream = sd.OutputStream(
                    device=target.portaudio_device,
                    samplerate=self._rate,
                    channels=self._channels,
                    dtype="float32",
                    blocksize=blocksize,
                    latency=self.latency,
                    callback=self._callback,
                    finished_callback=self._finished,
                )
                target.track(stream)
                self._last_callback = time.monotonic()
                self._clock_frames = 0
                stream.start()
            except sd.PortAudioError as error:
                name = self.device if self.device is not None else "(default)"
                raise AudioDeviceError(
                    f"Cannot open the speaker {name}: {error}. Pick another output device in the settings."
                ) from error
        self._stream = stream
        if self._dispatcher is None:
            self._closed.clear()
            self._dispatcher = threading.Thread(
                target=self._dispatch, name="audio-player-events", daemon=True
            )
            self._dispatcher.start()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._expected_finish = True
            with contextlib.suppress(Exception):  # a lost device may refuse to close cleanly
                stream.abort()
                stream.close()
            self._expected_finish = False

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: copy queued samples out; no allocation beyond small notices."""
        now = time.monotonic()
        self._last_callback = now
        lead = time_info.outputBufferDacTime - time_info.currentTime  # 0 when the host cannot tell
        measured = now + lead if lead > 0 else None
        # Frames written are the steady clock (callback wake-ups jitter by milliseconds); a measured
        # DAC time anchors it (re-anchors after a restart or an xrun) and corrects slow drift.
        t0 = self._clock_anchor + self._clock_frames / self._rate
        if self._clock_frames == 0 or (
            measured is not None and (not self._clock_measured or abs(measured - t0) > 0.05)
        ):
            self._clock_anchor = measured if measured is not None else now + self.output_latency
            self._clock_frames, self._clock_measured, t0 = 0, measured is not None, self._clock_anchor
        elif measured is not None:
            self._clock_anchor += 0.02 * (measured - t0)
        self._clock_frames += frames
        if len(self._block) < frames:
            self._block = np.zeros(frames, np.float32)
        block = self._block[:frames]
        if status and status.output_underflow:
            self._output_underflows += 1
        with self._lock:
            reached = self._queue.fill(block, self._rate, now)
            for item, at in reached:
                tag = item.marker
                assert isinstance(tag, _Tag)
                t = t0 + at / self._rate
                event = (
                    ChunkStarted(tag.marker, t) if isinstance(item, Mark) else PlaybackFinished(tag.marker, t)
                )
                self._notices.put((event, tag.tokens))
            if self._queue.empty:
                self._idle.set()
        block *= self._volume
        outdata[:] = block[:, None]
        if self.played is not None:
            self.played.write(block, t0)

    def _finished(self) -> None:
        if not self._expected_finish:
            self._notices.put(
                (SpeakerLost(AudioDeviceError("The speaker disappeared."), time.monotonic()), ())
            )

    def _lose(self, error: AudioDeviceError) -> None:
        with self._lock:
            self._queue.clear()
            self._idle.set()
            self._drop_notices()
        self._converter = None
        self._close_stream()
        log.warning("%s", error)
        self._emit(SpeakerLost(error, time.monotonic()))

    def _dispatch(self) -> None:
        """Deliver notices when their sample is heard, feed ``on_played``, watch for a stalled device."""
        due: collections.deque[tuple[PlayerEvent, tuple[CancelToken, ...]]] = collections.deque()  # DAC order
        played_cursor = self.played.written if self.played is not None else 0
        while not self._closed.is_set():
            wait = (
                _DISPATCH_TICK if not due else min(_DISPATCH_TICK, max(0.0, due[0][0].t - time.monotonic()))
            )
            notice: tuple[PlayerEvent, tuple[CancelToken, ...]] | bool | None
            try:
                notice = self._notices.get(timeout=wait)
            except queue.Empty:
                notice = False  # nothing new; deliver what is due
            if notice is None:
                return
            if isinstance(notice, tuple):
                event, tokens = notice
                if isinstance(event, SpeakerLost):
                    stream = self._stream
                    if stream is not None and not stream.active and not self._expected_finish:
                        self._lose(event.error)
                else:
                    due.append((event, tokens))
            while due and due[0][0].t <= time.monotonic():
                event, tokens = due.popleft()
                if _live(tokens):  # not dropped by a stop() or the turn's cancel meanwhile
                    self._emit(event)
            played = self.played
            if self.on_played is not None and played is not None and played.written > played_cursor:
                chunk = played.read(played_cursor)
                played_cursor = chunk.start_index + len(chunk.pcm)
                self._call(self.on_played, chunk)
            if self._stream is not None and time.monotonic() - self._last_callback > _STALL_SECONDS:
                self._lose(AudioDeviceError("The speaker stopped playing (no audio callbacks)."))

    def _emit(self, event: PlayerEvent) -> None:
        if self.on_event is not None:
            self._call(self.on_event, event)

    @staticmethod
    def _call(listener: Callable[[Any], None], argument: object) -> None:
        try:
            listener(argument)
        except Exception:  # a broken listener must not stop playback
            log.exception("audio player listener failed")
