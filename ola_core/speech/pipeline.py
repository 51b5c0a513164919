"""SpeechPipeline: text deltas → sentences → synthesized audio → speaker, with barge-in.

The assistant thread feeds model text as it streams (:meth:`SpeechPipeline.feed`). Finished
sentences go to one synthesis thread (sentences are synthesized in order, one at a time, so a
GPU voice never runs two requests at once), which queues each chunk on the
:class:`~ola_core.speech.player.AudioPlayer` as soon as it exists: sentence n+1 is synthesized
while sentence n plays, and the first audio starts after the first sentence's first chunk,
not after the answer.

Every utterance has a number; :meth:`cancel` (barge-in) bumps it, empties the sentence queue,
cancels the synthesizer between chunks and silences the player, so nothing of the old answer
can be heard after it returns. The synthesis thread lives as long as the pipeline; per-sentence
workers (the watchdog's) end with their sentence or at the cancel.

The sink is an :class:`~ola_core.speech.player.AudioPlayer`, or a
:class:`~ola_core.speech.recording.RecordingSink` that keeps the audio (and may play it too).
Without a sink the pipeline renders instead (:meth:`render`): the same splitting and synthesis
on the calling thread, the audio returned as one array (benchmarks, tests).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ola_core.errors import OlaError, SynthesisError
from ola_core.speech.player import AudioSink, ChunkStarted, PlaybackFinished, PlayerEvent, SpeakerLost
from ola_core.speech.splitter import SentenceSplitter
from ola_core.speech.synthesizer import Synthesizer, WatchdogSynthesizer

__all__ = [
    "RenderedSpeech",
    "SentenceQueued",
    "SentenceStarted",
    "SentenceSynthesized",
    "SpeechError",
    "SpeechEvent",
    "SpeechFinished",
    "SpeechPipeline",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentenceQueued:
    """The splitter released sentence ``index``; it waits for the synthesizer."""

    utterance: int
    index: int
    text: str
    t: float


@dataclass(frozen=True)
class SentenceSynthesized:
    """Sentence ``index`` of the utterance is fully synthesized."""

    utterance: int
    index: int
    text: str
    t_first_chunk: float  # time.monotonic() when its first audio chunk existed
    t: float  # when its last chunk existed
    audio_seconds: float


@dataclass(frozen=True)
class SentenceStarted:
    """The first sample of sentence ``index`` reached the speaker at ``t`` (the GUI highlights it)."""

    utterance: int
    index: int
    text: str
    t: float


@dataclass(frozen=True)
class SpeechFinished:
    """The utterance's last sample was played at ``t`` (or, when rendering, synthesized)."""

    utterance: int
    sentences: int
    t: float


@dataclass(frozen=True)
class SpeechError:
    """Speaking failed (voice stalled or crashed, speaker gone); the rest of the utterance is dropped."""

    utterance: int
    error: OlaError
    t: float


SpeechEvent = SentenceQueued | SentenceSynthesized | SentenceStarted | SpeechFinished | SpeechError


@dataclass
class RenderedSpeech:
    """An utterance rendered offline."""

    pcm: np.ndarray  # (n,) float32 mono
    sample_rate: int
    sentences: list[tuple[int, str, float]] = field(default_factory=list)  # (index, text, start in seconds)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / self.sample_rate

    def write_wav(self, path: Path | str) -> None:
        import soundfile

        soundfile.write(str(path), self.pcm, self.sample_rate, subtype="PCM_16")


@dataclass(frozen=True)
class _Sentence:
    utterance: int
    index: int
    text: str


@dataclass(frozen=True)
class _EndOfUtterance:
    utterance: int
    sentences: int


_CLOSE = object()


