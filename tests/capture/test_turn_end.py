"""The end-of-turn rule: pitch tracking, ending classes, the wait clamp, the transcript hook."""

from __future__ import annotations

import numpy as np
import pytest

from ola_core.capture.pcm import SAMPLE_RATE, to_int16
from ola_core.capture.turn_end import (
    HELD,
    LONGER,
    MAX_WAIT_MS,
    MIN_WAIT_MS,
    SHORTER,
    end_wait_ms,
    ending_cues,
    shortest_wait_ms,
    track_pitch,
    transcript_factor,
)
from tests.capture.tones import harmonic, silence, with_noise


@pytest.mark.numerics
@pytest.mark.parametrize("f0", [90.0, 200.0, 320.0])
@pytest.mark.parametrize("noise_dbfs", [-60.0, -35.0])  # -35 dBFS: about 17 dB below the tone
def test_pitch_of_a_harmonic_signal_is_within_5_percent(f0: float, noise_dbfs: float) -> None:
    track = track_pitch(with_noise([harmonic(f0, f0, 0.5)], noise_dbfs))
    inside = slice(3, -3)  # away from the fades
    assert track.voiced[inside].mean() >= 0.9
    estimates = track.f0_hz[inside][track.voiced[inside]]
    assert np.max(np.abs(estimates / f0 - 1)) <= 0.05
    assert abs(np.median(estimates) / f0 - 1) <= 0.01


def test_pitch_follows_a_glide() -> None:
    track = track_pitch(to_int16(harmonic(220, 140, 1.0)))
    f0 = track.f0_hz[track.voiced]
    assert f0[2] > 200 and f0[-3] < 150
    assert np.all(np.diff(f0[2:-2]) <= 1.0)  # falls all the way, no octave slip


def test_noise_and_silence_have_no_pitch() -> None:
    noise = with_noise([silence(0.5)], noise_dbfs=-20.0, seed=4)
    assert not track_pitch(noise).voiced.any()
    assert ending_cues(noise).ending == "neutral"
    assert ending_cues(np.zeros(100, np.int16)).ending == "neutral"  # shorter than one window


@pytest.mark.parametrize(
    ("tone", "ending"),
    [
        ((220, 140, 1.0), "falling"),
        ((140, 240, 1.0), "rising"),
        ((150, 150, 1.0), "held"),
        ((160, 145, 0.8), "held"),  # an "uhhh" that sinks a little (1.7 st) is no statement end
    ],
)
def test_glides_and_a_held_tone_are_classed(tone: tuple[float, float, float], ending: str) -> None:
    cues = ending_cues(with_noise([harmonic(*tone)]))
    assert cues.ending == ending
    if ending == "held":
        assert cues.held_s >= 0.4 and abs(cues.pitch_change_st) < 2.0
    else:
        assert abs(cues.pitch_change_st) >= 2.0


def test_short_flat_syllables_are_no_held_filler() -> None:
    """Flat pitch alone is not a filler: it must be one long steady sound."""
    syllables = [part for _ in range(3) for part in (harmonic(150, 150, 0.15), silence(0.06))]
    cues = ending_cues(with_noise(syllables[:-1]))
    assert cues.ending == "neutral" and cues.held_s < 0.4


def test_a_fading_held_sound_is_not_held() -> None:
    """A long vowel that decays (a word said slowly to its end) has no steady level."""
    tone = harmonic(150, 150, 0.8) * np.geomspace(1.0, 0.05, int(0.8 * SAMPLE_RATE)).astype(np.float32)
    assert ending_cues(with_noise([tone])).ending == "neutral"


def test_a_final_octave_slip_does_not_read_as_a_fall() -> None:
    """A creak or subharmonic at the very end (pitch halves for a few frames) is skipped."""
    pcm = with_noise([harmonic(150, 150, 0.5), harmonic(75, 75, 0.04)])
    cues = ending_cues(pcm)
    assert cues.ending != "falling" and abs(cues.pitch_change_st) < 1.0


@pytest.mark.parametrize(
    ("setting", "factor", "floor", "expected"),
    [
        (700, 1.0, 200, 700),
        (700, SHORTER, 200, 420),
        (700, LONGER, 200, 1050),
        (700, HELD, 200, 1400),
        (300, SHORTER, 200, MIN_WAIT_MS),  # never below ~250 ms …
        (700, SHORTER, 500, 500),  # … nor below the pause/tail floor …
        (200, SHORTER, 200, 200),  # … unless the setting is lower: shorter never lengthens
        (2000, HELD, 200, MAX_WAIT_MS),
    ],
)
def test_end_wait_is_the_setting_scaled_and_clamped(
    setting: float, factor: float, floor: float, expected: float
) -> None:
    assert end_wait_ms(setting, factor, floor) == pytest.approx(expected)
    assert shortest_wait_ms(setting, floor) <= end_wait_ms(setting, factor, floor)


@pytest.mark.parametrize(
    ("text", "factor"),
    [
        ("Turn off the lights.", SHORTER),
        ("What time is it?", SHORTER),
        ("Stop!", SHORTER),
        ("I went to the shop and", LONGER),
        ("I went to the shop, and...", LONGER),
        ("Put it on the", LONGER),
        ("The first thing is,", LONGER),
        ("So I was thinking, um", HELD),
        ("Let me see... uhhh.", HELD),  # the captioner may add a full stop after a filler
        ("Hmm", HELD),
        ("I said hmm, er", HELD),
        ("Thank you very much", 1.0),
        ("", 1.0),
        ("Android", 1.0),  # "and" only as a whole word
        ("Bring the drum", 1.0),  # "um" only as a whole word
        ("I think I'm", 1.0),  # not the filler "m"
    ],
)
def test_transcript_tail_gives_a_factor(text: str, factor: float) -> None:
    assert transcript_factor(text) == factor
