"""SpeechPipeline: text deltas → sentences → synthesized audio → speaker, with barge-in.

The assistant's answer thread feeds model text as it streams (:meth:`SpeechPipeline.feed`).
Finished sentences go to one synthesis thread (sentences are synthesized in order, one at a
time, so a GPU voice never runs two requests at once), which queues each chunk on the
:class:`~ola_core.speech.player.AudioPlayer` as soon as it exists: sentence n+1 is synthesized
while sentence n plays, and the first audio starts after the first sentence's first chunk,
not after the answer. With a voice that streams text (CosyVoice2) a sentence's synthesis starts
as soon as its first few words exist, before the splitter releases it (:mod:`ola_core.speech.streaming`).

Every utterance (one answer) belongs to a turn and has that turn's
:class:`~ola_core.cancel.CancelToken` (:meth:`begin`). Its sentences, the synthesizer calls and
the player's notices all carry the token: once it is set (barge-in, from any thread) the
synthesis thread skips the turn's queued sentences, the synthesizer stops between chunks, and
the pipeline's cancel callback silences the player, so nothing of the old answer can be heard
after ``cancel`` returns. The synthesis thread lives as long as the pipeline; per-sentence
workers (the watchdog's) end with their sentence or at the cancel.

Events: one vocabulary, :data:`SpeechEvent`. Each carries the turn it belongs to (and the
sentence index where there is one) and goes straight to ``on_event`` (the assistant's inbox), on
the thread where it happens: feed (queued), synthesis (synthesized, errors) or the player's
dispatcher (started playing, finished).

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

from ola_core.cancel import CancelToken
from ola_core.errors import OlaError, SynthesisError
from ola_core.speech.player import AudioSink, ChunkStarted, PlaybackFinished, PlayerEvent, SpeakerLost
from ola_core.speech.splitter import SentenceSplitter
from ola_core.speech.streaming import MIN_STREAM_WORDS, PieceStream, stable_prefix, word_count
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
    """The splitter released sentence ``index`` of ``turn``'s answer (a voice that streams text: its
    first words came, ``text`` holds them); it waits for the synthesizer."""

    turn: int
    index: int
    text: str
    t: float


@dataclass(frozen=True)
class SentenceSynthesized:
    """Sentence ``index`` of ``turn``'s answer is fully synthesized."""

    turn: int
    index: int
    text: str
    t_first_chunk: float  # time.monotonic() when its first audio chunk existed
    t: float  # when its last chunk existed
    audio_seconds: float


@dataclass(frozen=True)
class SentenceStarted:
    """The first sample of sentence ``index`` reached the speaker at ``t`` (the GUI highlights it).

    A streamed sentence is reported once its text is complete too (``t`` stays when it played)."""

    turn: int
    index: int
    text: str
    t: float


@dataclass(frozen=True)
class SpeechFinished:
    """The last sample of ``turn``'s answer (``sentences`` sentences) was played at ``t`` (or,
    when rendering, synthesized)."""

    turn: int
    sentences: int
    t: float


@dataclass(frozen=True)
class SpeechError:
    """Speaking ``turn``'s answer failed at sentence ``index`` (-1: not at a sentence: the speaker
    went away); the rest of the answer is dropped."""

    turn: int
    index: int
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


@dataclass(eq=False)
class _Utterance:
    """One answer being spoken; its jobs and the player's markers point at it."""

    turn: int
    token: CancelToken
    sentences: int = 0  # handed out so far
    failed: bool = False  # synthesis failed: its remaining sentences are dropped
    stream: PieceStream[_Utterance] | None = None  # the sentence being written, streamed to the voice
    carried: str = ""  # words the last streamed sentence spoke beyond its chunk (the next one skips them)
    unlink: Callable[[], None] = lambda: None  # removes the pipeline's callback from the token


@dataclass(frozen=True)
class _Sentence:
    utterance: _Utterance
    index: int
    text: str


@dataclass(frozen=True)
class _EndOfUtterance:
    utterance: _Utterance


