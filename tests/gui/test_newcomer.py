"""What a first-time user touches (issue 20, items 12–15): push-to-talk with key auto-repeat, the
setup dialog's size, Ctrl+K without a webcam, banners that clear, and the smaller things."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QApplication

from app.devices import DeviceLists
from ola_core import events as ev
from ola_core import model_store
from ola_core.settings import Settings, load_settings
from tests.gui.helpers import trace
from tests.gui.test_window import CommandRecorder

ROOT = Path(__file__).resolve().parents[2]
NO_GPU = model_store.Hardware(cuda=False)


def _ptt(recorder: CommandRecorder) -> list[bool]:
    return [args[0] for name, args in recorder.calls if name == "push_to_talk"]


def _space(window, kind: QEvent.Type, *, repeat: bool = False, stamp: int = 0) -> None:  # type: ignore[no-untyped-def]
    event = QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", repeat, 1)
    event.setTimestamp(stamp)
    QApplication.sendEvent(window.transcript, event)


# --- 12. push-to-talk -----------------------------------------------------------------------
def test_held_space_is_one_utterance_whatever_the_auto_repeat_says(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    recorder = CommandRecorder()
    window.set_assistant(recorder)
    window.activateWindow()
    window.transcript.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.transcript, timeout=1000)
    press, release = QEvent.Type.KeyPress, QEvent.Type.KeyRelease
    _space(window, press, stamp=1000)
    for k in range(5):  # pairs Qt recognised as auto-repeat
        _space(window, release, repeat=True, stamp=1660 + 40 * k)
        _space(window, press, repeat=True, stamp=1660 + 40 * k)
    for k in range(5):  # pairs it did not (the press not yet queued): plain release + press, one timestamp
        _space(window, release, stamp=2000 + 40 * k)
        _space(window, press, stamp=2000 + 40 * k)
    assert _ptt(recorder) == [True], "auto-repeat pairs must not end the utterance"
    assert window.input.mic.property("ptt") == "true"
    _space(window, release, stamp=2500)
    qtbot.waitUntil(lambda: _ptt(recorder) == [True, False], timeout=2000)
    assert window.input.mic.property("ptt") == "false"
    # A new hold is a new utterance.
    _space(window, press, stamp=4000)
    _space(window, release, stamp=4600)
    qtbot.waitUntil(lambda: _ptt(recorder) == [True, False, True, False], timeout=2000)


@pytest.mark.xvfb
@pytest.mark.slow
def test_held_space_under_real_x_auto_repeat_is_one_utterance_per_hold(x_display: str) -> None:
    if not (shutil.which("xdotool") and shutil.which("xset")):
        pytest.skip("xdotool and xset are needed to hold a key on the X server")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display}
    result = subprocess.run(
        [sys.executable, "-m", "tests.gui.probes", "ptt", "4"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)  # plain_releases > 4: Qt missed auto-repeat pairs that the window had to merge
    assert report["key_events"] > 40, "auto-repeat was on: a 1.5 s hold repeats ~20 times"
    assert report["ptt"] == [True, False] * 4


# --- 13. the setup dialog -------------------------------------------------------------------
def _assert_fits(dialog) -> None:  # type: ignore[no-untyped-def]
    for button in dialog.findChildren(QAbstractButton):
        if button.isVisibleTo(dialog):
            hint, size = button.sizeHint(), button.size()
            assert size.width() >= hint.width() and size.height() >= hint.height(), (
                button.text(),
                size,
                hint,
            )
    assert dialog.scroll_area.verticalScrollBar().maximum() == 0, "everything shows without scrolling"
    assert dialog.scroll_area.horizontalScrollBar().maximum() == 0


def test_first_run_setup_opens_big_enough_for_its_contents(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog

    dialog = SetupDialog(hardware=NO_GPU)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.download_button.isVisibleTo(dialog)
    _assert_fits(dialog)


def test_setup_from_the_menu_with_files_found_is_not_a_narrow_strip(
    qtbot, themed, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog

    found = model_store.ModelFiles(tmp_path / "Ola-7b", tmp_path / "enc", None, "folder")
    monkeypatch.setattr(model_store, "find_model_files", lambda *_args: found)
    dialog = SetupDialog(hardware=NO_GPU)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.use_found.isVisibleTo(dialog)
    _assert_fits(dialog)
    assert dialog.width() >= dialog.fontMetrics().averageCharWidth() * 70, dialog.width()


def test_setup_grows_with_a_twice_as_large_font(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog

    normal = SetupDialog(hardware=NO_GPU)
    qtbot.addWidget(normal)
    original = QFont(QApplication.font())
    big_font = QFont(original)
    big_font.setPointSizeF(original.pointSizeF() * 2)
    QApplication.setFont(big_font)
    try:
        big = SetupDialog(hardware=NO_GPU)
        qtbot.addWidget(big)
        big.show()
        qtbot.waitExposed(big)
        screen = big.screen().availableGeometry()
        if big.width() < screen.width() * 0.9:
            assert big.width() > normal.width() * 1.5
        for button in big.findChildren(QAbstractButton):
            if button.isVisibleTo(big):
                assert button.size().expandedTo(button.sizeHint()) == button.size(), button.text()
    finally:
        QApplication.setFont(original)


@pytest.mark.xvfb
@pytest.mark.slow
def test_setup_at_200_percent_scaling_never_squashes_a_button(x_display: str) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display, "QT_SCALE_FACTOR": "2"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.gui.probes", "setup"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["scale"] == 2.0
    for text, (w, h), (hint_w, hint_h) in report["buttons"]:
        assert w >= hint_w and h >= hint_h, (text, (w, h), (hint_w, hint_h))
    _x, _y, width, height = report["dialog"]
    _sx, _sy, screen_w, screen_h = report["screen"]
    assert width <= screen_w and height <= screen_h, "on the screen (the contents scroll if they must)"


# --- 14. Ctrl+K without a webcam, banners that clear ------------------------------------------
def test_without_a_camera_ctrl_k_is_disabled_and_says_why(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    recorder = CommandRecorder()
    window.set_assistant(recorder)
    window.set_devices(DeviceLists(camera=[], monitor=[(1, "Screen 1")]))
    assert not window.camera_action.isEnabled()
    assert "no camera" in window.camera_action.text()
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    window.toggle_camera()
    assert "set_source" not in recorder.names()
    assert window.vision.row_of(("camera", 0)) == -1
    window.set_devices(DeviceLists(camera=[(2, "USB camera")], monitor=[(1, "Screen 1")]))
    assert window.camera_action.isEnabled()
    window.toggle_camera()  # the configured camera 0 is not there: the one that is
    assert recorder.calls[-1] == ("set_source", ("camera", 2, None))


def test_a_camera_that_does_not_deliver_is_never_shown_as_on(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    post = window.bridge.post
    message = "No camera found (/dev/video0 does not exist). Connect one, or choose another camera."
    post(ev.SourceChanged("camera", 0, 0.0))
    post(ev.DeviceEvent("camera", "camera 0", False, message, 0.0))
    post(ev.ErrorRaised("camera", message, "CameraError", None, 0.0))
    qtbot.waitUntil(lambda: len(window.banners.banners()) == 1, timeout=2000)
    indicator = window.vision.indicator.text()
    assert "Camera on" not in indicator and "not available" in indicator
    assert window.vision.picker.currentData() == ("camera", 0), "the picker and the indicator agree"

    post(ev.DeviceEvent("camera", "camera 0", True, "", 0.0))  # plugged in: the cause is fixed
    qtbot.waitUntil(lambda: window.banners.banners() == [], timeout=2000)
    assert window.vision.indicator.text() == "● Camera on"

    post(ev.DeviceEvent("camera", "camera 0", False, message, 0.0))
    qtbot.waitUntil(lambda: len(window.banners.banners()) == 1, timeout=2000)
    post(ev.SourceChanged("screen", 1, 0.0))  # switching to the screen ends the camera's problem
    qtbot.waitUntil(lambda: window.banners.banners() == [], timeout=2000)
    assert window.vision.indicator.text() == "● Screen shared"
    assert window.vision.picker.currentData() == ("screen", 1)


def test_an_unlisted_camera_in_use_shows_in_the_picker(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.bridge.post(ev.SourceChanged("camera", 5, 0.0))
    qtbot.waitUntil(lambda: window.vision.kind == "camera", timeout=2000)
    assert window.vision.picker.currentData() == ("camera", 5)
    assert "not listed" in window.vision.picker.currentText()


def test_microphone_banner_clears_when_it_is_back(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    post = window.bridge.post
    post(ev.StateChanged("idle", "loading", True, False, 0.0))
    post(ev.DeviceEvent("microphone", "mic", False, "The microphone “mic” stopped.", 0.0))
    qtbot.waitUntil(lambda: window.pill.text() == "No microphone", timeout=2000)
    assert len(window.banners.banners()) == 1
    post(ev.DeviceEvent("microphone", "mic", True, "", 0.0))
    qtbot.waitUntil(lambda: window.banners.banners() == [], timeout=2000)
    assert window.pill.text() == "Listening"


_NO_WEBCAM = """
import sys, threading
import cv2  # imported first, as other modules may: the camera module must still silence it
from ola_core.capture.camera import CameraSource

