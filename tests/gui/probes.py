"""Checks that need their own process on a real X server (``QT_QPA_PLATFORM=xcb``); each prints
one JSON line for the test that started it (tests/gui/test_newcomer.py).

``python -m tests.gui.probes ptt N``: hold Space N times with X key auto-repeat on (xdotool),
report the push-to-talk commands the window sent and the raw key events Qt delivered.
``python -m tests.gui.probes setup``: open the first-run setup dialog and report every button's
size against its size hint (run it with ``QT_SCALE_FACTOR=2`` for 200 % scaling).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget


def settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


class _Recorder:
    def __init__(self) -> None:
        self.ptt: list[bool] = []
        self.state = "idle"

    def subscribe(self, _callback: Any) -> Any:
        return lambda: None

    def preview_frame(self) -> None:
        return None

    def push_to_talk(self, down: bool) -> None:
        self.ptt.append(down)

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class _KeyLog(QObject):
    def __init__(self, window: QWidget) -> None:
        super().__init__()
        self.window = window
        self.plain_releases = 0  # releases Qt did not mark as auto-repeat
        self.events = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
            and watched is self.window.windowHandle()
        ):
            self.events += 1
            if event.type() == QEvent.Type.KeyRelease and not event.isAutoRepeat():  # type: ignore[attr-defined]
                self.plain_releases += 1
        return False


def ptt(app: QApplication, holds: int) -> dict[str, Any]:
    from app.main_window import MainWindow

    recorder = _Recorder()
    window = MainWindow(recorder)  # type: ignore[arg-type]
    window.show()
    window.activateWindow()
    settle(app, 0.5)
    window.transcript.setFocus()
    keys = _KeyLog(window)
    app.installEventFilter(keys)
    subprocess.run(["xset", "r", "on"], check=True)
    for _ in range(holds):
        hold = subprocess.Popen(["sh", "-c", "xdotool keydown space; sleep 1.5; xdotool keyup space"])
        while hold.poll() is None:
            settle(app, 0.02)
        settle(app, 0.4)
    return {"ptt": recorder.ptt, "key_events": keys.events, "plain_releases": keys.plain_releases}


def setup(app: QApplication) -> dict[str, Any]:
    from app import theme
    from app.dialogs.setup import SetupDialog
    from ola_core import model_store

    theme.apply(app)
    dialog = SetupDialog(hardware=model_store.Hardware(cuda=False))
    dialog.show()
    settle(app, 0.5)
    buttons = [
        (b.text(), b.size().toTuple(), b.sizeHint().toTuple())
        for b in dialog.findChildren(QAbstractButton)
        if b.isVisibleTo(dialog)
    ]
    screen = dialog.screen().availableGeometry()
    return {
        "buttons": buttons,
        "dialog": dialog.frameGeometry().getRect(),
        "screen": screen.getRect(),
        "scale": dialog.devicePixelRatio(),
    }


def main(argv: list[str]) -> int:
    app = QApplication(argv[:1])
    result = ptt(app, int(argv[2])) if argv[1] == "ptt" else setup(app)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
