"""Attachments are visible: an attached image (dropped on the window) or video shows as
thumbnails in the user's bubble and as the turn's "Frames used", on the real assistant."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ola_core.events import AttachmentsChanged, TurnFinished
from tests.gui import test_with_assistant
from tests.gui.test_with_assistant import _drop, _finished

app_window = test_with_assistant.app_window  # the window on the real assistant, shared


def _ask(window, session, qtbot, text: str) -> TurnFinished:  # type: ignore[no-untyped-def]
    start = session.mark()
    window.send_text(text)
    qtbot.waitUntil(lambda: bool(_finished(session, start)), timeout=60000)
    finished = _finished(session, start)[0]
    assert finished.outcome == "completed"
    return finished


def test_a_dropped_image_shows_in_the_bubble_and_in_frames_used(  # type: ignore[no-untyped-def]
    app_window, qtbot, tmp_path: Path
) -> None:
    from app.widgets.images import qimage_from_rgb

    window, session = app_window
    image = tmp_path / "redball.png"
    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[100:300, 200:400] = (220, 30, 30)
    qimage_from_rgb(rgb).save(str(image))
    start = session.mark()
    _drop(window, image)
    qtbot.waitUntil(
        lambda: any(isinstance(e, AttachmentsChanged) and e.paths for e in session.events[start:]),
        timeout=10000,
    )
    finished = _ask(window, session, qtbot, "What is in the image?")

    user = window.transcript.user(finished.turn_id)
    assert user is not None and len(user.attachment_thumbs) == 1
    pixmap = user.attachment_thumbs[0].pixmap()
    assert not pixmap.isNull() and pixmap.width() > 0
    assert "redball.png" in user.attachment_thumbs[0].accessibleName()
    # Frames used shows the same picture: a 320-wide preview of the 640×480 image, red in the middle.
    strip = window.vision.strip.images
    assert len(strip) == 1 and (strip[0].width(), strip[0].height()) == (320, 240)
    assert strip[0].pixelColor(150, 100).red() > 180 and strip[0].pixelColor(10, 10).red() < 30
    assert window.conversation.messages[-2].attachments == ["redball.png"]


def test_an_attached_video_shows_its_sampled_frames(app_window, qtbot, clip: Path) -> None:  # type: ignore[no-untyped-def]
    window, session = app_window
    start = session.mark()
    session.assistant.attach(clip)
    qtbot.waitUntil(
        lambda: any(isinstance(e, AttachmentsChanged) and e.paths for e in session.events[start:]),
        timeout=10000,
    )
    finished = _ask(window, session, qtbot, "What happens in the video?")

    # The clip has 20 frames, all sampled (fewer than the model's 64): frame k has brightness 10·k.
    strip = window.vision.strip.images
    assert len(strip) == 20
    brightness = [strip[k].pixelColor(8, 8).red() for k in range(20)]
    assert brightness == sorted(brightness) and abs(brightness[-1] - 190) <= 8
    user = window.transcript.user(finished.turn_id)
    assert user is not None and len(user.attachment_thumbs) == user.MAX_ATTACHMENT_THUMBS
    assert "20 frames" in [w.text() for w in user.findChildren(type(user.attachment_thumbs[0]))]
