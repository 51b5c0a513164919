"""What the GUI offers in its device menus: microphones, speakers, cameras, monitors.

Audio devices come from PulseAudio (or PipeWire's pulse server) when one runs, else from
PortAudio. On Linux PortAudio reaches PulseAudio only through ALSA's ``pulse``/``default``
devices, so it cannot list or pick the real microphones; we ask ``pactl`` for them and
select one for a stream with the ``PULSE_SOURCE``/``PULSE_SINK`` variables libpulse reads when
the stream opens (:func:`stream_target` says how to open one). Elsewhere (Windows, macOS, bare ALSA) PortAudio's own
list has the real names; ``pactl`` is never run there.

PortAudio lists each Windows device once per host API (MME, DirectSound, WASAPI, WDM-KS; MME
cuts names at 31 characters), so on Windows only the WASAPI entries are offered, and on macOS
the Core Audio ones; a stream is opened by "name, host API" so the same name under another host
API cannot make it ambiguous. PortAudio reads its device list once, at initialisation: a device
plugged in later is seen only after :func:`refresh_portaudio`, which the microphone calls while
it waits for a lost device and the lists call, whenever no stream of ours is open.

Cameras are found by opening indices with a short timeout each (OpenCV has no device list, and
some backends hang on an absent index); on Linux only the indices with a /dev/videoN node are
tried.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ola_core.errors import AudioDeviceError

if TYPE_CHECKING:  # screen.py imports cv2: loaded only when monitors are listed
    from ola_core.capture.screen import MonitorInfo

AudioBackend = Literal["pulse", "portaudio"]
AudioSystem = Literal["pulse", "wasapi", "coreaudio", "alsa"]


@dataclass(frozen=True)
class AudioDevice:
    """A microphone or speaker; ``name`` is what settings store and what streams are opened by."""

    name: str
    description: str  # for people
    is_default: bool
    backend: AudioBackend
    hostapi: str | None = None  # PortAudio host API the device was listed under (None: any)

    @property
    def portaudio_query(self) -> str:
        """What sounddevice's ``device=`` takes to open exactly this device."""
        return f"{self.name}, {self.hostapi}" if self.hostapi else self.name


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str
    width: int
    height: int


# --- PulseAudio -------------------------------------------------------------------------------
def _pactl(*args: str) -> str | None:
    """Output of ``pactl args`` or None when there is no pactl or no server."""
    if not shutil.which("pactl"):
        return None
    try:
        done = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=2.0)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def pulse_running() -> bool:
    """True when a PulseAudio (or PipeWire-pulse) server answers."""
    return sys.platform.startswith("linux") and _pactl("info") is not None


def audio_system() -> AudioSystem:
    """Where device lists come from (About shows it): PulseAudio/PipeWire on Linux when a server
    answers, else PortAudio's host API for the platform."""
    if sys.platform == "win32":
        return "wasapi"
    if sys.platform == "darwin":
        return "coreaudio"
    return "pulse" if pulse_running() else "alsa"


def _pulse_names(kind: Literal["sources", "sinks"]) -> list[str] | None:
    out = _pactl("list", "short", kind)
    if out is None:
        return None
    return [line.split("\t")[1] for line in out.splitlines() if line.count("\t") >= 1]


def pulse_source_names() -> list[str] | None:
    """Names of the PulseAudio capture sources that are microphones (monitors excluded); None: no server."""
    names = _pulse_names("sources")
    return None if names is None else [n for n in names if not n.endswith(".monitor")]


def pulse_default(kind: Literal["source", "sink"]) -> str | None:
    """The server's default source/sink name (None: no server, or the default is a monitor)."""
    out = _pactl(f"get-default-{kind}")
    name = out.strip() if out else ""
    return name if name and not name.endswith(".monitor") else None