events, opened = [], threading.Event()
source = CameraSource(int(sys.argv[1]), on_event=events.append)
source.retry_s = 0.02
real_open, count = source._open, [0]
def counting_open():
    count[0] += 1
    if count[0] >= 10:
        opened.set()
    real_open()
source._open = counting_open
source.start()
assert opened.wait(30), "the source retries"
source.stop()
cv2.VideoCapture(int(sys.argv[1])).release()  # straight to OpenCV: still no warning
print(events[0].message)
"""


def test_no_webcam_gives_one_event_and_no_opencv_warning_per_retry(tmp_path: Path) -> None:
    index = next(i for i in range(40, 64) if not Path(f"/dev/video{i}").exists())
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", _NO_WEBCAM, str(index)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARN" not in result.stderr and "VIDEOIO" not in result.stderr, result.stderr[-2000:]
    message = result.stdout.strip()
    assert "camera camera" not in message and "camera" in message.lower()
    assert result.stderr.count("lost") <= 1, "one report, not one per retry"


# --- 15. smaller things ---------------------------------------------------------------------
def test_status_bar_keeps_its_full_texts_at_the_default_size(window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window.resize(1180, 760)
    window.show_model(model_store.ModelFiles(tmp_path / "tiny", tmp_path / "enc", None, "folder", True))
    post = window.bridge.post
    post(ev.StateChanged("idle", "loading", False, False, 0.0))
    post(ev.UserTurnCaptured(1, "voice", "", 3.0, ()))
    post(ev.TurnFinished(1, "Hello", "completed", trace(1)))
    qtbot.waitUntil(lambda: window.hud.trace is not None, timeout=2000)
    qtbot.waitUntil(lambda: window.pill.text() == "Ready — hold Space to talk", timeout=2000)
    for widget in (window.pill, window.hud, window.model_label, window.stop_button):
        assert widget.width() >= widget.sizeHint().width(), widget.text()
    assert "random weights" in window.model_label.text()
    assert "gibberish" in window.model_label.toolTip()


def test_title_names_the_app_once(window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = QApplication.instance()
    old = app.applicationDisplayName()
    app.setApplicationDisplayName("Ola Assistant")
    try:
        assert window.windowTitle() == "Ola Assistant"
        window.show_model(model_store.ModelFiles(tmp_path / "tiny", tmp_path / "enc", None, "folder", True))
        # The platform shows "<title> — <display name>" for any title that is not the name itself.
        assert "Ola Assistant" not in window.windowTitle() and "random weights" in window.windowTitle()
    finally:
        app.setApplicationDisplayName(old)


def test_question_typed_while_the_model_loads_is_sent_once_loaded(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    recorder = CommandRecorder()
    window.set_assistant(recorder)
    window.bridge.post(ev.StateChanged("loading", "idle", True, False, 0.0))
    qtbot.waitUntil(lambda: window._state is not None, timeout=2000)
    window.input.box.setFocus()
    qtbot.keyClicks(window.input.box, "What time is it?")
    qtbot.keyClick(window.input.box, Qt.Key.Key_Return)
    assert "send_text" not in recorder.names()
    assert window.input.pending.isVisibleTo(window) and "What time is it?" in window.input.pending.text()
    window.bridge.post(ev.StateChanged("idle", "loading", True, False, 0.0))
    qtbot.waitUntil(lambda: ("send_text", ("What time is it?",)) in recorder.calls, timeout=2000)
    assert not window.input.pending.isVisibleTo(window)
    assert recorder.names().count("send_text") == 1


def test_question_typed_before_any_model_is_kept_for_it(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.set_assistant(None)
    window.send_text("Hello?")
    assert "kept" in window.banners.banners()[0].label.text()
    recorder = CommandRecorder()
    recorder.state = "loading"  # as a freshly started Assistant
    window.set_assistant(recorder)
    assert "send_text" not in recorder.names()
    window.bridge.post(ev.StateChanged("idle", "loading", True, False, 0.0))
    qtbot.waitUntil(lambda: ("send_text", ("Hello?",)) in recorder.calls, timeout=2000)


def test_turning_hands_free_off_is_saved(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from app.main import AppController

    controller = AppController(Settings(), [], run_setup=False)
    qtbot.addWidget(controller.window)
    assert controller.window.input.mic.isChecked()
    controller.window.input.mic.click()
    saved, _warnings = load_settings()
    assert saved.audio.hands_free is False
    assert saved == dataclasses.replace(
        Settings(), audio=dataclasses.replace(Settings().audio, hands_free=False)
    )


def test_load_failure_banner_is_a_sentence_with_details_on_demand(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    raw = (
        "The model could not be loaded (RuntimeError: Error(s) in loading state_dict for "
        "OlaQwenForCausalLM: size mismatch for lm_head.weight (shape [10, 4] vs [12, 4]))."
    )
    window.bridge.post(ev.ErrorRaised("model", raw, "GenerationError", None, 0.0))
    qtbot.waitUntil(lambda: len(window.banners.banners()) == 1, timeout=2000)
    banner = window.banners.banners()[0]
    assert banner.label.text() == "The model could not be loaded."
    assert banner.action_button is not None and "model" in banner.action_button.text().lower()
    assert banner.details_button is not None and not banner.details.isVisibleTo(window)
    banner.details_button.click()
    assert banner.details.isVisibleTo(window) and "size mismatch" in banner.details.text()
    # Loading the model later takes the banner down.
    window.bridge.post(ev.ModelLoaded("Ola-7B", 3.0, 0.0))
    qtbot.waitUntil(lambda: window.banners.banners() == [], timeout=2000)
