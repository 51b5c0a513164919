"""Endpointer pauses (speculative start) and the adaptive end-of-turn wait."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ola_core.capture.events import (
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SustainedSpeech,
)
from ola_core.capture.pcm import SAMPLE_RATE
from ola_core.capture.turn_end import MIN_WAIT_MS
from ola_core.capture.vad import Endpointer, EndpointerConfig
from tests.capture.signals import SENTENCES, active_span, espeak, scene
from tests.capture.test_vad import run
from tests.capture.tones import harmonic, silence, with_noise

FRAME_S = 0.03


def turn_events(events: list) -> list:
    """The turn events only (barge-in detection runs alongside and is tested elsewhere)."""
    return [e for e in events if not isinstance(e, SustainedSpeech)]


def kinds(events: list) -> list[type]:
    return [type(e) for e in turn_events(events)]


def test_pause_carries_exactly_the_pcm_of_the_end() -> None:
    sc = scene([1.0, SENTENCES[1], 1.5])
    events = run(Endpointer(EndpointerConfig(pause_ms=200, tail_ms=200)), sc.pcm)
    assert kinds(events) == [SpeechStarted, SpeechPaused, SpeechEnded]
    _, paused, ended = turn_events(events)
    assert np.array_equal(paused.pcm, ended.pcm) and len(ended.pcm) > SAMPLE_RATE
    assert (paused.t_first_voiced, paused.t_last_voiced) == (ended.t_first_voiced, ended.t_last_voiced)
    # Decided on the first frame 200 ms after the last voiced one, well before the end.
    assert 0.2 - 1e-6 <= paused.t - paused.t_last_voiced <= 0.2 + FRAME_S + 1e-6
    assert paused.t < ended.t_endpoint


def spoken(parts: list[str | float]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Sentences cut to their active span (no silence of their own) and silences, over a noise floor."""
    audio, spans, pos = [], [], 0.0
    for part in parts:
        if isinstance(part, str):
            clean = espeak(part)
            start, end = active_span(clean)
            audio.append(clean[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)])
            spans.append((pos, pos + len(audio[-1]) / SAMPLE_RATE))
        else:
            audio.append(silence(part))
        pos += len(audio[-1]) / SAMPLE_RATE
    return with_noise(audio), spans


def test_speech_after_a_pause_resumes_and_pauses_again() -> None:
    pcm, spans = spoken([1.0, SENTENCES[1], 0.3, SENTENCES[0], 2.0])
    cfg = EndpointerConfig(end_silence_ms=1000, pause_ms=200)  # the 0.3 s gap does not end the turn
    events = turn_events(run(Endpointer(cfg), pcm))
    assert kinds(events) == [
        SpeechStarted,
        SpeechPaused,
        SpeechResumed,
        SpeechPaused,
        SpeechEnded,
    ]
    _, first_pause, resumed, last_pause, ended = events
    # The first guess held only the first sentence; the voice came back before the endpoint.
    assert first_pause.t_last_voiced < spans[1][0] <= resumed.t
    assert resumed.t - spans[1][0] <= 0.1
    assert len(first_pause.pcm) < len(ended.pcm)
    assert np.array_equal(last_pause.pcm, ended.pcm)
    assert last_pause.t_last_voiced == ended.t_last_voiced


@pytest.mark.parametrize(
    "cfg",
    [EndpointerConfig(pause_ms=0), EndpointerConfig(pause_ms=800, end_silence_ms=600, adaptive=False)],
    ids=["pauses off", "pause longer than the wait"],
)
def test_no_pause_events_when_off_or_after_the_end(cfg: EndpointerConfig) -> None:
    sc = scene([1.0, SENTENCES[1], 1.5])
    assert kinds(run(Endpointer(cfg), sc.pcm)) == [SpeechStarted, SpeechEnded]


