"""Test harness set-up shared by every test.

The environment must be set before anything imports PySide6 (without a platform and without a
display Qt aborts the whole process) or huggingface_hub (no hub is reachable: tests build their
own tiny models).
"""

from __future__ import annotations

import os
import shutil
import subprocess

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


def _pulse_running() -> bool:
    return (
        bool(shutil.which("pactl")) and subprocess.run(["pactl", "info"], capture_output=True).returncode == 0
    )


@pytest.fixture
def virtual_audio():  # type: ignore[no-untyped-def]
    """The sounddevice module, re-scanned, with the private PulseAudio daemon's virtual devices."""
    if not _pulse_running():
        pytest.skip("no PulseAudio daemon (scripts/test.sh starts one)")
    import sounddevice

    sounddevice._terminate()  # the device list is cached at import; the daemon may be newer
    sounddevice._initialize()
    return sounddevice


@pytest.fixture
def x_display() -> str:
    """The DISPLAY of a real X server (Xvfb under scripts/test.sh)."""
    display = os.environ.get("DISPLAY")
    if (
        not display
        or not shutil.which("xdpyinfo")
        or subprocess.run(["xdpyinfo"], capture_output=True).returncode
    ):
        pytest.skip("no X display (scripts/test.sh starts Xvfb)")
    return display
