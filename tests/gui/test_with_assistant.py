"""The window on the REAL Assistant: tiny random checkpoint (CPU), real endpointer, real speech
pipeline (offline espeak-ng voice written to a wav), a replayed microphone and a video file as
the camera — the devices this machine lacks, stood in for exactly as ``ola-assistant replay`` does.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from ola_core.assistant.headless import HeadlessSession
from ola_core.events import AttachmentsChanged, ErrorRaised, TurnFinished
from ola_core.settings import GenerationPreferences
from tests.assistant.conftest import fast_settings, make_session, speak
from tests.gui.helpers import StallMeter


def _session(
    model, tiny, tmp_path: Path, max_new_tokens: int = 12, start: bool = True, **kwargs
) -> HeadlessSession:  # type: ignore[no-untyped-def]
    settings = fast_settings(tiny)
    settings = dataclasses.replace(
        settings, generation=GenerationPreferences(max_new_tokens=max_new_tokens, temperature=0.0)
    )
    session = make_session(model, tiny, settings, out_wav=tmp_path / "answer.wav", **kwargs)
    if start:
        session.start(timeout=120)
    return session


@pytest.fixture
def app_window(qtbot, themed, loaded, tiny_checkpoint, tmp_path: Path) -> Iterator[tuple]:  # type: ignore[no-untyped-def]
    from app.main_window import MainWindow

    session = _session(loaded, tiny_checkpoint, tmp_path)
    window = MainWindow(session.assistant, settings=session.settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window, session
    window.close()
    session.close()


def _finished(session: HeadlessSession, start: int) -> list[TurnFinished]:
    return [e for e in session.events[start:] if isinstance(e, TurnFinished)]


def test_typed_question_streams_an_answer_into_the_transcript(app_window, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, session = app_window
    start = session.mark()
    window.input.box.setFocus()
    qtbot.keyClicks(window.input.box, "Describe the picture")
    qtbot.keyClick(window.input.box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(_finished(session, start)), timeout=60000)
    finished = _finished(session, start)[0]
    assert finished.outcome == "completed" and finished.text
    bubble = window.transcript.answer(finished.turn_id)
    qtbot.waitUntil(lambda: bubble is not None and bubble.finished, timeout=5000)
    assert bubble.raw == finished.text
    assert window.transcript.bubbles[-2].text == "Describe the picture"
    assert window.hud.trace is not None and window.hud.trace.turn_id == finished.turn_id
    assert "first token" in window.hud.text()


def test_replayed_spoken_turn_shows_voice_bubble_frames_strip_and_hud(
    qtbot,  # type: ignore[no-untyped-def]
    themed,
    loaded,
    tiny_checkpoint,
    clip: Path,
    tmp_path: Path,
) -> None:
    from app.main_window import MainWindow
    from app.widgets.transcript import UserBubble

    session = _session(loaded, tiny_checkpoint, tmp_path, video=clip, start=False)
    window = MainWindow(
        session.assistant, settings=session.settings
    )  # subscribes before the start, as the app
    qtbot.addWidget(window)
    window.show()
    session.start(timeout=120)
    try:
        qtbot.waitUntil(lambda: window.vision.preview._image is not None, timeout=10000)  # live preview
        assert "Camera on" in window.vision.indicator.text()
        result: list[TurnFinished | None] = []
        asker = threading.Thread(
            target=lambda: result.append(session.ask_spoken(speak("What do you see?"), 90))
        )
        asker.start()
        qtbot.waitUntil(lambda: not asker.is_alive(), timeout=100000)
        finished = result[0]
        assert finished is not None and finished.outcome == "completed"
        qtbot.waitUntil(lambda: window.hud.trace is not None, timeout=5000)
        user = next(b for b in window.transcript.bubbles if isinstance(b, UserBubble))
        assert user.kind == "voice" and "voice, " in user.meta.text()
        used = finished.trace.frames_used
        assert used > 0, "a live camera turn gives the model frames"
        assert user.frame_count == used and len(window.vision.strip.images) == used
        assert window.hud.trace.kind == "voice" and "first audio" in window.hud.text()
        assert window.transcript.answer(finished.turn_id).raw == finished.text
    finally:
        window.close()
        session.close()


def test_stop_cancels_the_answer(qtbot, themed, loaded, tiny_checkpoint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.main_window import MainWindow

    session = _session(loaded, tiny_checkpoint, tmp_path, max_new_tokens=2000)
    window = MainWindow(session.assistant, settings=session.settings)
    qtbot.addWidget(window)
    window.show()
    try:
        start = session.mark()
        window.send_text("Tell me a very long story")
        qtbot.waitUntil(lambda: window.stop_button.isEnabled(), timeout=60000)
        qtbot.keyClick(window.transcript, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: bool(_finished(session, start)), timeout=30000)
        finished = _finished(session, start)[0]
        assert finished.outcome == "stopped"
        assert finished.trace.new_tokens < 2000
        bubble = window.transcript.answer(finished.turn_id)
        qtbot.waitUntil(lambda: bubble.finished, timeout=5000)
        assert "interrupted" in bubble.footer.text() or "stopped" in bubble.footer.text()
    finally:
        window.close()
        session.close()


def _drop(window, path: Path) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(
        window, QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime, buttons, mods)
    )
    QApplication.sendEvent(
        window, QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, buttons, mods)
    )


def test_dropped_image_is_attached_and_a_corrupt_file_gives_a_banner(
    app_window, qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from app.widgets.images import qimage_from_rgb

    window, session = app_window
    image = tmp_path / "desk.png"
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[16:48, 20:60] = (200, 80, 40)
    qimage_from_rgb(rgb).save(str(image))
    start = session.mark()
    _drop(window, image)
    qtbot.waitUntil(
        lambda: any(isinstance(e, AttachmentsChanged) and e.paths for e in session.events[start:]),
        timeout=10000,
    )
    qtbot.waitUntil(lambda: window.input.attachments.isVisible(), timeout=5000)
    assert "desk.png" in window.input.attachments_label.text()

    # A file of a type Ola cannot take: refused at once, with a banner.
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    _drop(window, notes)
    qtbot.waitUntil(lambda: len(window.banners.banners()) == 1, timeout=10000)
    assert "notes.txt" in window.banners.banners()[0].label.text()

    # The image first goes with a question and is answered.
    start = session.mark()
    window.send_text("What is in the image?")
    qtbot.waitUntil(lambda: bool(_finished(session, start)), timeout=60000)
    assert _finished(session, start)[0].outcome == "completed"
    assert window.conversation.messages[-2].attachments == ["desk.png"]

    # A corrupt image (right name, broken bytes): refused when attached (the assistant decodes
    # attachments at once), with a banner; the app lives on.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    start = session.mark()
    _drop(window, broken)
    qtbot.waitUntil(lambda: any(isinstance(e, ErrorRaised) for e in session.events[start:]), timeout=60000)
    qtbot.waitUntil(
        lambda: any("broken.png" in b.label.text() for b in window.banners.banners()), timeout=5000
    )
    assert not any("Traceback" in b.label.text() for b in window.banners.banners())
    qtbot.waitUntil(lambda: session.assistant.wait_idle(0.01), timeout=30000)
    start = session.mark()
    window.send_text("Still there?")
    qtbot.waitUntil(lambda: bool(_finished(session, start)), timeout=60000)
    assert _finished(session, start)[0].outcome == "completed"


def test_gui_stays_responsive_during_a_real_turn(
    qtbot, themed, loaded, tiny_checkpoint, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The event loop's longest stall while the real engine streams an answer (timer every 5 ms)."""
    from app.main_window import MainWindow

    session = _session(loaded, tiny_checkpoint, tmp_path, max_new_tokens=120)
    window = MainWindow(session.assistant, settings=session.settings)
    qtbot.addWidget(window)
    window.show()
    try:
        meter = StallMeter()
        start = session.mark()
        meter.start()
        window.send_text("Write a long answer please")
        qtbot.waitUntil(lambda: bool(_finished(session, start)), timeout=90000)
        meter.stop()
        assert _finished(session, start)[0].trace.new_tokens > 20
        cpu, wall = meter.report("during a real tiny-model turn")
        assert cpu < 0.050  # see test_window.py: CPU of the GUI thread, wall generous
        assert wall < 0.5
    finally:
        window.close()
        session.close()
