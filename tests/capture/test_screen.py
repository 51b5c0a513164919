"""ScreenSource under a real X server (Xvfb): it must return the pixels of a window we draw."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import numpy as np
import pytest

from ola_core.capture.devices import list_monitors
from ola_core.capture.screen import ScreenSource
from ola_core.errors import ScreenCaptureError

COLOUR = (20, 200, 40)  # RGB
RECT = (120, 90, 240, 160)  # left, top, width, height


@pytest.fixture
def coloured_window(x_display: str) -> Iterator[None]:
    """A frameless PySide6 window of ``COLOUR`` at ``RECT``, in its own xcb process."""
    left, top, width, height = RECT
    code = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import Qt, QTimer
        from PySide6.QtWidgets import QApplication, QWidget
        app = QApplication(sys.argv)
        w = QWidget(); w.setWindowFlags(Qt.FramelessWindowHint | Qt.WindowStaysOnTopHint)
        w.setStyleSheet("background-color: rgb{COLOUR};")
        w.setGeometry({left}, {top}, {width}, {height}); w.show()
        QTimer.singleShot(300, lambda: print("ready", flush=True))
        app.exec()
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _matches(rgb: np.ndarray) -> float:
    """Fraction of pixels within 8 levels of ``COLOUR``."""
    return float(np.mean(np.all(np.abs(rgb.astype(int) - COLOUR) <= 8, axis=2)))


@pytest.mark.xvfb
def test_region_grab_returns_the_window_pixels(coloured_window: None) -> None:
    left, top, width, height = RECT
    inner = (left + 10, top + 10, width - 20, height - 20)  # away from any edge antialiasing
    frame = ScreenSource(1, inner, fps=0).grab()
    assert frame.rgb.shape == (height - 20, width - 20, 3) and frame.rgb.dtype == np.uint8
    assert _matches(frame.rgb) > 0.99
    outside = ScreenSource(1, (left + width + 20, top, 50, 50), fps=0).grab()
    assert _matches(outside.rgb) < 0.01


@pytest.mark.xvfb
def test_running_source_samples_the_screen(coloured_window: None) -> None:
    monitors = list_monitors()
    assert len(monitors) >= 2 and monitors[1].width > 0
    with ScreenSource(1, fps=5.0, sample_fps=5.0, max_side=640) as screen:
        t0 = time.monotonic()
        time.sleep(1.0)
        t1 = time.monotonic()
        frames = screen.frames_between(t0, t1, max_frames=4)
    assert len(frames) == 4 and all(t0 <= f.t <= t1 for f in frames)
    mon = monitors[1]
    scale = 640 / max(mon.width, mon.height)
    assert frames[-1].rgb.shape == (round(mon.height * scale), round(mon.width * scale), 3)
    # The window shows up scaled in the full-monitor frames.
    x, y, w, h = (round(v * scale) for v in RECT)
    assert _matches(frames[-1].rgb[y + 3 : y + h - 3, x + 3 : x + w - 3]) > 0.95


@pytest.mark.xvfb
def test_on_demand_source_grabs_at_the_turn(x_display: str) -> None:
    screen = ScreenSource(1, (0, 0, 64, 48), fps=0)
    screen.start()  # checks the display; no thread
    assert not screen.running and screen.latest() is None
    t = time.monotonic()
    (frame,) = screen.frames_between(t - 5, t, max_frames=4)
    assert frame.t >= t and frame.rgb.shape == (48, 64, 3)
    assert screen.latest() is frame


@pytest.mark.xvfb
def test_bad_monitor_or_region_is_refused(x_display: str) -> None:
    with pytest.raises(ScreenCaptureError, match="no monitor 9"):
        ScreenSource(9).start()
    with pytest.raises(ScreenCaptureError, match="outside monitor"):
        ScreenSource(1, (0, 0, 100_000, 10)).start()


def test_no_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ScreenCaptureError, match="DISPLAY is not set"):
        ScreenSource(1).start()
    assert list_monitors() == []