def test_push_to_talk_has_no_pause_events() -> None:
    sc = scene([0.6, SENTENCES[1], 0.8, SENTENCES[1], 0.6])
    events: list = []
    ep = Endpointer(mode="push_to_talk", on_event=events.append)
    ep.push_to_talk(True, 0.0)
    ep.feed(sc.pcm[: int(sc.spans[1][1] * SAMPLE_RATE)])
    ep.push_to_talk(False)
    ep.flush()
    assert kinds(events) == [SpeechStarted, SpeechEnded]
    assert events[-1].wait_ms == 0.0  # the key ended it, no silence was waited for


def test_a_pause_is_never_before_the_tail_is_in() -> None:
    sc = scene([1.0, SENTENCES[1], 1.5])
    cfg = EndpointerConfig(pause_ms=100, tail_ms=400, end_silence_ms=800)
    _, paused, ended = turn_events(run(Endpointer(cfg), sc.pcm))
    assert 0.4 - 1e-6 <= paused.t - paused.t_last_voiced <= 0.4 + FRAME_S + 1e-6
    assert np.array_equal(paused.pcm, ended.pcm)


def tone_turn(tone: tuple[float, float, float], cfg: EndpointerConfig) -> SpeechEnded:
    pcm = with_noise([silence(1.0), harmonic(*tone), silence(3.5)])
    (start, *_, end) = turn_events(Endpointer(cfg).feed(pcm))
    assert isinstance(start, SpeechStarted) and isinstance(end, SpeechEnded)
    assert end.reason == "silence"
    assert end.wait_ms / 1000 - 1e-6 <= end.t_endpoint - end.t_last_voiced <= end.wait_ms / 1000 + FRAME_S
    return end


def test_falling_pitch_ends_sooner_than_rising_and_a_held_tone_waits_longest() -> None:
    cfg = EndpointerConfig(end_silence_ms=700)
    falling = tone_turn((220, 140, 1.0), cfg)
    rising = tone_turn((140, 240, 1.0), cfg)
    held = tone_turn((150, 150, 1.0), cfg)
    assert falling.wait_ms == pytest.approx(420)  # 0.6 ×
    assert rising.wait_ms == pytest.approx(1050)  # 1.5 ×
    assert held.wait_ms == pytest.approx(1400)  # 2 ×
    fixed = dataclasses.replace(cfg, adaptive=False)
    for tone in [(220, 140, 1.0), (140, 240, 1.0), (150, 150, 1.0)]:
        assert tone_turn(tone, fixed).wait_ms == 700


def test_a_shortened_wait_keeps_the_pause_first() -> None:
    """Falling pitch shortens the wait, but never below the pause (the speculative start comes first)."""
    cfg = EndpointerConfig(end_silence_ms=600, pause_ms=500)
    falling = tone_turn((220, 140, 1.0), cfg)
    assert falling.wait_ms == 500  # 0.6 × 600 = 360, raised to the pause
    events = turn_events(
        Endpointer(cfg).feed(with_noise([silence(1.0), harmonic(220, 140, 1.0), silence(2.0)]))
    )
    assert kinds(events) == [SpeechStarted, SpeechEnded]  # the end comes on the pause's frame


@pytest.mark.parametrize("snr_db", [None, 10.0])
def test_adaptive_wait_moves_only_the_endpoint_on_real_speech(snr_db: float | None) -> None:
    """Same turns, same audio as the fixed wait; only the decision time moves, within bounds."""
    sc = scene([1.0, SENTENCES[0], 3.5, SENTENCES[1], 3.5], snr_db=snr_db, seed=3)
    fixed = [
        e for e in run(Endpointer(EndpointerConfig(adaptive=False)), sc.pcm) if isinstance(e, SpeechEnded)
    ]
    adaptive = [e for e in run(Endpointer(), sc.pcm) if isinstance(e, SpeechEnded)]
    assert len(fixed) == len(adaptive) == 2
    for a, f in zip(adaptive, fixed, strict=True):
        assert (a.t_first_voiced, a.t_last_voiced) == (f.t_first_voiced, f.t_last_voiced)
        assert np.array_equal(a.pcm, f.pcm)
        assert MIN_WAIT_MS <= a.wait_ms <= 2 * 600
        assert a.wait_ms / 1000 - 1e-6 <= a.t_endpoint - a.t_last_voiced <= a.wait_ms / 1000 + FRAME_S