def _pulse_descriptions(kind: Literal["sources", "sinks"]) -> dict[str, str]:
    out = _pactl("list", kind) or ""
    descriptions: dict[str, str] = {}
    name = None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Name: "):
            name = line[6:]
        elif line.startswith("Description: ") and name is not None:
            descriptions[name] = line[13:]
    return descriptions


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def pulse_target(variable: Literal["PULSE_SOURCE", "PULSE_SINK"], name: str | None) -> Iterator[None]:
    """Open streams inside this block to pulse device ``name`` (None: the server's default)."""
    with _ENV_LOCK:
        old = os.environ.pop(variable, None)
        if name is not None:
            os.environ[variable] = name
        try:
            yield
        finally:
            os.environ.pop(variable, None)
            if old is not None:
                os.environ[variable] = old


@dataclass(frozen=True)
class StreamTarget:
    """How to open a PortAudio stream on a device from :func:`list_microphones`/:func:`list_speakers`."""

    variable: Literal["PULSE_SOURCE", "PULSE_SINK"]
    portaudio_device: str | None  # ``device=`` for sounddevice (None: PortAudio's default)
    pulse_name: str | None  # the PulseAudio source/sink the stream will use (None: not PulseAudio)

    def opening(self) -> contextlib.AbstractContextManager[None]:
        """Create the stream inside this block (it routes PortAudio's ``default`` to ``pulse_name``)."""
        return pulse_target(self.variable, self.pulse_name) if self.pulse_name else contextlib.nullcontext()

    def track(self, stream: Any) -> None:
        """The stream opened here stays open through :func:`refresh_portaudio` (see there)."""
        track_stream(stream)


def stream_target(kind: Literal["input", "output"], name: str | None) -> StreamTarget:
    """Where a stream for device ``name`` (None: the system default) must be opened.

    Raises :class:`AudioDeviceError` when there is no such device, or no microphone at all.
    """
    variable: Literal["PULSE_SOURCE", "PULSE_SINK"] = "PULSE_SOURCE" if kind == "input" else "PULSE_SINK"
    listed = list_microphones if kind == "input" else list_speakers
    if pulse_running():
        if name is not None:
            return StreamTarget(variable, None, find_audio_device(name, listed()).name)
        default = pulse_default("source" if kind == "input" else "sink")
        if default is None and kind == "input":
            raise AudioDeviceError(
                "No microphone is connected (the system has no default input). "
                "Plug one in or choose one in Settings."
            )
        return StreamTarget(variable, None, default)
    if name is None and sys.platform not in PREFERRED_HOSTAPIS:
        return StreamTarget(variable, None, None)  # PortAudio's default
    if name is None:  # the preferred host API's default (PortAudio's own is MME's on Windows)
        preferred = next((d for d in listed() if d.is_default and d.hostapi), None)
        return StreamTarget(variable, preferred.portaudio_query if preferred else None, None)
    return StreamTarget(variable, find_audio_device(name, listed()).portaudio_query, None)


# --- PortAudio --------------------------------------------------------------------------------
# The host API whose list has each device once, with its full name (see the module docstring).
PREFERRED_HOSTAPIS: dict[str, str] = {"win32": "Windows WASAPI", "darwin": "Core Audio"}

_streams: weakref.WeakSet[Any] = weakref.WeakSet()  # our open PortAudio streams
_streams_lock = threading.Lock()


def track_stream(stream: Any) -> None:
    """Note an open sounddevice stream, so :func:`refresh_portaudio` never closes it under its owner."""
    with _streams_lock:
        _streams.add(stream)


def refresh_portaudio() -> bool:
    """Re-read PortAudio's device list (Windows, macOS) so plugged-in devices appear; True if done.

    Re-initialising PortAudio closes every stream it has open, so nothing happens while a
    stream passed to :func:`track_stream` is still open, nor where the list is live anyway.
    """
    if sys.platform not in PREFERRED_HOSTAPIS:
        return False
    import sounddevice

    with _streams_lock:
        if any(not stream.closed for stream in _streams):
            return False
        sounddevice._terminate()  # the documented way to update query_devices()
        sounddevice._initialize()
    return True


def _preferred_hostapi(sounddevice: Any) -> tuple[int, dict[str, Any]] | None:
    wanted = PREFERRED_HOSTAPIS.get(sys.platform)
    for index, api in enumerate(sounddevice.query_hostapis()):
        if api["name"] == wanted:
            return index, api
    return None


