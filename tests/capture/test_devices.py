"""Device enumeration and the `ola-assistant devices` command."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
import soundfile

from ola_core.capture.devices import AudioDevice, _probe_camera, find_audio_device, list_cameras
from ola_core.capture.pcm import SAMPLE_RATE
from ola_core.cli import main
from ola_core.errors import AudioDeviceError
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
