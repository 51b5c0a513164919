"""Device enumeration and the `ola-assistant devices` command."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest
import sounddevice
import soundfile

from ola_core.capture import devices
from ola_core.capture.devices import AudioDevice, _probe_camera, find_audio_device, list_cameras
from ola_core.capture.pcm import SAMPLE_RATE
from ola_core.cli import main
from ola_core.errors import AudioDeviceError
from tests.capture import fake_portaudio
from tests.capture.signals import SENTENCES, espeak

DEVICES = [
    AudioDevice("alsa_input.usb-Blue_Yeti", "Yeti Stereo Microphone", False, "pulse"),
    AudioDevice("alsa_input.pci-0000_00_1f.3.analog-stereo", "Built-in Audio Analog Stereo", True, "pulse"),
    AudioDevice("alsa_input.pci-0000_00_1f.3.hdmi", "Built-in Audio HDMI", False, "pulse"),
]


def test_find_audio_device_by_name_description_or_unique_part() -> None:
    assert find_audio_device("alsa_input.usb-Blue_Yeti", DEVICES) is DEVICES[0]
    assert find_audio_device("Built-in Audio HDMI", DEVICES) is DEVICES[2]
    assert find_audio_device("yeti", DEVICES) is DEVICES[0]
    with pytest.raises(AudioDeviceError, match="Yeti Stereo Microphone"):
        find_audio_device("Built-in", DEVICES)  # ambiguous: the message lists the choices
    with pytest.raises(AudioDeviceError, match="No audio device called 'webcam mic'"):
        find_audio_device("webcam mic", DEVICES)


def test_camera_probing_is_bounded() -> None:
    t = time.monotonic()
    assert _probe_camera(63, timeout=1.0) is None
    cameras = list_cameras(timeout=1.0)
    assert time.monotonic() - t < 10.0
    assert all(Path(f"/dev/video{c.index}").exists() for c in cameras)


@pytest.mark.audio
def test_devices_command_lists_the_virtual_devices(virtual_audio, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "* mic  (Virtual-Mic)" in out
    assert "* speaker  (Virtual-Speaker)" in out
    assert "Cameras:" in out and "Monitors:" in out


@pytest.mark.audio
@pytest.mark.slow
def test_mic_check_hears_a_turn(virtual_audio, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    wav = tmp_path / "s.wav"
    soundfile.write(wav, espeak(SENTENCES[1]), SAMPLE_RATE)
    player = threading.Timer(0.8, lambda: subprocess.run(["paplay", "-d", "micfeed", str(wav)], check=True))
    player.start()
    try:
        assert main(["devices", "--test-mic", "5", "--mic", "mic"]) == 0
    finally:
        player.join()
    out = capsys.readouterr().out
    assert "Listening on mic" in out
    assert "turn:" in out and "(silence)" in out
    assert "level" in out


@pytest.mark.audio
def test_stream_target_routes_a_portaudio_stream_to_the_chosen_pulse_sink(virtual_audio) -> None:  # type: ignore[no-untyped-def]
    from ola_core.capture.devices import stream_target

    target = stream_target("output", "Virtual-MicFeed")  # by description, as the GUI shows it
    assert target.pulse_name == "micfeed" and target.portaudio_device is None
    sinks = subprocess.run(["pactl", "list", "short", "sinks"], capture_output=True, text=True).stdout
    micfeed_index = next(line.split("\t")[0] for line in sinks.splitlines() if "\tmicfeed\t" in line)
    with target.opening():
        stream = virtual_audio.OutputStream(samplerate=48000, channels=1, device=target.portaudio_device)
    with stream:
        time.sleep(0.2)
        inputs = subprocess.run(
            ["pactl", "list", "short", "sink-inputs"], capture_output=True, text=True
        ).stdout
    assert micfeed_index in [line.split("\t")[1] for line in inputs.splitlines()]
    with pytest.raises(AudioDeviceError):
        stream_target("output", "no such speaker")


# --- Windows (WASAPI) and macOS (Core Audio): PortAudio's lists, faked at the sounddevice boundary ---
def _no_pactl(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a program ran where only PortAudio should be asked: {args}")

    monkeypatch.setattr(devices.subprocess, "run", forbidden)


def test_windows_lists_each_device_once_by_its_full_wasapi_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_portaudio.windows()
    fake.install(monkeypatch, "win32")
    _no_pactl(monkeypatch)
    mics = devices.list_microphones()
    assert [(d.name, d.is_default, d.hostapi) for d in mics] == [
        ("Microphone (Yeti Stereo Microphone)", True, "Windows WASAPI"),
        ("Microphone Array (Realtek(R) Audio)", False, "Windows WASAPI"),
    ]
    assert [d.name for d in devices.list_speakers()] == ["Speakers (Realtek(R) Audio)"]


def test_windows_streams_open_the_wasapi_device_even_when_other_apis_share_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_portaudio.windows()
    fake.install(monkeypatch, "win32")
    _no_pactl(monkeypatch)
    speaker = devices.stream_target("output", "Speakers (Realtek(R) Audio)")  # the same name in 3 APIs
    assert speaker.pulse_name is None
    assert fake.query_devices(speaker.portaudio_device, "output") is fake.devices[8]
    with pytest.raises(ValueError, match="Multiple"):  # what the bare name would have done
        fake.query_devices("Speakers (Realtek(R) Audio)", "output")
    # No choice made: WASAPI's default microphone, not PortAudio's own default (MME's, cut short).
    default = devices.stream_target("input", None)
    assert fake.query_devices(default.portaudio_device, "input") is fake.devices[6]
    assert (
        fake.query_devices(devices.stream_target("input", "yeti").portaudio_device, "input")
        is fake.devices[6]
    )


def test_macos_lists_core_audio_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_portaudio.macos()
    fake.install(monkeypatch, "darwin")
    _no_pactl(monkeypatch)
    assert [(d.name, d.is_default) for d in devices.list_microphones()] == [("MacBook Pro Microphone", True)]
    target = devices.stream_target("output", None)
    assert fake.query_devices(target.portaudio_device, "output")["name"] == "MacBook Pro Speakers"


def test_a_device_plugged_in_later_is_listed_after_portaudio_is_reread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = fake_portaudio.windows()
    fake.plugged = [fake_portaudio.device("Headset Microphone (Jabra)", 2, 1, 0)]
    fake.install(monkeypatch, "win32")
    assert "Headset Microphone (Jabra)" in [d.name for d in devices.list_microphones()]


def test_portaudio_is_never_reread_under_an_open_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_portaudio.windows()
    fake.install(monkeypatch, "win32")

    class Stream:
        closed = False

    stream = Stream()
    devices.track_stream(stream)
    assert devices.refresh_portaudio() is False and fake.initialisations == 0
    stream.closed = True
    assert devices.refresh_portaudio() is True and fake.initialisations == 1
    monkeypatch.setattr("sys.platform", "linux")  # PulseAudio's lists are live; bare ALSA is left alone
    assert devices.refresh_portaudio() is False and fake.initialisations == 1


class _FakeInputStream:
    """Records which device the microphone opened; delivers nothing."""

    opened: ClassVar[list[object]] = []

    def __init__(self, device: object = None, **kwargs: object) -> None:
        self.device, self.active, self.closed = device, False, False
        _FakeInputStream.opened.append(device)

    def start(self) -> None:
        self.active = True

    def close(self, ignore_errors: bool = True) -> None:
        self.active, self.closed = False, True


def test_windows_microphone_comes_back_when_plugged_in_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from ola_core.capture.events import DeviceRestored
    from ola_core.capture.mic import MicStream

    fake = fake_portaudio.windows()
    yeti = [d for d in fake.devices if d["name"].startswith("Microphone (Yeti")]
    fake.devices = [d for d in fake.devices if d not in yeti]  # unplugged
    fake.install(monkeypatch, "win32")
    _no_pactl(monkeypatch)
    monkeypatch.setattr(sounddevice, "InputStream", _FakeInputStream)
    _FakeInputStream.opened = []
    events: list[object] = []
    mic = MicStream("Microphone (Yeti Stereo Microphone)", on_event=events.append)
    with pytest.raises(AudioDeviceError, match="No audio device called"):
        mic.start()
    fake.plugged = [d for d in yeti if d["hostapi"] == 2]  # plugged in: Windows lists it again
    mic._try_reopen()  # what the worker does every second while the device is missing
    try:
        assert [type(e) for e in events] == [DeviceRestored]
        assert _FakeInputStream.opened == ["Microphone (Yeti Stereo Microphone), Windows WASAPI"]
        assert devices.refresh_portaudio() is False  # the open microphone is never closed under it
    finally:
        mic.stop()
    assert devices.refresh_portaudio() is True


def test_linux_without_pulseaudio_lists_portaudio_and_runs_no_pactl(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_portaudio.macos()  # any PortAudio list; on Linux it is ALSA's
    fake.apis[0]["name"] = "ALSA"
    fake.install(monkeypatch, "linux")
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)  # no pactl installed
    _no_pactl(monkeypatch)
    assert not devices.pulse_running()
    assert [(d.name, d.backend, d.hostapi) for d in devices.list_microphones()] == [
        ("MacBook Pro Microphone", "portaudio", None)
    ]
    assert fake.initialisations == 0
