"""The history sidebar: conversations survive a restart, reopen with their turns and frames, continue
with the model given their text, and can be searched, renamed and deleted; Keep history off writes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from ola_core import events as ev
from ola_core.settings import Settings
from tests.gui.helpers import frames, trace


class FakeAssistant:
    """Stands in for the Assistant: answers each question (reversed) from a worker thread."""

    made: ClassVar[list[FakeAssistant]] = []

    def __init__(self, *_: object, **__: object) -> None:
        FakeAssistant.made.append(self)
        self.subscribers: list[ev.Subscriber] = []
        self.turns = 0
        self.resets: list[tuple[tuple[str, str], ...]] = []

    state = "idle"

    def subscribe(self, callback: ev.Subscriber) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def _emit_all(self, events: list[ev.AssistantEvent]) -> None:
        def run() -> None:
            for event in events:
                for callback in list(self.subscribers):
                    callback(event)

        threading.Thread(target=run, daemon=True).start()

    def send_text(self, text: str) -> None:
        self.turns += 1
        n = self.turns
        self._emit_all(
            [
                ev.UserTurnCaptured(n, "text", text, 0.0, frames(2), "camera"),
                ev.AssistantTextDelta(n, text[::-1], time.monotonic()),
                ev.TurnFinished(n, text[::-1], "completed", trace(n, "text")),
            ]
        )

    def reset(self, past: tuple[tuple[str, str], ...] = ()) -> None:
        self.resets.append(past)
        self._emit_all([ev.AttachmentsChanged((), time.monotonic()), ev.ConversationReset(time.monotonic())])

    def start(self) -> None: ...
    def attach(self, path: object) -> None: ...
    def clear_attachments(self) -> None: ...
    def push_to_talk(self, down: bool) -> None: ...
    def set_hands_free(self, on: bool) -> None: ...
    def stop(self) -> None: ...
    def set_muted(self, muted: bool) -> None: ...
    def set_source(self, *args: object) -> None: ...
    def apply_settings(self, settings: Settings) -> None: ...
    def preview_frame(self) -> None: ...
    def shutdown(self, timeout: float = 10.0) -> None: ...


@pytest.fixture
def controller_factory(qtbot, themed, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import app.main

    monkeypatch.setattr(app.main, "Assistant", FakeAssistant)
    made = []

    def make(settings: Settings | None = None):  # type: ignore[no-untyped-def]
        controller = app.main.AppController(settings or Settings(), [], run_setup=False)
        qtbot.addWidget(controller.window)
        controller.window.show()
        controller.start_assistant()
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.window.close()


def _ask(qtbot, controller, text: str) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(controller.window.bridge.turn_finished, timeout=5000):
        controller.window.send_text(text)


def _titles(controller) -> list[str]:  # type: ignore[no-untyped-def]
    panel = controller.history.panel
    return [panel.list.item(i).text().split("\n")[0] for i in range(panel.list.count())]


def test_history_reopens_after_a_restart_and_continues(qtbot, controller_factory, isolated_dirs: Path):  # type: ignore[no-untyped-def]
    first = controller_factory()
    _ask(qtbot, first, "What is red?")
    _ask(qtbot, first, "And blue?")
    qtbot.waitUntil(lambda: _titles(first) == ["What is red?"], timeout=5000)
    first.window.close()
    assert (isolated_dirs / "data" / "history.sqlite3").is_file()

    again = controller_factory()  # a new window and controller over the same data folder
    assert _titles(again) == ["What is red?"]
    panel = again.history.panel
    panel.list.setCurrentRow(0)
    with qtbot.waitSignal(again.window.bridge.conversation_reset, timeout=5000):
        panel.buttons["Open"].click()
    # waitSignal's own slot runs last: the window cleared itself and the history showed it again.
    bubbles = again.window.transcript.bubbles
    assert [b.plain_text() for b in bubbles] == ["What is red?", "?der si tahW", "And blue?", "?eulb dnA"]
    assert bubbles[0].frame_count == 2  # the saved thumbnails of the frames used
    assistant = FakeAssistant.made[-1]
    assert assistant.resets == [(("What is red?", "?der si tahW"), ("And blue?", "?eulb dnA"))]

    _ask(qtbot, again, "Green?")  # continues the same saved conversation
    qtbot.waitUntil(lambda: panel.list.count() == 1 and "3 turns" in panel.list.item(0).text(), timeout=5000)

    with qtbot.waitSignal(again.window.bridge.conversation_reset, timeout=5000):
        again.window.new_conversation()  # Ctrl+N: a new conversation, the old one stays
    assert again.window.transcript.bubbles == []
    _ask(qtbot, again, "Yellow?")
    qtbot.waitUntil(lambda: _titles(again) == ["Yellow?", "What is red?"], timeout=5000)


def test_search_rename_and_delete(qtbot, controller_factory, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    controller = controller_factory()
    _ask(qtbot, controller, "Tell me about cats")
    with qtbot.waitSignal(controller.window.bridge.conversation_reset, timeout=5000):
        controller.window.new_conversation()
    _ask(qtbot, controller, "Tell me about dogs")
    qtbot.waitUntil(lambda: len(_titles(controller)) == 2, timeout=5000)
    panel = controller.history.panel

    panel.search.setText("CATS")
    assert _titles(controller) == ["Tell me about cats"]
    panel.list.setCurrentRow(0)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Feline facts", True))
    panel.buttons["Rename"].click()
    panel.search.setText("feline")
    assert _titles(controller) == ["Feline facts"]

    panel.search.clear()
    panel.list.setCurrentRow(_titles(controller).index("Feline facts"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    panel.buttons["Delete"].click()
    assert _titles(controller) == ["Tell me about dogs"]


def test_export_from_history(qtbot, controller_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    controller = controller_factory()
    _ask(qtbot, controller, "Export me")
    qtbot.waitUntil(lambda: controller.history.panel.list.count() == 1, timeout=5000)
    conversation = controller.history.panel.list.item(0).data(Qt.ItemDataRole.UserRole)
    written = controller.history.export_to(conversation, tmp_path / "out.md")
    assert written is not None
    text = written.read_text(encoding="utf-8")
    assert "Export me" in text and "em tropxE" in text and "out_files/" in text


def test_keep_history_off_writes_nothing(qtbot, controller_factory, isolated_dirs: Path) -> None:  # type: ignore[no-untyped-def]
    controller = controller_factory(Settings(keep_history=False))
    _ask(qtbot, controller, "Forget me")
    assert not (isolated_dirs / "data").exists()
    panel = controller.history.panel
    assert panel.list.count() == 0 and not panel.off_note.isHidden()

    controller._save(controller.settings.replace(keep_history=True))  # switched on in the settings
    _ask(qtbot, controller, "Remember me")
    qtbot.waitUntil(lambda: _titles(controller) == ["Remember me"], timeout=5000)
    controller._save(controller.settings.replace(keep_history=False))  # and off again: a clean stop
    _ask(qtbot, controller, "Not this")
    from ola_core.history.store import HistoryStore

    assert [c.title for c in HistoryStore(isolated_dirs / "data" / "history.sqlite3").list()] == [
        "Remember me"
    ]


def test_a_reopened_voice_turn_shows_its_caption(qtbot, controller_factory) -> None:  # type: ignore[no-untyped-def]
    controller = controller_factory()
    assistant = FakeAssistant.made[-1]
    with qtbot.waitSignal(controller.window.bridge.user_caption, timeout=5000):
        assistant._emit_all(
            [
                ev.UserTurnCaptured(7, "voice", "", 2.2, frames(1), "camera"),
                ev.TurnFinished(7, "Yes.", "completed", trace(7)),
                ev.UserCaption(7, "Is it raining?", "en", time.monotonic()),
            ]
        )
    qtbot.waitUntil(lambda: _titles(controller) == ["Is it raining?"], timeout=5000)
    controller.history.panel.list.setCurrentRow(0)
    with qtbot.waitSignal(controller.window.bridge.conversation_reset, timeout=5000):
        controller.history.panel.buttons["Open"].click()
    user = controller.window.transcript.bubbles[0]
    assert user.caption == "Is it raining?" and user.kind == "voice"
    assert assistant.resets[-1] == (("Is it raining?", "Yes."),)