_Job = _Sentence | PieceStream[_Utterance]
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
        self._current: _Utterance | None = None  # the utterance feed() adds to
        self._open: list[_Utterance] = []  # begun and not yet finished, failed or cancelled
        self._sounding: _Utterance | None = None  # whose audio was queued last (a lost device ends it)
        # feed/finish/cancel come from different threads; re-entrant so that an event handler (called
        # under it for SentenceQueued) may cancel
        self._lock = threading.RLock()
        self._jobs: queue.SimpleQueue[_Job | _EndOfUtterance | object] = queue.SimpleQueue()
        self._done = threading.Event()
        self._done.set()
        self._worker: threading.Thread | None = None
        if player is not None:
            player.on_event = self._on_player_event
            self._worker = threading.Thread(target=self._synthesis_loop, name="speech-synthesis", daemon=True)
            self._worker.start()

    # -- speaking -------------------------------------------------------------------------------
    def begin(self, turn: int, cancel: CancelToken | None = None) -> CancelToken:
        """Start speaking ``turn``'s answer; setting ``cancel`` (a new token if None) silences it.

        The previous utterance must be finished (``finish``) or cancelled; it plays out first.
        """
        self._require_player()
        token = cancel if cancel is not None else CancelToken()
        utterance = _Utterance(turn, token)
        with self._lock:
            self._current = utterance
            self._open.append(utterance)
            self._splitter = self._new_splitter()
            self._done.clear()
        utterance.unlink = token.on_cancel(lambda _: self._silence(utterance))
        return token

    def feed(self, delta: str, cancel: CancelToken | None = None) -> None:
        """More text of the current utterance (begins one, numbered after the last, if none is).

        ``cancel``: the turn's token; text that comes after it was set is dropped (checked under
        the lock that the cancel's silencing takes, so it can never begin a new utterance)."""
        self._require_player()
        with self._lock:
            if cancel is not None and cancel.is_set():
                return
            utterance = self._current_or_new()
            for text in self._splitter.feed(delta):
                self._release(utterance, text)
            self._stream_pending(utterance)

    def finish(self, cancel: CancelToken | None = None) -> None:
        """The text is complete: speak what is left, then report SpeechFinished (nothing once
        ``cancel``, the turn's token, is set: see :meth:`feed`)."""
        self._require_player()
        with self._lock:
            if cancel is not None and cancel.is_set():
                return
            utterance = self._current_or_new()
            for text in self._splitter.flush():
                self._release(utterance, text)
            if utterance.stream is not None:  # not expected: the splitter releases all it had
                self._release(utterance, utterance.stream.text)
            self._jobs.put(_EndOfUtterance(utterance))
            self._current = None

    def speak(self, text: str) -> None:
        """A whole text at once (``feed`` + ``finish``)."""
        self.feed(text)
        self.finish()

    def cancel(self) -> None:
        """Barge-in: cancel every utterance still being spoken. Returns within milliseconds."""
        with self._lock:
            utterances = list(self._open)
        for utterance in utterances:
            utterance.token.cancel("stopped")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every finished utterance has been played (or cancelled)."""
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

        Runs on the calling thread; SentenceSynthesized / SpeechFinished events (turn -1) are
        emitted, and a failing or stalled voice raises :class:`SynthesisError`.
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

    def _current_or_new(self) -> _Utterance:
        """Called under the lock."""
        if self._current is None:
            last = self._open[-1].turn if self._open else -1
            self.begin(last + 1)
        assert self._current is not None
        return self._current

    def _release(self, utterance: _Utterance, text: str) -> None:
        """The splitter released a chunk: it ends the open stream, or is synthesized whole."""
        stream, utterance.stream = utterance.stream, None
        if stream is not None:
            utterance.carried, t_started = stream.finish(text)
            if t_started is not None and not utterance.token.is_set():
                self._emit(SentenceStarted(utterance.turn, stream.index, text, t_started))
            return
        if utterance.carried:  # its first words were spoken already
            text = text.removeprefix(utterance.carried).strip()
            utterance.carried = ""
        if text:
            self._submit(utterance, _Sentence(utterance, utterance.sentences, text))

    def _stream_pending(self, utterance: _Utterance) -> None:
        """A voice that streams text gets the next sentence's words as they come (streaming.py)."""
        if utterance.token.is_set() or utterance.failed:
            return
        stable = stable_prefix(self._splitter.pending())
        if utterance.stream is None:
            if word_count(stable) - word_count(utterance.carried) < MIN_STREAM_WORDS:
                return
            if not self.synthesizer.streams_text_for(stable):
                return
            utterance.stream = PieceStream(utterance, utterance.sentences, utterance.token, utterance.carried)
            utterance.carried = ""
            utterance.stream.push(stable)
            self._submit(utterance, utterance.stream)
        else:
            utterance.stream.push(stable)

    def _submit(self, utterance: _Utterance, job: _Job) -> None:
        self._jobs.put(job)
        self._emit(SentenceQueued(utterance.turn, job.index, job.text, time.monotonic()))
        utterance.sentences += 1

    def _silence(self, utterance: _Utterance) -> None:
        """The token's callback (on the cancelling thread): the player falls silent now.

        Atomic with the synthesis thread's ``play`` (the lock): no chunk of a cancelled answer
        is queued after this. Its queued sentences are skipped by the synthesis thread.
        """
        with self._lock:
            if utterance not in self._open:
                return  # already played out: the player may be speaking a newer answer
            sounding = self._sounding is utterance
            self._close(utterance)
            if sounding and self.player is not None:
                self.player.stop()

    def _close(self, utterance: _Utterance) -> None:
        """It ends (played, failed or cancelled); under the lock."""
        if utterance in self._open:
            self._open.remove(utterance)
            utterance.unlink()
        if self._current is utterance:
            self._current = None
        if not self._open:
            self._done.set()

    def _synthesis_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _CLOSE:
                return
            assert isinstance(job, _Sentence | PieceStream | _EndOfUtterance)
            utterance = job.utterance
            if utterance.token.is_set() or utterance.failed:
                continue
            if isinstance(job, _EndOfUtterance):
                if utterance.sentences:
                    self._end_playback(utterance)
                else:
                    self._finished(utterance)
            else:
                self._speak_sentence(job)

    def _speak_sentence(self, job: _Job) -> None:
        assert self.player is not None
        utterance = job.utterance
        rate = self.synthesizer.sample_rate
        t_first: float | None = None
        samples = 0
        audio = (
            self.synthesizer.synthesize_pieces(job.pieces(), self.voice, utterance.token)
            if isinstance(job, PieceStream)
            else self.synthesizer.synthesize(job.text, self.voice, utterance.token)
        )
        try:
            for pcm in audio:
                first = t_first is None
                t_first = time.monotonic() if first else t_first
                with self._lock:  # atomic with _silence(): no chunk of a cancelled answer gets queued
                    if utterance.token.is_set():
                        return
                    self._sounding = utterance
                    self.player.play(pcm, rate, marker=job if first else None, cancel=utterance.token)
                samples += len(pcm)
        except OlaError as error:
            self._fail(job, error)
            return
        except Exception as error:  # the synthesizer is wrapped, but a player error may surface here
            self._fail(job, SynthesisError(f"Speaking failed ({error})."))
            return
        now = time.monotonic()
        self._emit(
            SentenceSynthesized(utterance.turn, job.index, job.text, t_first or now, now, samples / rate)
        )

    def _fail(self, job: _Job | _EndOfUtterance, error: OlaError) -> None:
        log.warning("speech failed: %s", error)
        utterance = job.utterance
        utterance.failed = True
        index = -1 if isinstance(job, _EndOfUtterance) else job.index
        self._emit(SpeechError(utterance.turn, index, error, time.monotonic()))
        self._end_playback(utterance)  # what was already synthesized still plays

    def _end_playback(self, utterance: _Utterance) -> None:
        """Let the player play out and report the end; a device that is gone ends the answer."""
        assert self.player is not None
        try:
            self.player.end(marker=_EndOfUtterance(utterance), cancel=utterance.token)
        except OlaError as error:  # e.g. no speaker at all: nothing left to wait for
            if not utterance.failed:
                self._fail(_EndOfUtterance(utterance), error)
            else:
                with self._lock:
                    self._close(utterance)

    def _on_player_event(self, event: PlayerEvent) -> None:
        if isinstance(event, ChunkStarted) and isinstance(event.marker, _Sentence):
            job = event.marker
            if not job.utterance.token.is_set():
                self._emit(SentenceStarted(job.utterance.turn, job.index, job.text, event.t))
        elif isinstance(event, ChunkStarted) and isinstance(event.marker, PieceStream):
            stream = event.marker  # reported now if its text is complete, else when it is (_release)
            if stream.started(event.t) and not stream.utterance.token.is_set():
                self._emit(SentenceStarted(stream.utterance.turn, stream.index, stream.text, event.t))
        elif isinstance(event, PlaybackFinished) and isinstance(event.marker, _EndOfUtterance):
            if not event.marker.utterance.token.is_set():
                self._finished(event.marker.utterance, event.t)
        elif isinstance(event, SpeakerLost):
            utterance = self._sounding
            if utterance is not None and utterance in self._open:
                self._emit(SpeechError(utterance.turn, -1, event.error, event.t))
            with self._lock:
                for dropped in list(self._open):  # the player dropped everything queued
                    self._close(dropped)

    def _finished(self, utterance: _Utterance, t: float | None = None) -> None:
        if not utterance.failed:  # a failure was reported already
            self._emit(SpeechFinished(utterance.turn, utterance.sentences, t or time.monotonic()))
        with self._lock:
            self._close(utterance)

    def _emit(self, event: SpeechEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a broken listener must not stop speech
            log.exception("speech event handler failed")