def _portaudio_devices(kind: Literal["input", "output"]) -> list[AudioDevice]:
    import sounddevice

    refresh_portaudio()
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    listed = list(enumerate(sounddevice.query_devices()))
    preferred = _preferred_hostapi(sounddevice)
    if preferred is not None:
        index, api = preferred
        default_index = api[f"default_{kind}_device"]  # -1: none
        return [
            AudioDevice(d["name"], d["name"], i == default_index, "portaudio", api["name"])
            for i, d in listed
            if d["hostapi"] == index and d[key] > 0
        ]
    try:
        default = sounddevice.query_devices(kind=kind)["name"]
    except (sounddevice.PortAudioError, ValueError):
        default = None
    return [
        AudioDevice(d["name"], d["name"], d["name"] == default, "portaudio") for _i, d in listed if d[key] > 0
    ]


def _audio_devices(kind: Literal["input", "output"]) -> list[AudioDevice]:
    if pulse_running():
        pulse_kind: Literal["sources", "sinks"] = "sources" if kind == "input" else "sinks"
        names = pulse_source_names() if kind == "input" else _pulse_names("sinks")
        default = pulse_default("source" if kind == "input" else "sink")
        descriptions = _pulse_descriptions(pulse_kind)
        return [AudioDevice(n, descriptions.get(n, n), n == default, "pulse") for n in names or []]
    return _portaudio_devices(kind)


def list_microphones() -> list[AudioDevice]:
    """Capture devices, the system default marked (monitors of outputs are not microphones)."""
    return _audio_devices("input")


def list_speakers() -> list[AudioDevice]:
    """Playback devices, the system default marked."""
    return _audio_devices("output")


def find_audio_device(name: str, devices: list[AudioDevice]) -> AudioDevice:
    """The device called ``name``: exact name, else exact description, else a unique substring."""
    exact = [d for d in devices if d.name == name] or [d for d in devices if d.description == name]
    if exact:
        return exact[0]
    key = name.lower()
    partial = [d for d in devices if key in d.name.lower() or key in d.description.lower()]
    if len(partial) == 1:
        return partial[0]
    choices = ", ".join(d.description for d in devices) or "none"
    raise AudioDeviceError(
        f"No audio device called {name!r} (available: {choices}). Plug it in or choose another in Settings."
    )


# --- cameras and monitors ---------------------------------------------------------------------
def _probe_camera(index: int, timeout: float) -> CameraInfo | None:
    result: list[CameraInfo] = []

    def probe() -> None:
        import cv2

        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
                sys_name = Path(f"/sys/class/video4linux/video{index}/name")
                name = sys_name.read_text().strip() if sys_name.is_file() else f"Camera {index}"
                result.append(CameraInfo(index, name, w, h))
        finally:
            cap.release()

    thread = threading.Thread(target=probe, name=f"probe-camera-{index}", daemon=True)
    thread.start()
    thread.join(timeout)  # a backend stuck on an index is left behind, not waited for
    return result[0] if result else None


def list_cameras(max_index: int = 8, timeout: float = 1.0) -> list[CameraInfo]:
    """Cameras that open, by index (a camera in use elsewhere may not)."""
    if sys.platform.startswith("linux"):
        indices = [i for i in range(max_index) if Path(f"/dev/video{i}").exists()]
    else:
        indices = list(range(max_index))
    found = []
    for index in indices:
        info = _probe_camera(index, timeout)
        if info is not None:
            found.append(info)
        elif not sys.platform.startswith("linux"):
            break  # elsewhere indices are dense: the first gap ends the list
    return found


def list_monitors() -> list[MonitorInfo]:
    """Monitors mss can capture (index 1 is the first); empty when there is no display."""
    from ola_core.capture.screen import ScreenSource
    from ola_core.errors import ScreenCaptureError

    try:
        return ScreenSource.monitors()
    except ScreenCaptureError:
        return []
