"""The assistant's voice: one :class:`~ola_core.speech.pipeline.SpeechPipeline` for the whole conversation.

Each answer is one utterance of the pipeline, begun with the turn's id and cancel token
(:meth:`SpeechOutput.begin`). The pipeline's events go straight to the listener set with
:meth:`SpeechOutput.set_listener` (the assistant's inbox); each carries its turn. The sink is the
live :class:`~ola_core.speech.player.AudioPlayer` (its played signal feeds the echo canceller;
the speaker name is resolved here, with the capture layer's device lookup) or, for ``replay``, a
:class:`~ola_core.speech.recording.RecordingSink` writing the answer to a wav (playing it too
when asked and a speaker exists).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ola_core.cancel import CancelToken
from ola_core.capture.devices import stream_target
from ola_core.errors import OlaError
from ola_core.settings import Settings, VoiceSettings
from ola_core.speech.pipeline import SpeechEvent, SpeechPipeline
from ola_core.speech.player import AudioPlayer, AudioSink, OutputTarget, PlayedAudio
from ola_core.speech.recording import RecordingSink
from ola_core.speech.selection import VoiceContext, select_synthesizer
from ola_core.speech.synthesizer import Synthesizer, WatchdogSynthesizer

log = logging.getLogger(__name__)

ReferenceTap = Callable[[np.ndarray, int, float], None]  # (pcm float32 (n,), sample_rate, DAC time of pcm[0])


def locate_speaker(name: str | None) -> OutputTarget:
    """Where the player opens its stream for the speaker ``name`` (None: the system default)."""
    return stream_target("output", name)


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
        self.pipeline = SpeechPipeline(synthesizer, sink, voice=voice)
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
        player = AudioPlayer(settings.audio.speaker, locate=locate_speaker) if play else None
        sink: AudioSink = RecordingSink(player) if wav_path is not None else (player or RecordingSink(None))
        return cls(synthesizer, sink, wav_path=wav_path, voice_key=(settings.voice, settings.language))

    # ------------------------------------------------------------------ assistant side
    def set_listener(self, on_event: Callable[[SpeechEvent], None] | None) -> None:
        """Where every speech event goes (the assistant's inbox), on the thread it happens on."""
        self.pipeline.on_event = on_event

    def begin(self, turn: int, cancel: CancelToken) -> SpeechPipeline:
        """Start speaking ``turn``'s answer (the previous one finished or was cancelled); feed the
        returned pipeline, then ``finish`` it."""
        if isinstance(self.sink, RecordingSink):
            self.sink.clear()  # the wav holds the latest answer
        self.pipeline.begin(turn, cancel)
        return self.pipeline

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
