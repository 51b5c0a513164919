"""Attached files are checked off the assistant's loop: a slow decode never stalls it, a question
sent meanwhile waits for its attachments, and clearing makes a running check stale."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ola_core.assistant import attachments
from ola_core.assistant.headless import HeadlessSession
from ola_core.events import AttachmentsChanged, StateChanged, UserTurnCaptured

SLOW_CHECK_S = 1.5


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "desk.png"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(path)
    return path


@pytest.fixture
def slow_checks(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Every check takes SLOW_CHECK_S (a big video); the event is set when one has started."""
    started = threading.Event()
    check = attachments.check_attachment

    def slow(path: Path) -> object:
        started.set()
        time.sleep(SLOW_CHECK_S)
        return check(path)

    monkeypatch.setattr(attachments, "check_attachment", slow)
    return started


def test_the_loop_answers_commands_while_a_file_is_checked(
    session: HeadlessSession, photo: Path, slow_checks: threading.Event
) -> None:
    start = session.mark()
    session.assistant.attach(photo)
    assert slow_checks.wait(5)
    t0 = time.monotonic()
    session.assistant.set_hands_free(False)  # handled by the loop at once, not after the check
    changed = session.wait_for(lambda e: isinstance(e, StateChanged) and not e.hands_free, 5, after=start)
    assert changed is not None and time.monotonic() - t0 < SLOW_CHECK_S / 2
    attached = session.wait_for(lambda e: isinstance(e, AttachmentsChanged) and e.paths, 10, after=start)
    assert isinstance(attached, AttachmentsChanged) and attached.paths == (photo,)


def test_a_question_sent_during_the_check_goes_with_its_attachment(
    session: HeadlessSession, photo: Path, slow_checks: threading.Event
) -> None:
    start = session.mark()
    session.assistant.attach(photo)
    session.assistant.send_text("what is on my desk?")  # before the check has finished
    captured = session.wait_for(lambda e: isinstance(e, UserTurnCaptured), 30, after=start)
    assert isinstance(captured, UserTurnCaptured)
    assert captured.text == "what is on my desk?" and captured.attachments == (photo,)


def test_clearing_makes_a_running_check_stale(
    session: HeadlessSession, photo: Path, slow_checks: threading.Event
) -> None:
    start = session.mark()
    session.assistant.attach(photo)
    assert slow_checks.wait(5)
    session.assistant.clear_attachments()
    assert session.assistant.wait_idle(10)
    time.sleep(SLOW_CHECK_S)  # the stale check has reported by now
    assert session.assistant.wait_idle(10)
    changes = [e.paths for e in session.events[start:] if isinstance(e, AttachmentsChanged)]
    assert changes and all(not attached for attached in changes)  # the photo never came back
