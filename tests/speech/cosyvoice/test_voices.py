"""CosyVoice2 speaks out of the box: the default voices are cloned at first use from clips the
offline voices make, the choice follows the sentence's language, and they live in the data folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ola_core.errors import SynthesisError
from ola_core.speech.cosyvoice import voices
from ola_core.speech.cosyvoice.clone import load_voices
from ola_core.speech.cosyvoice.loading import LoadedCosyVoice
from ola_core.speech.cosyvoice.runtime import CosyVoiceRuntime
from ola_core.speech.cosyvoice.synthesizer import CosyVoiceSynthesizer, default_voices_file
from ola_core.speech.cosyvoice.voices import CHINESE_VOICE, ENGLISH_VOICE


def test_voices_live_in_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLA_DATA_DIR", str(tmp_path))
    assert default_voices_file() == voices.voices_file() == tmp_path / "cosyvoice_voices.pt"
    assert voices.voice_names() == [ENGLISH_VOICE, CHINESE_VOICE]  # offered before they are made


def test_the_voice_follows_the_language_unless_one_is_chosen() -> None:
    both = [ENGLISH_VOICE, CHINESE_VOICE, "me"]
    assert voices.voice_for("Hello there.", both) == ENGLISH_VOICE
    assert voices.voice_for("你好，世界。", both) == CHINESE_VOICE
    assert voices.voice_for("你好", both, chosen="me") == "me"
    assert voices.voice_for("Hello", both, chosen="gone") == ENGLISH_VOICE  # a deleted choice falls back
    assert voices.voice_for("Hello", ["me"]) == "me"
    assert voices.voice_for("Hello", []) is None


@pytest.mark.parametrize("language", ["en", "zh"])
def test_prompt_clips_are_the_offline_voice_reading_its_transcript(language: str) -> None:
    samples, rate, transcript = voices.prompt_clip(language)
    seconds = len(samples) / rate
    assert 3.0 <= seconds <= 12.0, seconds  # in cloning's working range
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence
    assert transcript == voices.DEFAULT_PROMPTS[ENGLISH_VOICE if language == "en" else CHINESE_VOICE][1]


def test_no_offline_voice_gives_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from ola_core.speech.espeak_voice import EspeakSynthesizer

    monkeypatch.setattr(EspeakSynthesizer, "unavailable_reason", staticmethod(lambda: "espeak-ng is missing"))
    with pytest.raises(SynthesisError, match="espeak-ng is missing"):
        voices.prompt_clip("zh")


def test_first_use_makes_both_defaults_once_and_speaks(
    tiny_cosyvoice_dir: Path, tiny_cosyvoice: LoadedCosyVoice, tmp_path: Path
) -> None:
    path = tmp_path / "cosyvoice_voices.pt"
    shipped_none = dataclasses.replace(tiny_cosyvoice, speakers={})  # as CosyVoice2-0.5B: no spk2info.pt
    synth = CosyVoiceSynthesizer(tiny_cosyvoice_dir, "cpu", greedy=True, voices_file=path)
    synth._runtime = CosyVoiceRuntime(shipped_none, greedy=True)
    assert not path.exists()
    chinese = synth.voice_prompt(None, "今天天气很好。")
    assert set(load_voices(path)) == {ENGLISH_VOICE, CHINESE_VOICE}
    saved = load_voices(path)
    assert (
        chinese.prompt_text is not None
        and chinese.prompt_text.tolist() == saved[CHINESE_VOICE]["prompt_text"].tolist()
    )
    english = synth.voice_prompt(None, "Good morning.")
    assert (
        english.prompt_text is not None
        and english.prompt_text.tolist() == saved[ENGLISH_VOICE]["prompt_text"].tolist()
    )
    pcm = np.concatenate(list(synth.synthesize("Hi.")))
    assert len(pcm) > 0 and np.isfinite(pcm).all()
    assert voices.ensure_default_voices(shipped_none, path) == []  # never made twice
