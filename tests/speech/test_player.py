"""AudioPlayer on the virtual PulseAudio speaker: order, gaps, stop latency, reference, device loss."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ola_core.capture.devices import list_speakers, stream_target
from ola_core.speech.player import (
    AudioPlayer,
    ChunkStarted,
    OutputTarget,
    PlaybackFinished,
    PlayedAudio,
    PlayerEvent,
    SpeakerLost,
)
from tests.speech.audio_helpers import (
    MONITOR_RATE,
    active_spans,
    dominant_frequency,
    kill_sink_input,
    our_sink_inputs,
    record_speaker,
)

pytestmark = [
    pytest.mark.audio,
    pytest.mark.skipif(shutil.which("parecord") is None, reason="parecord (pulseaudio-utils) missing"),
]

RATE = 24_000  # hibari's rate: the player resamples to the device's


def locate_speaker(name: str | None) -> OutputTarget:
    """How the assistant resolves a speaker name (speech itself does not import capture)."""
    return stream_target("output", name)


def tone(frequency: float, seconds: float, rate: int = RATE, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)).astype(
        np.float32
    )


class Events:
    def __init__(self) -> None:
        self.items: list[PlayerEvent] = []
        self.changed = threading.Condition()

    def __call__(self, event: PlayerEvent) -> None:
        with self.changed:
            self.items.append(event)
            self.changed.notify_all()

    def wait_for(self, kind: type, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [e for e in self.items if isinstance(e, kind)]
                if found or time.monotonic() > deadline:
                    return found[0] if found else None
                self.changed.wait(0.05)


def test_chunks_play_in_order_without_gaps(virtual_audio: Any, tmp_path: Path) -> None:
    events = Events()
    frequencies = (440.0, 880.0, 1320.0)
    with AudioPlayer(on_event=events) as player:
        player.open()
        with record_speaker(tmp_path / "rec.wav") as recording:
            for index, frequency in enumerate(frequencies):
                # Each "sentence" arrives as several uneven chunks, like a streaming voice.
                for k, part in enumerate(np.array_split(tone(frequency, 0.3), [1000, 1700, 4000, 6500])):
                    player.play(part, RATE, marker=index if k == 0 else None)
            player.end("done")
            assert player.wait(5.0)
        assert player.underruns == 0
    pcm = recording[0]
    spans = active_spans(pcm)
    assert len(spans) == 1, f"expected one continuous sound, got spans {spans}"
    start, end = spans[0]
    assert (end - start) / MONITOR_RATE == pytest.approx(0.9, abs=0.02)
    third = (end - start) // 3
    heard = [
        dominant_frequency(pcm[start + i * third + 1000 : start + (i + 1) * third - 1000]) for i in range(3)
    ]
    assert heard == pytest.approx(frequencies, abs=15)
    started = [e for e in events.items if isinstance(e, ChunkStarted)]
    assert [e.marker for e in started] == [0, 1, 2]
    finished = events.wait_for(PlaybackFinished)
    assert finished.marker == "done"
    times = [e.t for e in started] + [finished.t]
    # Sample-clock timestamps: each sentence starts 0.3 s after the previous (generous bound).
    assert np.diff(times) == pytest.approx([0.3, 0.3, 0.3], abs=0.03)


def test_stop_silences_at_once_and_drops_the_queue(virtual_audio: Any, tmp_path: Path) -> None:
    events = Events()
    with AudioPlayer(on_event=events) as player:
        player.open()
        with record_speaker(tmp_path / "rec.wav") as recording:
            player.play(tone(660.0, 2.0), RATE, marker="long")
            player.play(tone(990.0, 1.0), RATE, marker="never")
            started = events.wait_for(ChunkStarted)
            time.sleep(0.4)
            t_stop = time.monotonic()
            player.stop()
            stop_call = time.monotonic() - t_stop
            assert player.wait(0.1)  # nothing left queued
            time.sleep(0.3)
    spans = active_spans(recording[0])
    assert len(spans) == 1
    heard = (spans[0][1] - spans[0][0]) / MONITOR_RATE
    latency = heard - (t_stop - started.t)  # sound heard after stop() was called
    print(f"stop(): call {1000 * stop_call:.1f} ms, sound continued {1000 * latency:.1f} ms")
    assert stop_call < 0.1
    # Below zero only by the error of the DAC-time estimate of ChunkStarted (±40 ms measured
    # under load with the 30 ms device buffer and the start-up buffer): never cut early.
    assert -0.06 < latency < 0.1
    assert [e.marker for e in events.items if isinstance(e, ChunkStarted)] == ["long"]


def test_played_signal_is_the_reference_for_echo_cancellation(virtual_audio: Any) -> None:
    blocks: list[PlayedAudio] = []
    with AudioPlayer(volume=0.5, on_played=blocks.append) as player:
        player.play(tone(500.0, 0.5), RATE)
        player.end()
        assert player.wait(5.0)
        time.sleep(0.1)
        latest = player.played.latest(1.0) if player.played else None
        rate = player.sample_rate
    assert latest is not None and latest.sample_rate == rate
    loud = latest.pcm[np.abs(latest.pcm) > 0.01]
    assert len(loud) / rate == pytest.approx(0.5, abs=0.03)
    assert np.abs(latest.pcm).max() == pytest.approx(0.25, abs=0.01)  # volume 0.5 applied
    # on_played got every sample exactly once, in order, with increasing DAC times.
    assert blocks and all(b.start_index + len(b.pcm) == n.start_index for b, n in itertools.pairwise(blocks))
    assert all(b.t_start < n.t_start for b, n in itertools.pairwise(blocks))


def test_device_disappearing_is_an_event_and_playback_recovers(virtual_audio: Any) -> None:
    events = Events()
    with AudioPlayer(on_event=events) as player:
        player.play(tone(440.0, 3.0), RATE)
        events.wait_for(ChunkStarted, timeout=1.0)
        time.sleep(0.2)
        streams = our_sink_inputs()
        assert len(streams) == 1
        kill_sink_input(streams[0])
        lost = events.wait_for(SpeakerLost, timeout=3.0)
        assert lost is not None and "speaker" in str(lost.error).lower()
        assert player.wait(0.5)  # the queued audio was dropped
        player.play(tone(440.0, 0.2), RATE, marker="again")
        player.end()
        assert player.wait(5.0)
    assert any(isinstance(e, ChunkStarted) and e.marker == "again" for e in events.items)


def test_a_chosen_speaker_is_the_one_that_plays(virtual_audio: Any, tmp_path: Path) -> None:
    """Choosing a speaker by its listed name routes the stream there, not to the default sink."""
    assert "micfeed" in [d.name for d in list_speakers()]
    with (
        record_speaker(tmp_path / "chosen.wav", sink="micfeed") as chosen,
        record_speaker(tmp_path / "default.wav") as default,
        AudioPlayer(device="micfeed", locate=locate_speaker) as player,
    ):
        player.play(tone(440.0, 0.5), RATE)
        player.end()
        assert player.wait(5.0)
    assert np.abs(chosen[0]).max() > 0.1, "nothing arrived on the chosen speaker"
    assert np.abs(default[0]).max() < 0.01, "the sound went to the default speaker"


def test_the_open_stream_is_tracked_so_a_device_refresh_never_closes_it(
    virtual_audio: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Windows/macOS a device-list refresh re-initialises PortAudio: never while we play."""
    from ola_core.capture import devices

    tracked: list[Any] = []
    monkeypatch.setattr(devices, "track_stream", tracked.append)
    with AudioPlayer(device="micfeed", locate=locate_speaker) as player:
        player.play(tone(440.0, 0.2), RATE)
        player.end()
        assert player.wait(5.0)
        assert len(tracked) == 1 and not tracked[0].closed  # the player's own, open stream


def test_a_missing_device_is_a_clear_error_or_falls_back(virtual_audio: Any) -> None:
    player = AudioPlayer(device="no such speaker anywhere", locate=locate_speaker)
    try:
        player.open()  # a vanished named device falls back to the default one
        assert player.device is None
    finally:
        player.close()
