"""Render the main window in its idle, speaking and error states and save PNGs (for review).

Run as a separate process (``python -m tests.gui.screenshots OUT_DIR``) so it can use a real X
server (``QT_QPA_PLATFORM=xcb``): fonts, DPI and window decorations then come from X as on a
desktop. The states are produced by the real window fed with real assistant events.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

STATES = ("idle", "speaking", "error")


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main(out: Path, suffix: str = "") -> int:
    from app import theme
    from app.main_window import MainWindow
    from ola_core import events as ev
    from tests.gui.helpers import answer_events, frames, trace

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    QCoreApplication.setApplicationName("ola-assistant")
    theme.apply(app)
    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    post = window.bridge.post
    post(ev.StateChanged("idle", "loading", True, False, 0.0))
    post(ev.InputLevel(-42.0, -35.0, 0.0))
    settle(app)
    window.grab().save(str(out / f"idle{suffix}.png"))

    shown = frames(4, (240, 320))
    window.vision.show_source("camera", 0)
    images, _attached = window.vision.show_turn_frames(shown)
    window.vision.preview.show_image(images[-1])
    answer = (
        "Sure! Here is what I can see on your camera:\n\n"
        "- a **yellow** square moving to the right\n"
        "- a blue background, slowly getting *brighter*\n\n"
        "To draw the same square with NumPy:\n\n"
        "```python\nimg[30:90, 10:50] = (250, 200, 60)\n```\n\n"
        "Want me to explain the colour values?"
    )
    for event in (
        ev.UserTurnCaptured(1, "text", "What is the capital of France?", 0.0, ()),
        *answer_events(1, "The capital of France is **Paris**."),
        ev.TurnFinished(1, "The capital of France is **Paris**.", "completed", trace(1, "text")),
        ev.UserTurnCaptured(2, "voice", "", 3.2, shown, "camera"),
        *answer_events(2, answer),
        ev.StateChanged("speaking", "thinking", True, False, 0.0),
        ev.SentenceSpoken(2, 1, "a **yellow** square moving to the right", -1, -1, 0.0),
        ev.InputLevel(-24.0, -12.0, 0.0),
    ):
        post(event)
    settle(app, 0.6)
    window.hud.show_trace(trace(1, "voice"))
    settle(app)
    window.grab().save(str(out / f"speaking{suffix}.png"))

    post(ev.TurnFinished(2, answer, "completed", trace(2)))
    post(ev.StateChanged("idle", "speaking", True, False, 0.0))
    post(ev.DeviceEvent("microphone", "USB headset", False, "Microphone disconnected — choose another.", 0.0))
    post(
        ev.ErrorRaised(
            "media", "broken.png: this file is not an image Ola can read.", "MediaError", None, 0.0
        )
    )
    settle(app)
    window.grab().save(str(out / f"error{suffix}.png"))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else ""))
