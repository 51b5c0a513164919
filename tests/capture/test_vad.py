"""Endpointer and barge-in detection on real (espeak-ng) speech, noise and clicks."""

from __future__ import annotations

import numpy as np
import pytest

from ola_core.capture.events import SpeechEnded, SpeechStarted, SustainedSpeech
from ola_core.capture.pcm import SAMPLE_RATE
from ola_core.capture.vad import Endpointer, EndpointerConfig, SustainedSpeechDetector
from ola_core.errors import SettingsError
from tests.capture.signals import SENTENCES, clicks, scene

TOLERANCE_S = 0.060


def run(ep: Endpointer, pcm: np.ndarray, block: int = 320, t0: float | None = None) -> list:
    """Feed ``pcm`` in mic-sized blocks (optionally stamped as live audio starting at ``t0``)."""
    events = []
    for i in range(0, len(pcm), block):
        chunk = pcm[i : i + block]
        t_end = None if t0 is None else t0 + (i + len(chunk)) / SAMPLE_RATE
        events += ep.feed(chunk, t_end)
    return events + ep.flush()


@pytest.mark.parametrize("snr_db", [None, 20.0, 10.0])
def test_turns_start_and_end_at_the_true_speech_positions(snr_db: float | None) -> None:
    sc = scene([1.0, SENTENCES[0], 1.5, SENTENCES[1], 1.5], snr_db=snr_db, seed=3)
    events = run(Endpointer(EndpointerConfig(adaptive=False)), sc.pcm)  # the fixed wait
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(starts) == len(ends) == 2
    for start, end, (true_start, true_end) in zip(starts, ends, sc.spans, strict=True):
        assert start.t_first_voiced == end.t_first_voiced
        assert abs(end.t_first_voiced - true_start) <= TOLERANCE_S
        assert abs(end.t_last_voiced - true_end) <= TOLERANCE_S
        assert end.reason == "silence"
        # The decision comes the end-of-turn silence after the last voiced frame, +≤ one frame.
        assert 0.6 - 1e-6 <= end.t_endpoint - end.t_last_voiced <= 0.6 + 0.03 + 1e-6
        assert end.wait_ms == 600


def test_utterance_pcm_holds_the_pre_roll_and_the_exact_samples() -> None:
    sc = scene([1.0, SENTENCES[1], 1.0])
    cfg = EndpointerConfig(pre_roll_ms=300, tail_ms=200)
    (end,) = [e for e in run(Endpointer(cfg), sc.pcm) if isinstance(e, SpeechEnded)]
    # Where the utterance starts in the input: at a frame boundary, sample for sample.
    (first,) = [i for i in range(0, len(sc.pcm), 480) if np.array_equal(sc.pcm[i : i + 4800], end.pcm[:4800])]
    assert np.array_equal(sc.pcm[first : first + len(end.pcm)], end.pcm)
    t_pcm_start = first / SAMPLE_RATE
    assert 0.3 - 0.03 <= end.t_first_voiced - t_pcm_start <= 0.3 + 1e-6
    t_pcm_end = (first + len(end.pcm)) / SAMPLE_RATE
    assert 0.2 - 1e-6 <= t_pcm_end - end.t_last_voiced <= 0.2 + 0.03


def test_live_timestamps_follow_the_callers_clock() -> None:
    sc = scene([0.8, SENTENCES[1], 1.0])
    t0 = 5000.0
    (end,) = [e for e in run(Endpointer(), sc.pcm, t0=t0) if isinstance(e, SpeechEnded)]
    assert abs(end.t_first_voiced - (t0 + sc.spans[0][0])) <= TOLERANCE_S
    assert abs(end.t_last_voiced - (t0 + sc.spans[0][1])) <= TOLERANCE_S


@pytest.mark.parametrize("noise_dbfs", [-60.0, -40.0, -25.0])
def test_noise_alone_never_starts_a_turn(noise_dbfs: float) -> None:
    sc = scene([8.0], noise_dbfs=noise_dbfs, seed=1)
    events = run(Endpointer(), sc.pcm)
    assert not [e for e in events if isinstance(e, SpeechStarted | SustainedSpeech)]


def test_clicks_never_start_a_turn() -> None:
    events = run(Endpointer(), clicks(8.0, every_s=0.35))
    assert not [e for e in events if isinstance(e, SpeechStarted | SustainedSpeech)]


