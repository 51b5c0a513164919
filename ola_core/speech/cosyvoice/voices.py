"""CosyVoice2's voices out of the box: the default English and Chinese voices, and where voices live.

CosyVoice2-0.5B ships no speaker (``spk2info.pt`` is absent): it only speaks in a voice it has
heard. So that it speaks without the user cloning anything first, the two default voices are
cloned at first use from prompt clips this project makes itself — the offline voices reading a
fixed text (hibari for English, espeak-ng's Mandarin for Chinese), whose transcript is therefore
known exactly — through the same path as a user's own clip
(:class:`~ola_core.speech.cosyvoice.clone.VoiceCloner`). They are saved with the user's cloned
voices in ``<data dir>/cosyvoice_voices.pt`` and never made again.

Without a chosen voice, a sentence in Chinese is spoken by the Chinese default and everything
else by the English one (:func:`voice_for`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ola_core.errors import OlaError, SynthesisError
from ola_core.settings import data_dir
from ola_core.speech.cosyvoice.clone import VoiceCloner, load_voices, save_voice
from ola_core.speech.cosyvoice.loading import LoadedCosyVoice
from ola_core.speech.language import detect_language

__all__ = [
    "CHINESE_VOICE",
    "DEFAULT_PROMPTS",
    "ENGLISH_VOICE",
    "READ_ALOUD",
    "ensure_default_voices",
    "prompt_clip",
    "voice_for",
    "voice_names",
    "voices_file",
]

log = logging.getLogger(__name__)

ENGLISH_VOICE = "English (default)"
CHINESE_VOICE = "Chinese (default)"
# Default voice -> (language, what its prompt clip says). 4–8 s read aloud: in cloning's best range.
DEFAULT_PROMPTS: dict[str, tuple[str, str]] = {
    ENGLISH_VOICE: (
        "en",
        "Hello! I am your assistant. I can see what you show me and answer your questions.",
    ),
    CHINESE_VOICE: ("zh", "你好！我是你的助手。我能看到你给我看的东西，并回答你的问题。"),
}
# What the Clone dialog asks the user to read (by the language of the app's answers).
READ_ALOUD = {
    "en": "The sun was setting behind the hills, and a cool breeze carried the smell of fresh bread "
    "from the little bakery down the street.",
    "zh": "太阳慢慢落到山后，一阵凉风吹来，街角那家小面包店飘出了新鲜面包的香味。",
}
_make_lock = threading.Lock()  # two threads asking for the first voice make the defaults once


def voices_file() -> Path:
    """Where CosyVoice voices are kept: ``<data dir>/cosyvoice_voices.pt`` (``OLA_DATA_DIR`` moves it)."""
    return data_dir() / "cosyvoice_voices.pt"


def voice_names(path: Path | None = None) -> list[str]:
    """The voices a user can choose: the saved ones, and the defaults (made on first use)."""
    saved = list(load_voices(path or voices_file()))
    return [*(name for name in DEFAULT_PROMPTS if name not in saved), *saved]


def prompt_clip(language: str) -> tuple[np.ndarray, int, str]:
    """(mono float samples, their rate, transcript): an offline voice reading the default text."""
    from ola_core.speech.espeak_voice import EspeakSynthesizer
    from ola_core.speech.hibari_voice import HibariSynthesizer

    name = ENGLISH_VOICE if language == "en" else CHINESE_VOICE
    transcript = DEFAULT_PROMPTS[name][1]
    engines: list[type[HibariSynthesizer] | type[EspeakSynthesizer]] = (
        [HibariSynthesizer, EspeakSynthesizer] if language == "en" else [EspeakSynthesizer]
    )
    reasons = []
    for engine in engines:
        reason = engine.unavailable_reason()
        if reason is None:
            voice = engine()
            samples = np.concatenate([np.asarray(p, np.float32) for p in voice.synthesize(transcript)])
            return samples, voice.sample_rate, transcript
        reasons.append(reason)
    raise SynthesisError(
        f"The default {name} CosyVoice voice is made from an offline voice, and none can run: "
        f"{'; '.join(reasons)}. Clone a voice in the settings instead."
    )


def ensure_default_voices(
    model: LoadedCosyVoice, path: Path, names: Iterable[str] = DEFAULT_PROMPTS
) -> list[str]:
    """Clone the default voices not saved in ``path`` yet; returns the ones made now.

    A default that cannot be made (no offline voice, no cloning encoders) is skipped with a log
    line while others may still be made; :class:`SynthesisError` only when none exists afterwards.
    """
    made: list[str] = []
    with _make_lock:
        saved = load_voices(path)
        missing = [name for name in names if name not in saved]
        if not missing:
            return made
        errors = []
        cloner: VoiceCloner | None = None
        for name in missing:
            try:
                cloner = cloner or VoiceCloner(model)
                samples, rate, transcript = prompt_clip(DEFAULT_PROMPTS[name][0])
                save_voice(path, name, cloner.clone(samples, rate, transcript))
                made.append(name)
                log.info("made the default CosyVoice voice %r in %s", name, path)
            except OlaError as error:
                log.warning("could not make the default CosyVoice voice %r: %s", name, error)
                errors.append(str(error))
        if not load_voices(path) and errors:
            raise SynthesisError(f"CosyVoice has no voice and could not make its default ones: {errors[0]}")
    return made


def voice_for(text: str, available: Iterable[str], chosen: str | None = None) -> str | None:
    """The voice for ``text``: the chosen one when it exists, else the default of its language."""
    names = list(available)
    if chosen in names:
        return chosen
    preferred = CHINESE_VOICE if detect_language(text) == "zh" else ENGLISH_VOICE
    if preferred in names:
        return preferred
    return names[0] if names else None
