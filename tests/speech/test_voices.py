"""The offline voices speak audibly, in proportion to the text, and are routed by language."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import numpy as np
import pytest

from ola_core.cancel import CancelToken
from ola_core.errors import SynthesisError
from ola_core.speech import selection
from ola_core.speech.espeak_voice import EspeakSynthesizer
from ola_core.speech.hibari_voice import HibariSynthesizer
from ola_core.speech.language import detect_language
from ola_core.speech.selection import LanguageRouter, list_voices, select_synthesizer
from ola_core.speech.synthesizer import Synthesizer

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

EN_SHORT = "The red mug is on the desk."
EN_LONG = (
    "The red mug is on the desk, next to a laptop and a notebook. The window behind it is open, "
    "and the afternoon light falls on a stack of papers that still need to be read."
)
ZH_SHORT = "你桌上有一个红色的杯子。"
ZH_LONG = (
    "你桌上有一个红色的杯子，旁边是一台笔记本电脑和一个本子。窗户开着，下午的阳光照在一叠还没有读完的文件上。"
)


def _render(synth: Synthesizer, text: str) -> np.ndarray:
    chunks = list(synth.synthesize(text))
    assert chunks and all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    return np.concatenate(chunks)


def _check_speech(synth: Synthesizer, short: str, long: str) -> None:
    a, b = _render(synth, short), _render(synth, long)
    for pcm in (a, b):
        assert np.isfinite(pcm).all() and np.abs(pcm).max() <= 1.0
        assert np.sqrt(np.mean(pcm**2)) > 0.01  # audible, not silence or noise floor
    seconds_short, seconds_long = len(a) / synth.sample_rate, len(b) / synth.sample_rate
    assert 0.8 < seconds_short < 6.0
    ratio = seconds_long / seconds_short
    assert 0.4 * len(long) / len(short) < ratio < 2.0 * len(long) / len(short)


@pytest.fixture(scope="module")
def hibari() -> HibariSynthesizer:
    synth = HibariSynthesizer()
    synth.warm_up()
    return synth


def test_hibari_speaks_english(hibari: HibariSynthesizer) -> None:
    assert hibari.sample_rate == 24_000
    _check_speech(hibari, EN_SHORT, EN_LONG)


def test_hibari_offers_only_voices_on_disk_and_never_downloads(hibari: HibariSynthesizer) -> None:
    assert "heart" in hibari.voices()
    missing = {"emma", "fenrir", "fable", "kore"} - set(hibari.voices())
    if missing:
        with pytest.raises(SynthesisError, match="not on this computer"):
            list(hibari.synthesize("Hello there.", voice=sorted(missing)[0]))


def test_hibari_stops_between_sentences_when_cancelled(hibari: HibariSynthesizer) -> None:
    token = CancelToken()
    stream = hibari.synthesize(
        "First sentence here. Second sentence here. Third sentence here.", cancel=token
    )
    next(stream)
    token.cancel()
    assert list(stream) == []


@needs_espeak
def test_espeak_speaks_chinese_and_english() -> None:
    synth = EspeakSynthesizer()
    _check_speech(synth, ZH_SHORT, ZH_LONG)
    _check_speech(synth, EN_SHORT, EN_LONG)


@needs_espeak
def test_espeak_cancel_kills_the_process() -> None:
    synth = EspeakSynthesizer()
    token = CancelToken()
    stream = synth.synthesize(ZH_LONG * 5, cancel=token)
    next(stream)
    token.cancel()  # its callback kills the espeak-ng process at once
    rest = list(stream)
    assert sum(len(c) for c in rest) < 5 * synth.sample_rate


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hello there.", "en"),
        ("你好。", "zh"),
        ("我喜欢Python。", "zh"),
        ("こんにちは、世界。", "ja"),
        ("안녕하세요.", "ko"),
        ("Привет.", "ru"),
        ("3.14", "en"),
        ("", "en"),
    ],
)
def test_language_is_detected_from_the_script(text: str, language: str) -> None:
    assert detect_language(text) == language


@needs_espeak
def test_auto_routes_chinese_to_espeak_and_english_to_hibari() -> None:
    synth = select_synthesizer("auto")
    assert isinstance(synth, LanguageRouter)
    assert synth.synthesizer_for(EN_SHORT).name == "hibari"
    assert synth.synthesizer_for(ZH_SHORT).name == "espeak-ng"
    assert synth.sample_rate == 24_000
    routed = _render(synth, ZH_SHORT)
    direct = _render(EspeakSynthesizer(), ZH_SHORT)
    # Resampled 22.05 → 24 kHz: same duration, same loudness.
    assert abs(len(routed) / 24_000 - len(direct) / 22_050) < 0.05
    assert np.sqrt(np.mean(routed**2)) == pytest.approx(np.sqrt(np.mean(direct**2)), rel=0.1)


@needs_espeak
def test_a_chosen_engine_takes_every_language_it_speaks() -> None:
    assert select_synthesizer("espeak-ng").name == "espeak-ng"
    chosen = select_synthesizer("hibari")
    assert isinstance(chosen, LanguageRouter)
    assert chosen.synthesizer_for(EN_SHORT).name == "hibari"
    assert chosen.synthesizer_for(ZH_SHORT).name == "espeak-ng"  # hibari cannot speak Chinese


def test_unknown_or_unavailable_engines_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SynthesisError, match="no voice engine called"):
        select_synthesizer("nonexistent")
    monkeypatch.setattr(selection, "ENTRY_MODULES", ("ola_core.speech.no_such_engine",))
    rows = {name: reason for _, name, reason in list_voices()}
    assert "ModuleNotFoundError" in (rows["no_such_engine"] or "")


def test_a_registered_engine_with_higher_priority_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "ENTRY_MODULES", ("tests.speech.fakes",))
    synth = select_synthesizer("auto")
    assert isinstance(synth, LanguageRouter)
    assert synth.synthesizer_for(EN_SHORT).name == "tone"
    assert synth.synthesizer_for(ZH_SHORT).name == "espeak-ng"
    assert synth.sample_rate == max(16_000, EspeakSynthesizer.sample_rate)  # the highest member rate


def test_the_router_streams_text_through_the_engine_of_the_first_words() -> None:
    from tests.speech.fakes import ToneSynthesizer
    from tests.speech.test_streaming import PieceToneSynthesizer

    class SlowRate(ToneSynthesizer):  # a whole-text voice at another rate
        sample_rate = 8_000

    english, other = PieceToneSynthesizer(), SlowRate()
    router = LanguageRouter({"en": english}, other)
    assert router.streams_text_for("Tomorrow brings rain") and not router.streams_text_for("明天会下雨")
    consumed: list[str] = []

    def pieces() -> Iterator[str]:
        for word in ("Tomorrow", " brings", " rain."):
            consumed.append(word)
            yield word

    chunks = router.synthesize_pieces(pieces())
    first = next(chunks)
    assert consumed == ["Tomorrow"], "the first audio comes before the rest of the text"
    rest = list(chunks)
    assert [[w for _, w in call] for call in english.pieces] == [["Tomorrow", " brings", " rain."]]
    assert sum(len(c) for c in [first, *rest]) > 0 and other.calls == []
    # Text in a language the streaming voice does not take: resampled to the router's rate.
    whole = np.concatenate(list(router.synthesize_pieces(iter(["明天", "会下雨"]))))
    assert other.calls == ["明天会下雨"]
    assert len(whole) == pytest.approx(
        len("明天会下雨") * other.seconds_per_char * router.sample_rate, rel=0.05
    )
