"""Clearing the transcript again and again (reopening conversations, Ctrl+N, a reset right after a
reopen) never crashes and leaves nothing behind.

The crash had one cause: PySide keeps Python wrappers of the layout items it saw (``addWidget``
registers them) and was not told when Qt deleted them as the rows were taken out one by one;
those stale wrappers were later handed out for new objects at the same addresses (a segfault, or
an event filter called with a ``QWidgetItem``). The tests count the wrappers left behind, watch
what an application-wide event filter is given, and repeat the clears 20 times.
"""

from __future__ import annotations

import gc

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QLabel, QLayoutItem

ROUNDS = 20


class WatchedIsAnObject(QObject):
    """An application-wide event filter (as push-to-talk's) noting a ``watched`` that is no QObject."""

    def __init__(self) -> None:
        super().__init__()
        self.strangers: list[str] = []

    def eventFilter(self, watched: object, event: QEvent) -> bool:
        if not isinstance(watched, QObject):
            self.strangers.append(f"{type(watched).__name__} for event {event.type()}")
        return False


def _item_wrappers() -> int:
    """Python wrappers of plain layout items (those Qt deletes without telling PySide)."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
    return sum(
        isinstance(w, QLayoutItem) and not isinstance(w, QObject) for w in shiboken6.getAllValidWrappers()
    )


def _fill(view, turns: int) -> None:  # type: ignore[no-untyped-def]
    from app.widgets.transcript import AssistantBubble, UserBubble

    image = QImage(32, 24, QImage.Format.Format_RGB32)
    image.fill(0x336699)
    for turn in range(turns):
        view.add(UserBubble(kind="voice", duration_s=1.5, frames=[image], turn_id=turn))
        view.user(turn).set_caption("hello there", "en")
        answer = view.add(AssistantBubble(turn))
        answer.append(f"Answer **{turn}**\n\nwith a second paragraph")
        if turn % 2:
            answer.finish(answer.raw, "completed")  # else still streaming: its render timer pending


@pytest.fixture
def view(qtbot, themed):  # type: ignore[no-untyped-def]
    from app.widgets.transcript import TranscriptView

    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_clear_leaves_no_layout_item_wrapper_behind(view) -> None:  # type: ignore[no-untyped-def]
    empty = _item_wrappers()
    _fill(view, 3)
    QApplication.processEvents()
    assert _item_wrappers() > empty  # PySide did register the rows' items
    view.clear()
    assert _item_wrappers() == empty
    view.clear()
    assert _item_wrappers() == empty


@pytest.mark.parametrize("process_between", [False, True], ids=["back-to-back", "events-between"])
def test_clearing_repeatedly_never_crashes_and_leaves_an_empty_transcript(  # type: ignore[no-untyped-def]
    view, qapp, process_between: bool
) -> None:
    watcher = WatchedIsAnObject()
    qapp.installEventFilter(watcher)
    try:
        for round_ in range(ROUNDS):
            _fill(view, 1 + round_ % 3)
            if round_ % 2:
                QApplication.processEvents()  # laid out and painted before the clear
            view.clear()
            if process_between:
                QApplication.processEvents()
                QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            view.clear()  # twice in a row, as a reopen right after a reset does
            if round_ % 4 == 0:
                gc.collect()  # Python wrappers of the old rows go now, not at some later moment
            assert view.bubbles == []
            assert view.placeholder.isVisible() and not view.jump.isVisible()
            shown = [w for w in view.widget().findChildren(QLabel) if w.isVisible()]
            assert shown == [view.placeholder], [w.text() for w in shown]
            for _ in range(3):  # new top-level widgets: the addresses just freed get reused
                popup = QLabel("tip")
                popup.show()
                popup.close()
                popup.deleteLater()
            QApplication.processEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
        _fill(view, 2)  # still usable after all that
        QApplication.processEvents()
        assert len(view.bubbles) == 4 and not view.placeholder.isVisible()
        assert view.user(1) is view.bubbles[2] and view.user(1).caption == "hello there"
    finally:
        qapp.removeEventFilter(watcher)
    assert watcher.strangers == []
