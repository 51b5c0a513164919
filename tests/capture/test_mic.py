"""MicStream against the virtual PulseAudio microphone (scripts/start_virtual_audio.sh).

Speech is played into the sink ``micfeed`` with paplay; the default source ``mic`` records its
monitor, so what the MicStream delivers must be the same samples (after PulseAudio's and our
resampling: correlation, not equality).
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile

from ola_core.capture import devices
from ola_core.capture.events import DeviceLost, DeviceRestored, LevelUpdate, Overflow, SpeechEnded
from ola_core.capture.mic import MicStream
from ola_core.capture.pcm import SAMPLE_RATE
from ola_core.capture.vad import Endpointer, EndpointerConfig
from ola_core.errors import AudioDeviceError
from tests.capture.signals import SENTENCES, espeak


@pytest.fixture
def speech_wav(tmp_path: Path) -> tuple[Path, np.ndarray]:
    audio = espeak(SENTENCES[1])
    path = tmp_path / "speech.wav"
    soundfile.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
    return path, soundfile.read(path, dtype="float32")[0]


class Recorder:
    def __init__(self) -> None:
        self.blocks: list[tuple[np.ndarray, float]] = []
        self.events: list = []

    def block(self, pcm: np.ndarray, t_end: float) -> None:
        self.blocks.append((pcm, t_end))

    def audio(self, since: int = 0) -> np.ndarray:
        return np.concatenate([b for b, _ in self.blocks[since:]]).astype(np.float32) / 32768.0


def best_match(recorded: np.ndarray, reference: np.ndarray) -> tuple[float, int]:
    """Correlation coefficient of ``reference`` with the best-aligned stretch of ``recorded``, and its lag."""
    head = reference[:SAMPLE_RATE]
    scores = np.correlate(recorded, head, mode="valid")
    lag = int(np.argmax(scores))
    segment = recorded[lag : lag + len(reference)]
    return float(np.corrcoef(segment, reference[: len(segment)])[0, 1]), lag


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def play(path: Path) -> None:
    subprocess.run(["paplay", "-d", "micfeed", str(path)], check=True, timeout=30)


@pytest.mark.audio
def test_lists_the_virtual_devices(virtual_audio) -> None:  # type: ignore[no-untyped-def]
    mics = devices.list_microphones()
    speakers = devices.list_speakers()
    assert [(d.name, d.is_default) for d in mics if d.name == "mic"] == [("mic", True)]
    assert not [d for d in mics if d.name.endswith(".monitor")]  # monitors are not microphones
    assert {"speaker", "micfeed"} <= {d.name for d in speakers}
    assert devices.find_audio_device("Virtual-Mic", mics).name == "mic"  # by description too


@pytest.mark.audio
def test_records_the_samples_played_into_the_mic(virtual_audio, speech_wav) -> None:  # type: ignore[no-untyped-def]
    path, reference = speech_wav
    rec = Recorder()
    with MicStream("mic", on_block=rec.block, on_event=rec.events.append) as mic:
        time.sleep(0.3)
        t_play = time.monotonic()
        play(path)
        time.sleep(0.4)
        t_done = time.monotonic()
    recent = mic.recent(2.0)  # after stop: the ring holds exactly what was delivered
    corr, lag = best_match(rec.audio(), reference)
    assert corr > 0.98
    # Block timestamps: increasing, close to real time, and the speech sits where it was played.
    times = np.array([t for _, t in rec.blocks])
    assert np.all(np.diff(times) > 0)
    assert abs(times[-1] - t_done) < 0.5
    t_speech = times[0] - len(rec.blocks[0][0]) / SAMPLE_RATE + lag / SAMPLE_RATE
    assert t_play - 0.1 <= t_speech <= t_play + 1.0
    assert len(recent) == 2 * SAMPLE_RATE and np.array_equal(
        recent, (rec.audio()[-len(recent) :] * 32768).astype(np.int16)
    )
    levels = [e for e in rec.events if isinstance(e, LevelUpdate)]
    assert len(levels) >= 20
    assert max(e.rms_dbfs for e in levels) > -30 and min(e.rms_dbfs for e in levels) < -60


@pytest.mark.audio
def test_endpointer_on_the_live_mic(virtual_audio, speech_wav) -> None:  # type: ignore[no-untyped-def]
    path, _ = speech_wav
    events: list = []
    endpointer = Endpointer(EndpointerConfig(adaptive=False), on_event=events.append)
    with MicStream(on_block=endpointer.feed):
        time.sleep(0.5)
        t_play = time.monotonic()
        play(path)
        assert wait_for(lambda: any(isinstance(e, SpeechEnded) for e in events), timeout=3.0)
    (end,) = [e for e in events if isinstance(e, SpeechEnded)]
    assert t_play - 0.1 <= end.t_first_voiced <= t_play + 1.0
    assert 0.6 - 1e-6 <= end.t_endpoint - end.t_last_voiced <= 0.65
    assert 2.0 <= end.duration_s <= 4.0


def _remap_module() -> tuple[str, str]:
    out = subprocess.run(["pactl", "list", "short", "modules"], capture_output=True, text=True).stdout
    (line,) = [
        line for line in out.splitlines() if "module-remap-source" in line and "source_name=mic" in line
    ]
    index, _name, args = line.split("\t")[:3]
    return index, args


@pytest.mark.audio
@pytest.mark.slow
def test_survives_the_mic_disappearing_and_coming_back(virtual_audio, speech_wav) -> None:  # type: ignore[no-untyped-def]
    path, reference = speech_wav
    rec = Recorder()
    index, args = _remap_module()
    with MicStream("mic", on_block=rec.block, on_event=rec.events.append) as mic:
        mic.retry_s = 0.3
        time.sleep(0.3)
        unloaded = False
        try:
            t_unplug = time.monotonic()
            subprocess.run(["pactl", "unload-module", index], check=True)
            unloaded = True
            assert wait_for(lambda: any(isinstance(e, DeviceLost) for e in rec.events), timeout=3.0)
            lost = next(e for e in rec.events if isinstance(e, DeviceLost))
            assert lost.kind == "microphone" and lost.name == "mic" and "disconnected" in lost.message
            assert lost.t - t_unplug < 2.5
            assert mic.lost
        finally:
            if unloaded:
                subprocess.run(["pactl", "load-module", "module-remap-source", *args.split()], check=True)
                subprocess.run(["pactl", "set-default-source", "mic"], check=True)
        assert wait_for(lambda: any(isinstance(e, DeviceRestored) for e in rec.events), timeout=3.0)
        assert not mic.lost
        n_before = len(rec.blocks)
        time.sleep(0.2)
        play(path)
        time.sleep(0.4)
    corr, _ = best_match(rec.audio(n_before), reference)
    assert corr > 0.98


@pytest.mark.audio
def test_unknown_microphone_is_refused_with_the_choices(virtual_audio) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AudioDeviceError, match="Virtual-Mic"):
        MicStream("no such microphone").start()


def test_callback_copies_and_worker_resamples_and_counts_overflows() -> None:
    """The two halves of the stream without a device: 44.1 kHz sine in, 16 kHz sine out."""
    events: list = []
    mic = MicStream(on_event=events.append)
    rate = 44_100
    mic._raw = np.zeros(rate, np.float32)
    mic._opened = SimpleNamespace(rate=rate)  # type: ignore[assignment]
    import soxr

    mic._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, "float32")
    t = np.arange(rate) / rate
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None]
    out = []
    for i in range(0, rate, 441):
        status = SimpleNamespace(input_overflow=i == 441 * 10)
        mic._callback(sine[i : i + 441], 441, None, status)
        pcm, t_end = mic._drain()
        out.append(pcm)
    y = np.concatenate(out).astype(np.float32) / 32768
    held_back_s = 1.0 - len(y) / SAMPLE_RATE  # soxr's filter delay
    assert 0 < held_back_s < 0.05
    assert t_end == pytest.approx(mic._mark[1] - held_back_s)  # so timestamps stay true
    spectrum = np.abs(np.fft.rfft(y[2000:]))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(y[2000:]) - 440) < 3
    mic._report_overflows(0.0)
    assert [e for e in events if isinstance(e, Overflow)] == [Overflow(1, 1, 0.0)]


class _FakeStream:
    """A PortAudio input stream stand-in: 10 ms blocks of a sine from a thread, until told to go silent."""

    silent = False  # class-wide: "the device vanished"

    def __init__(self, *, samplerate: int, callback, **_kw) -> None:  # type: ignore[no-untyped-def]
        self.rate = samplerate
        self.callback = callback
        self.active = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def _run(self) -> None:
        n = self.rate // 100
        phase = 0
        while self.active:
            if not _FakeStream.silent:
                t = (phase + np.arange(n)) / self.rate
                block = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)[:, None]
                self.callback(block, n, None, SimpleNamespace(input_overflow=False))
                phase += n
            time.sleep(0.01)

    def close(self, ignore_errors: bool = True) -> None:
        self.active = False


def test_a_stalled_device_is_lost_and_reopened_without_pulseaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generic path (Windows, macOS, bare ALSA): no callbacks for a second means the device is gone."""
    import sounddevice

    monkeypatch.setattr(devices, "pulse_running", lambda: False)
    monkeypatch.setattr(sounddevice, "InputStream", _FakeStream)
    monkeypatch.setattr(
        sounddevice, "query_devices", lambda *a, **k: {"name": "Fake Mic", "default_samplerate": 48000}
    )
    _FakeStream.silent = False
    rec = Recorder()
    mic = MicStream(on_block=rec.block, on_event=rec.events.append)
    mic.watch_s = mic.retry_s = 0.3
    with mic:
        assert wait_for(lambda: len(rec.blocks) > 5, timeout=2.0)
        assert mic.sample_rate == 48000 and mic.name == "Fake Mic"
        _FakeStream.silent = True
        assert wait_for(lambda: any(isinstance(e, DeviceLost) for e in rec.events), timeout=2.0)
        _FakeStream.silent = False
        assert wait_for(lambda: any(isinstance(e, DeviceRestored) for e in rec.events), timeout=2.0)
        n = len(rec.blocks)
        assert wait_for(lambda: len(rec.blocks) > n + 5, timeout=2.0)
    lost = next(e for e in rec.events if isinstance(e, DeviceLost))
    assert "stopped sending audio" in lost.message and lost.name == "Fake Mic"
    y = rec.audio()[-SAMPLE_RATE // 10 :]
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(y) - 300) < 15  # 48 kHz sine → 16 kHz sine
