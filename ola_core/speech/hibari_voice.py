"""The default English voice: hibari-tts, an ONNX voice shipped inside its PyPI wheel.

Why this one (docs/speech-output-notes.md §2, re-measured in benchmarks/RESULTS.md "Speech"): it needs no
download (the "heart" voice, distilled from Kokoro-82M, is inside the 14 MB wheel), depends only
on numpy + onnxruntime (no torch), is Apache-2.0, and runs ~50-100× faster than real time on one
CPU core, so it never competes seriously with the language model for the CPU. It speaks English
only; other languages go to espeak-ng (:mod:`ola_core.speech.espeak_voice`). Not chosen:
piper-tts + a voice wheel (GPL-3.0 runtime, 58 MB voice, 19× real time) and neural voices that
download their weights at run time (kokoro-onnx, sherpa-onnx, …).

hibari downloads its other voices from the Hugging Face hub on first use. The assistant never
triggers that: only voices already on disk (the bundled one, or one the user put in hibari's
cache) are offered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from ola_core.cancel import CancelToken
from ola_core.errors import SynthesisError
from ola_core.speech.synthesizer import Synthesizer

__all__ = ["HibariSynthesizer"]

_SAMPLE_RATE = 24_000  # hibari.SAMPLE_RATE; fixed by its vocoder (hop 300 at 24 kHz)


class HibariSynthesizer(Synthesizer):
    """English speech from hibari; one chunk per sentence hibari's own text splitter finds."""

    name = "hibari"
    sample_rate = _SAMPLE_RATE
    languages = frozenset({"en"})

    def __init__(self, voice: str = "heart", threads: int = 1, speed: float = 1.0) -> None:
        self.default_voice = voice
        self.threads = threads
        self.speed = speed
        self._engines: dict[str, Any] = {}  # voice name -> hibari.Hibari, loaded on first use
        self._lock = threading.Lock()

    @staticmethod
    def unavailable_reason() -> str | None:
        """None when the package is installed, else what to do about it."""
        try:
            import hibari  # noqa: F401
        except ImportError:
            return "the hibari-tts package is not installed (pip install hibari-tts)"
        return None

    def voices(self) -> tuple[str, ...]:
        from hibari.voices import VOICES, voice_path

        present = []
        for name in VOICES:
            try:
                voice_path(name, download_missing=False)
            except FileNotFoundError:
                continue
            present.append(name)
        return tuple(present)

    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        engine = self._engine(voice or self.default_voice)
        for phonemes in engine.phonemize(text):
            if cancel is not None and cancel.is_set():
                return
            pcm = engine.from_ids(engine.ids(phonemes), self.speed)
            yield np.asarray(pcm, dtype=np.float32)  # (n,) 24 kHz

    def _engine(self, voice: str) -> Any:
        with self._lock:  # warm_up() and the synthesis thread may race for the first load
            if voice not in self._engines:
                if voice not in self.voices():
                    raise SynthesisError(
                        f"The hibari voice {voice!r} is not on this computer; available: "
                        f"{', '.join(self.voices())}. Choose one of those in the settings."
                    )
                from ola_core.privacy import onnxruntime_module

                onnxruntime_module()  # telemetry off before hibari opens its session
                from hibari import Hibari

                self._engines[voice] = Hibari(voice=voice, threads=self.threads)
            return self._engines[voice]
