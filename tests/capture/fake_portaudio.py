"""A stand-in for PortAudio's device and host-API lists, installed on the real ``sounddevice`` module.

Only the query functions and the (re)initialisation are replaced; sounddevice's own code (its
device-name matching in ``_get_device_id``) runs unchanged on top, so a test sees exactly which
device a name would open on Windows or macOS. Like PortAudio, the list changes only when
PortAudio is initialised again: devices plugged in meanwhile wait in :attr:`plugged`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sounddevice


def device(name: str, hostapi: int, inputs: int, outputs: int) -> dict[str, Any]:
    return {
        "name": name,
        "hostapi": hostapi,
        "max_input_channels": inputs,
        "max_output_channels": outputs,
        "default_samplerate": 48000.0,
    }


# What PortAudio reports on a Windows PC with a USB microphone: every device once per host API,
# MME names cut at 31 characters, PortAudio's own default host API being MME (index 0).
WINDOWS_APIS = [
    {"name": "MME", "default_input_device": 0, "default_output_device": 2},
    {"name": "Windows DirectSound", "default_input_device": 3, "default_output_device": 5},
    {"name": "Windows WASAPI", "default_input_device": 6, "default_output_device": 8},
]
WINDOWS_DEVICES = [
    device("Microphone (Yeti Stereo Microph", 0, 2, 0),
    device("Microphone Array (Realtek(R) Au", 0, 2, 0),
    device("Speakers (Realtek(R) Audio)", 0, 0, 2),
    device("Microphone (Yeti Stereo Microphone)", 1, 2, 0),
    device("Microphone Array (Realtek(R) Audio)", 1, 2, 0),
    device("Speakers (Realtek(R) Audio)", 1, 0, 2),
    device("Microphone (Yeti Stereo Microphone)", 2, 2, 0),
    device("Microphone Array (Realtek(R) Audio)", 2, 2, 0),
    device("Speakers (Realtek(R) Audio)", 2, 0, 2),
]
MACOS_APIS = [{"name": "Core Audio", "default_input_device": 0, "default_output_device": 1}]
MACOS_DEVICES = [device("MacBook Pro Microphone", 0, 1, 0), device("MacBook Pro Speakers", 0, 0, 2)]


@dataclass
class FakePortAudio:
    apis: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    plugged: list[dict[str, Any]] = field(default_factory=list)  # seen after the next initialisation
    initialisations: int = 0

    def query_hostapis(self, index: int | None = None) -> Any:
        return tuple(self.apis) if index is None else self.apis[index]

    def query_devices(self, device: int | str | None = None, kind: str | None = None) -> Any:
        if device is None and kind is None:
            return list(self.devices)
        if device is None:  # PortAudio's default: the first host API's (MME on Windows)
            index = self.apis[0][f"default_{kind}_device"]
        elif isinstance(device, int):
            index = device
        else:
            index = sounddevice._get_device_id(device, kind, raise_on_error=True)
        return self.devices[index]

    def terminate(self) -> None:
        pass

    def initialize(self) -> None:
        self.initialisations += 1
        self.devices += self.plugged
        self.plugged = []

    def install(self, monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
        monkeypatch.setattr("sys.platform", platform)
        monkeypatch.setattr(sounddevice, "query_hostapis", self.query_hostapis)
        monkeypatch.setattr(sounddevice, "query_devices", self.query_devices)
        monkeypatch.setattr(sounddevice, "_terminate", self.terminate)
        monkeypatch.setattr(sounddevice, "_initialize", self.initialize)


def windows() -> FakePortAudio:
    return FakePortAudio([dict(a) for a in WINDOWS_APIS], [dict(d) for d in WINDOWS_DEVICES])


def macos() -> FakePortAudio:
    return FakePortAudio([dict(a) for a in MACOS_APIS], [dict(d) for d in MACOS_DEVICES])
