"""The assistant's voice: one :class:`~ola_core.speech.pipeline.SpeechPipeline` for the whole conversation.

Each answer is one utterance of the pipeline; :meth:`SpeechOutput.begin` opens a
:class:`SpeechSession` for it, which routes the pipeline's events (sentence released, first audio,
sentence started playing, finished, failed) to the answer's listener — the
:class:`~ola_core.assistant.answer.AnswerRun`, which turns them into trace marks and
``SentenceSpoken`` events. The sink is the live :class:`~ola_core.speech.player.AudioPlayer`
(its played signal feeds the echo canceller) or, for ``replay``, a
:class:`~ola_core.speech.recording.RecordingSink` writing the answer to a wav (playing it too
when asked and a speaker exists).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ola_core.errors import OlaError
from ola_core.settings import Settings, VoiceSettings
from ola_core.speech.pipeline import (
    SentenceQueued,
    SentenceStarted,
    SentenceSynthesized,
    SpeechError,
    SpeechEvent,
    SpeechFinished,
    SpeechPipeline,
)
from ola_core.speech.player import AudioPlayer, AudioSink, PlayedAudio
from ola_core.speech.recording import RecordingSink
from ola_core.speech.selection import VoiceContext, select_synthesizer
from ola_core.speech.synthesizer import Synthesizer, WatchdogSynthesizer

log = logging.getLogger(__name__)

ReferenceTap = Callable[[np.ndarray, int, float], None]  # (pcm float32 (n,), sample_rate, DAC time of pcm[0])


class SpeechListener(Protocol):
    """What a session reports to (implemented by AnswerRun)."""

    def sentence_ready(self, index: int, text: str, t: float) -> None: ...
    def first_audio(self, t: float) -> None: ...
    def sentence_playing(self, index: int, text: str, t: float) -> None: ...
    def played(self, t: float) -> None: ...


class SpeechSession:
    """One answer being spoken: ``feed`` deltas, ``finish``, then ``wait_done``; or ``cancel``."""

    def __init__(self, output: SpeechOutput, utterance: int, listener: SpeechListener) -> None:
        self._output = output
        self.utterance = utterance
        self.listener = listener
        self._done = threading.Event()
        self.error: OlaError | None = None

    def feed(self, text: str) -> None:
        self._output.pipeline.feed(text)

    def finish(self) -> None:
        self._output.pipeline.finish()

    def cancel(self) -> None:
        """Silence now and drop the rest (returns within milliseconds)."""
        self._output.pipeline.cancel()
        self._done.set()

    def wait_done(self, timeout: float | None = None) -> OlaError | None:
        """Block until the last sample was played (or speaking failed); the error, if any."""
        self._done.wait(timeout)
        return self.error

    def _event(self, event: SpeechEvent) -> None:
        if isinstance(event, SentenceQueued):
            self.listener.sentence_ready(event.index, event.text, event.t)
        elif isinstance(event, SentenceSynthesized):
            self.listener.first_audio(event.t_first_chunk)
        elif isinstance(event, SentenceStarted):
            self.listener.sentence_playing(event.index, event.text, event.t)
        elif isinstance(event, SpeechFinished):
            self.listener.played(event.t)
            self._done.set()
        elif isinstance(event, SpeechError):
            self.error = event.error
            self._done.set()


class SpeechOutput:
    """Synthesizer + sink + pipeline, reconfigurable while the assistant runs."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        sink: AudioSink,
        *,
        voice: str | None = None,
        wav_path: Path | None = None,
        voice_key: tuple[VoiceSettings, str] | None = None,
    ) -> None:
        self._voice_key = voice_key
        self.sink = sink
        self.wav_path = wav_path
        self._reference: ReferenceTap | None = None
        self._lock = threading.Lock()
        self._session: SpeechSession | None = None
        self.pipeline = SpeechPipeline(synthesizer, sink, voice=voice, on_event=self._route)
        player = self._player()
        if player is not None:
            player.on_played = self._on_played

    @classmethod
    def from_settings(
        cls, settings: Settings, *, wav_path: Path | None = None, play: bool = True
    ) -> SpeechOutput:
        """The voice chosen in the settings, on the chosen speaker; with ``wav_path`` the answer is
        also recorded (and played only if ``play``)."""
        synthesizer = make_synthesizer(settings.voice, settings.language)
        player = AudioPlayer(settings.audio.speaker) if play else None
        sink: AudioSink = RecordingSink(player) if wav_path is not None else (player or RecordingSink(None))
        return cls(synthesizer, sink, wav_path=wav_path, voice_key=(settings.voice, settings.language))

    # ------------------------------------------------------------------ assistant side
    def begin(self, listener: SpeechListener) -> SpeechSession:
        """Open the session of a new answer (the previous one must have finished or been cancelled)."""
        session = SpeechSession(self, self.pipeline.utterance, listener)
        with self._lock:
            self._session = session
        if isinstance(self.sink, RecordingSink):
            self.sink.clear()  # the wav holds the latest answer
        return session

    def set_reference_tap(self, tap: ReferenceTap | None) -> None:
        """Where the played signal goes (the echo canceller); only a live player has one."""
        self._reference = tap

    def warm_up(self) -> None:
        self.pipeline.synthesizer.warm_up()

    def configure(self, voice: VoiceSettings, speaker: str | None, language: str) -> None:
        """New voice / speaker settings; a new voice takes over from the next sentence on."""
        player = self._player()
        if player is not None and player.device != speaker:
            player.set_device(speaker)
        if (voice, language) != self._voice_key:
            self.pipeline.synthesizer = WatchdogSynthesizer(make_synthesizer(voice, language))
            self._voice_key = (voice, language)

    @property
    def output_latency(self) -> float:
        """The output device's own latency in seconds (0 without a live player), for latency reports."""
        player = self._player()
        return player.output_latency if player is not None else 0.0

    def save_wav(self) -> Path | None:
        """Write the latest answer to ``wav_path`` (replay); None when not recording."""
        if self.wav_path is None or not isinstance(self.sink, RecordingSink):
            return None
        self.wav_path.parent.mkdir(parents=True, exist_ok=True)
        self.sink.save(self.wav_path)
        return self.wav_path

    def close(self) -> None:
        self.pipeline.close()

    # ------------------------------------------------------------------ internals
    def _player(self) -> AudioPlayer | None:
        if isinstance(self.sink, AudioPlayer):
            return self.sink
        if isinstance(self.sink, RecordingSink):
            return self.sink.player
        return None

    def _on_played(self, audio: PlayedAudio) -> None:
        tap = self._reference
        if tap is not None:
            tap(audio.pcm, audio.sample_rate, audio.t_start)

    def _route(self, event: SpeechEvent) -> None:
        with self._lock:
            session = self._session
        if session is None:
            return
        if isinstance(event, SpeechError) or event.utterance == session.utterance:
            session._event(event)


def make_synthesizer(voice: VoiceSettings, language: str) -> Synthesizer:
    """The synthesizer for the voice settings ("auto" or None: the best available for each language)."""
    context = VoiceContext(speed=voice.speaking_rate)
    try:
        return select_synthesizer(voice.voice or "auto", context)
    except OlaError:
        if not voice.voice or voice.voice == "auto":
            raise
        log.warning("voice %r unavailable; using the automatic choice", voice.voice)
        return select_synthesizer("auto", context)
