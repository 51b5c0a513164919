"""Typing, attaching and talking: text box (Enter sends), attach button, the big mic button.

The mic button toggles hands-free listening. Push-to-talk (hold Space) is handled by the main
window, which sees the key wherever the focus is outside the text box; the button only shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.icons import icon
from ola_core.processing.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES


def media_filter() -> str:
    """The file dialog's filter: every suffix of the one media table (``ola_core.processing.media``)."""
    suffixes = [s for table in (IMAGE_SUFFIXES, VIDEO_SUFFIXES, AUDIO_SUFFIXES) for s in sorted(table)]
    return f"Media ({' '.join('*' + suffix for suffix in suffixes)});;All files (*)"


class MessageBox(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line; grows to four lines."""

    submitted = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setPlaceholderText("Ask Ola anything…  (Enter to send, Shift+Enter for a new line)")
        self.setAccessibleName("Message")
        self.setTabChangesFocus(True)
        self.setAcceptDrops(False)  # dropped files go to the window (attach), not into the text
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().contentsChanged.connect(self._fit)
        self._fit()

    def _fit(self) -> None:
        lines = max(1, min(4, int(self.document().size().height())))
        line_h = self.fontMetrics().lineSpacing()
        self.setFixedHeight(lines * line_h + 2 * int(self.document().documentMargin()) + 14)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            text = self.toPlainText().strip()
            if text:
                self.submitted.emit(text)
                self.clear()
            return
        super().keyPressEvent(event)


class InputRow(QWidget):
    send_requested = Signal(str)
    attach_requested = Signal(list)  # list[Path]
    clear_attachments_requested = Signal()
    hands_free_toggled = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 4, 12, 8)
        outer.setSpacing(4)

        self.attachments = QWidget()
        chips = QHBoxLayout(self.attachments)
        chips.setContentsMargins(0, 0, 0, 0)
        self.attachments_label = QLabel()
        self.attachments_label.setProperty("role", "muted")
        chips.addWidget(self.attachments_label, 1)
        self.clear_attachments = QToolButton()
        self.clear_attachments.setText("Remove")
        self.clear_attachments.setProperty("role", "link")
        self.clear_attachments.setAccessibleName("Remove attachments")
        self.clear_attachments.clicked.connect(self.clear_attachments_requested)
        chips.addWidget(self.clear_attachments)
        self.attachments.hide()
        outer.addWidget(self.attachments)

        self.pending = QLabel()
        self.pending.setProperty("role", "muted")
        self.pending.setWordWrap(True)
        self.pending.setAccessibleName("Questions waiting for the model")
        self.pending.hide()
        outer.addWidget(self.pending)

        row = QHBoxLayout()
        row.setSpacing(8)
        self.attach_button = QToolButton()
        self.attach_button.setIcon(icon("attach", theme.current().text))
        self.attach_button.setIconSize(QSize(20, 20))
        self.attach_button.setToolTip("Attach an image, video or audio file (or drop it on the window)")
        self.attach_button.setAccessibleName("Attach a file")
        self.attach_button.clicked.connect(self._pick_files)
        row.addWidget(self.attach_button)

        self.box = MessageBox()
        self.box.submitted.connect(self.send_requested)
        row.addWidget(self.box, 1)

        self.send_button = QPushButton("Send")
        self.send_button.setProperty("role", "primary")
        self.send_button.setAccessibleName("Send message")
        self.send_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves Space to push-to-talk
        self.send_button.clicked.connect(self._send_clicked)
        row.addWidget(self.send_button)

        self.mic = QToolButton()
        self.mic.setProperty("role", "mic")
        self.mic.setIcon(icon("mic", theme.current().text, 28))
        self.mic.setIconSize(QSize(28, 28))
        self.mic.setCheckable(True)
        self.mic.setAccessibleName("Microphone: hands-free listening")
        self.mic.setToolTip("Click: hands-free listening on/off.  Hold Space: push-to-talk.")
        self.mic.toggled.connect(self.hands_free_toggled)
        row.addWidget(self.mic)
        outer.addLayout(row)

    def _send_clicked(self) -> None:
        text = self.box.toPlainText().strip()
        if text:
            self.send_requested.emit(text)
            self.box.clear()

    def _pick_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Attach files", "", media_filter())
        if names:
            self.attach_requested.emit([Path(n) for n in names])

    def show_attachments(self, paths: Sequence[Path]) -> None:
        self.attachments.setVisible(bool(paths))
        self.attachments_label.setText(
            "Attached: " + ", ".join(p.name for p in paths) + "  — sent with your next message"
        )

    def show_pending(self, questions: Sequence[str]) -> None:
        """The typed questions kept until the model has loaded (none: hidden)."""
        self.pending.setVisible(bool(questions))
        quoted = ", ".join(f"“{q if len(q) <= 60 else q[:59] + '…'}”" for q in questions)
        self.pending.setText(f"Waiting for the model to load; then Ola answers {quoted}")

    def show_push_to_talk(self, held: bool) -> None:
        self.mic.setProperty("ptt", "true" if held else "false")
        self.mic.style().unpolish(self.mic)
        self.mic.style().polish(self.mic)

    def set_hands_free(self, on: bool) -> None:
        """Reflect the assistant's mode without re-emitting the toggle."""
        self.mic.blockSignals(True)
        self.mic.setChecked(on)
        self.mic.blockSignals(False)
        self.mic.setAccessibleDescription("on" if on else "off")