class SpeechPipeline:
    """Speaks streamed text; see the module docstring. ``player=None`` allows only :meth:`render`."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        player: AudioSink | None = None,
        *,
        voice: str | None = None,
        on_event: Callable[[SpeechEvent], None] | None = None,
        splitter: Callable[[], SentenceSplitter] = SentenceSplitter,
        first_chunk_timeout: float = 20.0,
        chunk_timeout: float = 10.0,
    ) -> None:
        self.synthesizer = (
            synthesizer
            if isinstance(synthesizer, WatchdogSynthesizer)
            else WatchdogSynthesizer(
                synthesizer, first_chunk_timeout=first_chunk_timeout, chunk_timeout=chunk_timeout
            )
        )
        self.player = player
        self.voice = voice
        self.on_event = on_event
        self._new_splitter = splitter
        self._splitter = splitter()
        self._utterance = 0  # the utterance feed() adds to
        self._alive_from = 0  # utterances below this were cancelled
        self._index = 0  # sentences handed out in the current utterance
        self._sounding = 0  # the utterance whose audio was queued last (a lost device interrupts it)
        # feed/finish/cancel come from different threads; re-entrant so that an event handler (called
        # under it for SentenceQueued) may call cancel()
        self._lock = threading.RLock()
        self._jobs: queue.SimpleQueue[_Sentence | _EndOfUtterance | object] = queue.SimpleQueue()
        self._done = threading.Event()
        self._done.set()
        self._failed: int | None = None  # utterance whose synthesis failed: drop its remaining sentences
        self._worker: threading.Thread | None = None
        if player is not None:
            player.on_event = self._on_player_event
            self._worker = threading.Thread(target=self._synthesis_loop, name="speech-synthesis", daemon=True)
            self._worker.start()

    # -- speaking -------------------------------------------------------------------------------
    @property
    def utterance(self) -> int:
        """Number of the current utterance (events carry it; stale ones can be ignored)."""
        return self._utterance

    def feed(self, delta: str) -> None:
        """More text of the current utterance (starts one if none is running)."""
        self._require_player()
        with self._lock:
            self._done.clear()
            for text in self._splitter.feed(delta):
                self._submit(text)

    def finish(self) -> None:
        """The text is complete: speak what is left, then report SpeechFinished."""
        self._require_player()
        with self._lock:
            self._done.clear()
            for text in self._splitter.flush():
                self._submit(text)
            self._jobs.put(_EndOfUtterance(self._utterance, self._index))
            self._next_utterance(cancelled=False)

    def speak(self, text: str) -> None:
        """A whole text at once (``feed`` + ``finish``)."""
        self.feed(text)
        self.finish()

    def cancel(self) -> None:
        """Barge-in: silence now, forget the rest of the utterance. Returns within milliseconds."""
        with self._lock:
            self._next_utterance(cancelled=True)
            self._drain_jobs()
            self.synthesizer.cancel()
            if self.player is not None:
                self.player.stop()
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the last finished utterance has been played (or cancelled)."""
        return self._done.wait(timeout)

    def close(self) -> None:
        """Cancel and stop the synthesis thread; the player is closed too."""
        self.cancel()
        self._jobs.put(_CLOSE)
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
        if self.player is not None:
            self.player.close()

    # -- rendering ------------------------------------------------------------------------------
    def render(self, text: str | Iterable[str]) -> RenderedSpeech:
        """Split and synthesize ``text`` (a string or its deltas) into one array, without playing.

        Runs on the calling thread; SentenceSynthesized / SpeechFinished events are emitted, and
        a failing or stalled voice raises :class:`SynthesisError`.
        """
        splitter = self._new_splitter()
        deltas = [text] if isinstance(text, str) else text
        sentences = [s for delta in deltas for s in splitter.feed(delta)] + splitter.flush()
        parts: list[np.ndarray] = []
        offsets: list[tuple[int, str, float]] = []
        samples = 0
        rate = self.synthesizer.sample_rate
        for index, sentence in enumerate(sentences):
            offsets.append((index, sentence, samples / rate))
            t_first = None
            start = samples
            for pcm in self.synthesizer.synthesize(sentence, self.voice):
                t_first = t_first or time.monotonic()
                parts.append(np.asarray(pcm, np.float32))
                samples += len(pcm)
            now = time.monotonic()
            self._emit(
                SentenceSynthesized(-1, index, sentence, t_first or now, now, (samples - start) / rate)
            )
        self._emit(SpeechFinished(-1, len(sentences), time.monotonic()))
        pcm = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return RenderedSpeech(pcm, rate, offsets)

    # -- internals ------------------------------------------------------------------------------
    def _require_player(self) -> None:
        if self.player is None:
            raise RuntimeError("this SpeechPipeline has no player; use render()")

    def _submit(self, text: str) -> None:
        self._jobs.put(_Sentence(self._utterance, self._index, text))
        self._emit(SentenceQueued(self._utterance, self._index, text, time.monotonic()))
        self._index += 1

    def _next_utterance(self, cancelled: bool) -> None:
        self._utterance += 1
        self._index = 0
        if cancelled:
            self._alive_from = self._utterance
        self._splitter = self._new_splitter()

    def _drain_jobs(self) -> None:
        try:
            while True:
                job = self._jobs.get_nowait()
                if job is _CLOSE:  # keep a pending close request
                    self._jobs.put(job)
                    return
        except queue.Empty:
            return

    def _live(self, utterance: int) -> bool:
        """Still wanted? finish() moves on to the next number while the old one is still spoken;
        only cancel() kills utterances."""
        return utterance >= self._alive_from

    def _synthesis_loop(self) -> None:
        assert self.player is not None
        while True:
            job = self._jobs.get()
            if job is _CLOSE:
                return
            if isinstance(job, _EndOfUtterance):
                if not self._live(job.utterance) or self._failed == job.utterance:
                    continue
                if job.sentences:
                    self._end_playback(job)
                else:
                    self._finished(job)
                continue
            assert isinstance(job, _Sentence)
            if self._live(job.utterance) and self._failed != job.utterance:
                self._speak_sentence(job)

    def _speak_sentence(self, job: _Sentence) -> None:
        assert self.player is not None
        rate = self.synthesizer.sample_rate
        t_first: float | None = None
        samples = 0
        try:
            for pcm in self.synthesizer.synthesize(job.text, self.voice):
                first = t_first is None
                t_first = time.monotonic() if first else t_first
                with self._lock:  # atomic with cancel(): no chunk of a cancelled answer gets queued
                    if not self._live(job.utterance):
                        return
                    self._sounding = job.utterance
                    self.player.play(pcm, rate, marker=job if first else None)
                samples += len(pcm)
        except OlaError as error:
            self._fail(job.utterance, error)
            return
        except Exception as error:  # the synthesizer is wrapped, but a player error may surface here
            self._fail(job.utterance, SynthesisError(f"Speaking failed ({error})."))
            return
        now = time.monotonic()
        self._emit(
            SentenceSynthesized(job.utterance, job.index, job.text, t_first or now, now, samples / rate)
        )

    def _fail(self, utterance: int, error: OlaError) -> None:
        log.warning("speech failed: %s", error)
        self._failed = utterance
        self._emit(SpeechError(utterance, error, time.monotonic()))
        if self.player is not None:  # what was already synthesized still plays
            self._end_playback(_EndOfUtterance(utterance, -1))

    def _end_playback(self, end: _EndOfUtterance) -> None:
        """Let the player play out and report ``end``; a device that is gone ends the answer."""
        assert self.player is not None
        try:
            self.player.end(marker=end)
        except OlaError as error:  # e.g. no speaker at all: nothing left to wait for
            if self._failed != end.utterance:
                self._fail(end.utterance, error)
            else:
                self._done.set()

    def _on_player_event(self, event: PlayerEvent) -> None:
        if isinstance(event, ChunkStarted) and isinstance(event.marker, _Sentence):
            job = event.marker
            if self._live(job.utterance):
                self._emit(SentenceStarted(job.utterance, job.index, job.text, event.t))
        elif isinstance(event, PlaybackFinished) and isinstance(event.marker, _EndOfUtterance):
            if self._live(event.marker.utterance):
                self._finished(event.marker, event.t)
        elif isinstance(event, SpeakerLost):
            self._emit(SpeechError(self._sounding, event.error, event.t))
            self._done.set()

    def _finished(self, end: _EndOfUtterance, t: float | None = None) -> None:
        if end.sentences >= 0:  # -1: ended by an error, already reported
            self._emit(SpeechFinished(end.utterance, end.sentences, t or time.monotonic()))
        with self._lock:
            if end.utterance == self._utterance - 1 and self._index == 0:
                self._done.set()  # nothing newer is being spoken or fed

    def _emit(self, event: SpeechEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken listener must not stop speech
            log.exception("speech event handler failed")
