"""Preview and clone CosyVoice voices for the settings: one model, loaded on first need.

The GUI's voice picker and Clone dialog call these from a worker thread (a first call loads the
model, and on a CPU synthesis is slower than real time); nothing here touches Qt.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ola_core.errors import SynthesisError
from ola_core.speech.cosyvoice.synthesizer import DEVICE_VARIABLE, CosyVoiceSynthesizer, find_model_dir
from ola_core.speech.cosyvoice.voices import CHINESE_VOICE, voice_names, voices_file
from ola_core.speech.selection import VoiceContext

__all__ = ["PREVIEW_TEXT", "VoiceStudio", "play"]

PREVIEW_TEXT = {
    "en": "Hello! This is how I sound when I answer you.",
    "zh": "你好！我回答你的时候，就是这个声音。",
}


class VoiceStudio:
    """The CosyVoice voices of this computer: list, preview, clone."""

    def __init__(
        self, model_dir: Path | None = None, device: str | None = None, voices_path: Path | None = None
    ) -> None:
        self.model_dir = model_dir
        self.device = device or os.environ.get(DEVICE_VARIABLE) or None
        self.voices_path = voices_path or voices_file()
        self._synthesizer: CosyVoiceSynthesizer | None = None

    def names(self) -> list[str]:
        return voice_names(self.voices_path)

    def synthesizer(self) -> CosyVoiceSynthesizer:
        if self._synthesizer is None:
            folder = self.model_dir or find_model_dir(VoiceContext())
            if folder is None:
                raise SynthesisError(
                    "The CosyVoice2 model is not downloaded: run `ola-assistant download` to hear or clone voices."
                )
            self._synthesizer = CosyVoiceSynthesizer(folder, self.device, voices_file=self.voices_path)
        return self._synthesizer

    def preview(self, name: str | None) -> tuple[np.ndarray, int]:
        """(samples, rate) of ``name`` (None: the English default) saying a short sentence."""
        synthesizer = self.synthesizer()
        text = PREVIEW_TEXT["zh" if name == CHINESE_VOICE else "en"]
        chunks = list(synthesizer.synthesize(text, name))
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return samples.astype(np.float32), synthesizer.sample_rate

    def clone(self, name: str, samples: np.ndarray, sample_rate: int, transcript: str) -> None:
        """Save a new voice ``name`` from a mono clip and what it says (errors say what to fix)."""
        if not name.strip():
            raise SynthesisError("Give the new voice a name.")
        self.synthesizer().clone_voice(name.strip(), samples, sample_rate, transcript)


def play(samples: np.ndarray, sample_rate: int, device: str | None = None) -> None:
    """Play on the speaker (``device``: a name; None: the system default) and wait for the end."""
    import sounddevice

    try:
        sounddevice.play(samples, sample_rate, device=device)
        sounddevice.wait()
    except (sounddevice.PortAudioError, ValueError) as error:
        raise SynthesisError(
            f"The preview could not be played on {device or 'the default speaker'}: {error}"
        ) from error
