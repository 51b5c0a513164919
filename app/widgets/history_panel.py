"""The history sidebar: saved conversations to reopen, rename, delete, search and export.

:class:`HistoryPanel` is the widget (a search field, the list, four buttons); :class:`History`
joins it to the window, the saved conversations (``ola_core.history``) and the assistant. The
recording itself happens in ``ola_core`` (:class:`~ola_core.history.recorder.HistoryRecorder`,
subscribed to the assistant before the window), so the terminal ``chat`` keeps the same history.

Reopening shows the saved turns in the transcript; with an assistant, it also starts a new model
conversation seeded with the saved turns' text (frames and sound are not kept), and the recorder
continues the saved conversation. With "Keep history" off nothing is opened or written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.conversation import TranscriptEntry, TranscriptRecord
from app.widgets.transcript import AssistantBubble, TranscriptView, UserBubble
from ola_core import events as ev
from ola_core.errors import OlaError
from ola_core.history.export import export
from ola_core.history.recorder import HistoryRecorder
from ola_core.history.store import ConversationRecord, HistoryStore

if TYPE_CHECKING:
    from app.main_window import MainWindow

log = logging.getLogger(__name__)


class Reopenable(Protocol):
    """The part of the assistant the history uses."""

    def subscribe(self, callback: ev.Subscriber) -> Callable[[], None]: ...
    def reset(self, past: tuple[tuple[str, str], ...] = ()) -> None: ...


class WindowLike(Protocol):
    """The parts of the main window a reopened conversation is shown in."""

    transcript: TranscriptView
    conversation: TranscriptRecord

    def show_problem(self, area: str, message: str, level: str = "error") -> None: ...


class HistoryPanel(QWidget):
    """Search field, saved conversations (newest first) and their actions."""

    open_requested = Signal(int)
    rename_requested = Signal(int)
    delete_requested = Signal(int)
    export_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Conversation history")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations")
        self.search.setAccessibleName("Search conversations")
        self.search.setClearButtonEnabled(True)
        layout.addWidget(self.search)
        self.list = QListWidget()
        self.list.setAccessibleName("Saved conversations")
        self.list.itemActivated.connect(
            lambda item: self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole))
        )
        self.list.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.list, 1)
        self.off_note = QLabel("Keep history is off: conversations are not saved (Settings → Generation).")
        self.off_note.setWordWrap(True)
        self.off_note.setProperty("role", "muted")
        self.off_note.hide()
        layout.addWidget(self.off_note)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for name, signal in (
            ("Open", self.open_requested),
            ("Rename", self.rename_requested),
            ("Delete", self.delete_requested),
            ("Export", self.export_requested),
        ):
            button = QPushButton(name)
            button.clicked.connect(lambda _=False, s=signal: self._emit_selected(s))
            row.addWidget(button)
            self.buttons[name] = button
        layout.addLayout(row)
        self._update_buttons()

    def selected(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def _emit_selected(self, signal: SignalInstance) -> None:
        chosen = self.selected()
        if chosen is not None:
            signal.emit(chosen)

    def _update_buttons(self) -> None:
        for button in self.buttons.values():
            button.setEnabled(self.selected() is not None)

    def show_list(self, store: HistoryStore | None, current: int | None) -> None:
        """List the conversations matching the search; ``store`` None: history is off."""
        self.list.clear()
        self.off_note.setVisible(store is None)
        self.list.setEnabled(store is not None)
        self.search.setEnabled(store is not None)
        if store is None:
            self._update_buttons()
            return
        try:
            conversations = store.list(self.search.text())
        except OlaError as error:
            log.warning("%s", error)
            conversations = []
        for info in conversations:
            item = QListWidgetItem(f"{info.title}\n{info.turns} turns")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(info.title)
            self.list.addItem(item)
            if info.id == current:
                self.list.setCurrentItem(item)
        self._update_buttons()


def show_record(window: WindowLike, record: ConversationRecord) -> None:
    """Replace the transcript (and the window's export record) with a saved conversation."""
    window.transcript.clear()
    window.conversation.clear()
    for i, turn in enumerate(record.turns):
        images = [QImage.fromData(jpeg) for jpeg in turn.thumbnails]
        attachments = list(turn.attachments)
        user = UserBubble(
            kind=turn.kind,
            text=turn.user_text,
            duration_s=turn.duration_s,
            frames=images,
            attachments=attachments,
        )
        if turn.caption:
            user.set_caption(turn.caption, turn.language)
        window.transcript.add(user)
        window.conversation.add(
            TranscriptEntry(
                "user",
                None,
                turn.user_text,
                "voice" if turn.kind == "voice" else "text",
                turn.duration_s,
                images,
                turn.frames_kind,
                attachments,
                wall_time=turn.created,
                caption=turn.caption,
            )
        )
        bubble = AssistantBubble(-1 - i, "Ola")  # negative ids: never a live turn's
        bubble.finish(turn.answer, turn.outcome or "completed")
        window.transcript.add(bubble)
        window.conversation.add(
            TranscriptEntry(
                "assistant",
                None,
                turn.answer,
                interrupted=turn.outcome in ("barge_in", "stopped"),
                trace=turn.trace,
                wall_time=turn.created,
            )
        )


class History(QObject):
    """The sidebar of one window, the history file and the recorder on the assistant."""

    def __init__(self, window: MainWindow, keep: bool) -> None:
        super().__init__(window)
        self.window = window
        self.panel = HistoryPanel()
        self.dock = QDockWidget("History", window)
        self.dock.setObjectName("history")
        self.dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        toggle = self.dock.toggleViewAction()
        toggle.setText("Show &history")
        toggle.setShortcut("Ctrl+H")
        for action in window.menuBar().actions():
            menu = action.menu()
            if isinstance(menu, QMenu) and action.text() == "&Conversation":
                menu.addAction(toggle)
        self.store: HistoryStore | None = None
        self.recorder: HistoryRecorder | None = None
        self._assistant: Reopenable | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._reopened: ConversationRecord | None = None  # shown again after its reset clears the window
        self.panel.open_requested.connect(self.reopen)
        self.panel.rename_requested.connect(self.rename)
        self.panel.delete_requested.connect(self.delete)
        self.panel.export_requested.connect(self.export_dialog)
        self.panel.search.textChanged.connect(lambda _text: self.refresh())
        # Connected after the window's own slots: the window clears itself first.
        window.bridge.conversation_reset.connect(self._on_reset)
        window.bridge.turn_finished.connect(lambda _event: self.refresh())
        window.bridge.user_caption.connect(lambda _event: self.refresh())  # may name the conversation
        self.set_keep(keep)

    def _problem(self, message: str) -> None:
        show = getattr(self.window, "show_problem", None)
        if show is not None:
            show("settings", message)

    def set_keep(self, keep: bool) -> None:
        """Turn recording on (opens the history file) or off (closes it; nothing more is written)."""
        if keep and self.store is None:
            try:
                self.store = HistoryStore()
            except OlaError as error:
                self._problem(str(error))
                self.store = None
            else:
                self.recorder = HistoryRecorder(self.store)
        elif not keep and self.store is not None:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None
            self.store.close()
            self.store = self.recorder = None
        if self._assistant is not None:
            self.attach(self._assistant)
        self.refresh()

    def attach(self, assistant: Reopenable | None) -> None:
        """Record this assistant's conversation (subscribe before the window, so a turn is saved
        before the window's list refreshes on it)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._assistant = assistant
        if assistant is not None and self.recorder is not None:
            self._unsubscribe = assistant.subscribe(self.recorder)

    def refresh(self) -> None:
        self.panel.show_list(self.store, None if self.recorder is None else self.recorder.conversation_id)

    def _record(self, conversation_id: int) -> ConversationRecord | None:
        if self.store is None:
            return None
        try:
            return self.store.get(conversation_id)
        except OlaError as error:
            self._problem(str(error))
            return None

    def reopen(self, conversation_id: int) -> None:
        """Show a saved conversation; the next turn continues it (the model gets its text turns)."""
        record = self._record(conversation_id)
        if record is None or self.recorder is None:
            return
        self.recorder.resume(conversation_id)
        if self._assistant is None:
            show_record(self.window, record)
        else:  # shown once its reset has cleared the window (clearing the transcript twice is wasted work)
            self._reopened = record
            self._assistant.reset(record.text_turns())
        self.refresh()

    def _on_reset(self, _event: object) -> None:
        if self._reopened is not None:
            show_record(self.window, self._reopened)
            self._reopened = None
        self.refresh()

    def rename(self, conversation_id: int) -> None:
        record = self._record(conversation_id)
        if record is None or self.store is None:
            return
        title, ok = QInputDialog.getText(self.window, "Rename conversation", "Name:", text=record.info.title)
        if ok and title.strip():
            self.store.rename(conversation_id, title)
            self.refresh()

    def delete(self, conversation_id: int) -> None:
        record = self._record(conversation_id)
        if record is None or self.store is None:
            return
        answer = QMessageBox.question(
            self.window,
            "Delete conversation",
            f"Delete “{record.info.title}” from the history? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.store.delete(conversation_id)
            if self.recorder is not None and self.recorder.conversation_id == conversation_id:
                self.recorder.new_conversation()
            self.refresh()

    def export_dialog(self, conversation_id: int) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self.window,
            "Export conversation",
            "conversation.md",
            "Markdown with frames (*.md);;JSON (*.json)",
        )
        if path:
            if not Path(path).suffix:
                path += ".json" if "JSON" in chosen else ".md"
            self.export_to(conversation_id, Path(path))

    def export_to(self, conversation_id: int, path: Path) -> Path | None:
        record = self._record(conversation_id)
        if record is None:
            return None
        try:
            return export(record, path)
        except OSError as error:
            self._problem(f"Could not write {path}: {error.strerror or error}.")
            return None