def test_max_turn_length_cuts_and_the_next_turn_continues() -> None:
    sc = scene([0.5, SENTENCES[0], 1.0])  # about 3.3 s of speech
    events = run(Endpointer(EndpointerConfig(max_turn_s=1.5)), sc.pcm)
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert ends[0].reason == "max_length"
    assert abs(ends[0].t_endpoint - ends[0].t_first_voiced - 1.5) <= 0.03
    assert ends[-1].reason == "silence"
    assert abs(ends[-1].t_last_voiced - sc.spans[0][1]) <= TOLERANCE_S
    assert 2 <= len(ends) <= 3  # 3.3 s in turns of at most 1.5 s
    # The cut loses no speech: the next turn starts where the cut one stopped.
    assert ends[1].t_first_voiced - ends[0].t_endpoint <= 0.2


def test_push_to_talk_window_comes_from_the_key() -> None:
    sc = scene([0.6, SENTENCES[1], 0.6, SENTENCES[1], 0.6])
    events: list = []
    ep = Endpointer(mode="push_to_talk", on_event=events.append)
    press, release = 0.5, sc.spans[0][1] + 0.3
    pressed = released = False
    block = 480
    for i in range(0, len(sc.pcm), block):
        t = i / SAMPLE_RATE
        if t >= press and not pressed:
            ep.push_to_talk(True, press)
            pressed = True
        if t >= release - 0.1 and not released:
            ep.push_to_talk(False, release)  # ends once the audio up to `release` is in
            released = True
        ep.feed(sc.pcm[i : i + block])
    ep.flush()
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert [s.t_first_voiced for s in starts] == [press]  # the second sentence: no key, no turn
    (end,) = ends
    assert end.reason == "push_to_talk" and end.t_endpoint == release
    assert abs(end.t_first_voiced - sc.spans[0][0]) <= TOLERANCE_S
    assert abs(end.t_last_voiced - sc.spans[0][1]) <= TOLERANCE_S
    # Press − pre-roll … release, rounded out to whole 30 ms frames at both ends.
    assert -1e-6 <= end.duration_s - (release - (press - 0.3)) <= 0.06 + 1e-6


def test_barge_in_fires_once_after_sustained_speech() -> None:
    sc = scene([1.0, SENTENCES[0], 1.0])
    sustained = [e for e in run(Endpointer(), sc.pcm) if isinstance(e, SustainedSpeech)]
    assert len(sustained) >= 1
    first = sustained[0]
    assert abs(first.t_first_voiced - sc.spans[0][0]) <= TOLERANCE_S
    assert 0.3 - 1e-6 <= first.t - first.t_first_voiced <= 0.3 + 0.15


def test_sustained_detector_ignores_bursts_and_scattered_frames() -> None:
    det = SustainedSpeechDetector(min_ms=300, max_gap_ms=200)
    frame = 0.03
    # 180 ms bursts with 300 ms pauses (coughs, "uh-huh"): never sustained.
    pattern = ([True] * 6 + [False] * 10) * 10
    # One voiced frame in three (noise): never sustained.
    pattern += [False] * 20 + [True, False, False] * 40
    fired = [det.update(v, i * frame, (i + 1) * frame) for i, v in enumerate(pattern)]
    assert not [f for f in fired if f is not None]
    det.reset()
    fired = [det.update(True, i * frame, (i + 1) * frame) for i in range(20)]
    assert fired[9] == 0.0  # 10 frames = 300 ms
    assert [f for f in fired if f is not None] == [0.0]


@pytest.mark.parametrize(
    "bad",
    [
        {"end_silence_ms": 100},
        {"end_silence_ms": 4000},
        {"aggressiveness": 4},
        {"frame_ms": 25},
        {"pause_ms": 50},
        {"pause_ms": 1200},
    ],
)
def test_out_of_range_settings_are_refused_with_a_message(bad: dict) -> None:
    with pytest.raises(SettingsError, match="out of range"):
        EndpointerConfig(**bad)


def test_rejects_pcm_that_is_not_int16_mono() -> None:
    with pytest.raises(ValueError, match="int16"):
        Endpointer().feed(np.zeros(480, np.float32))
