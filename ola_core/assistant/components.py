"""The parts one assistant drives, built from the settings unless a caller hands them in.

Tests, ``replay`` and benchmarks pass their own :class:`Components` (an engine on a tiny
checkpoint, a speech output writing a wav); the GUI lets :func:`build_components` make them from
the user's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ola_core.errors import OlaError
from ola_core.settings import Settings

if TYPE_CHECKING:
    from ola_core.assistant.answer import Engine
    from ola_core.assistant.speech_out import SpeechOutput


@dataclass
class Components:
    engine: Engine
    speech: SpeechOutput | None  # None: no voice can run here; answers are text only

    def replace_engine(self, settings: Settings) -> None:
        """A new (unloaded) engine for changed model settings; the old one is dropped."""
        self.engine = make_engine(settings)

    def close(self) -> None:
        if self.speech is not None:
            self.speech.close()


def make_engine(settings: Settings) -> Engine:
    """An unloaded OlaEngine for the model settings (loading happens on the assistant's loader thread)."""
    from ola_core.engine.engine import OlaEngine
    from ola_core.model.locator import BEATS_FILE_NAME, WHISPER_FILE_NAME

    model = settings.model
    encoders = Path(model.speech_encoders_dir).expanduser() if model.speech_encoders_dir else None
    return OlaEngine(
        Path(model.model_dir).expanduser() if model.model_dir else None,
        speech_encoder=encoders / WHISPER_FILE_NAME if encoders else None,
        music_encoder=encoders / BEATS_FILE_NAME if encoders else None,
        quantization=model.quantization,
        profile=model.profile,
        device=model.device,
    )


def build_components(settings: Settings, on_speech_error: Callable[[OlaError], None]) -> Components:
    """The engine and the live speech output (voice from the settings, played on the chosen speaker).

    Without any usable voice the assistant still answers in text; ``on_speech_error`` says why.
    """
    from ola_core.assistant.speech_out import SpeechOutput

    try:
        speech: SpeechOutput | None = SpeechOutput.from_settings(settings)
    except OlaError as error:
        on_speech_error(error)
        speech = None
    return Components(make_engine(settings), speech)
