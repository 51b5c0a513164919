"""The booth's three screens: attract (idle), conversation (captions of both sides), goodbye (reset).

Everything is sized from the window's height so a 1080p screen read from 2 m gets captions of
38–46 px (the issue asks for at least 28 px) and buttons a finger can hit (≥ 96 px high). Nothing
needs hover; every control is a big tap target. Fonts are set in pixels on purpose: a kiosk is
sized for its screen, not for a desktop's DPI setting.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QMouseEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.theme import Colors
from app.widgets.images import qimage_from_rgb

REHEARSAL_LABEL = "REHEARSAL · interface-test model (random weights): answers are meaningless"


def make_timer(parent: QObject, ms: int, slot: Callable[[], None], single: bool = False) -> QTimer:
    timer = QTimer(parent)
    timer.setInterval(ms)
    timer.setSingleShot(single)
    timer.timeout.connect(slot)
    return timer


def px_font(px: int, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(px)
    font.setBold(bold)
    return font


def scaled(height: int, share: float, minimum: int) -> int:
    """A size as a share of the window height, never below ``minimum`` (at 1080p: share·1080)."""
    return max(minimum, round(height * share))


def banner(colors: Colors, text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet(f"background: {colors.warning}; color: white; padding: 8px;")
    label.setFont(px_font(26, bold=True))
    return label


class AttractScreen(QWidget):
    """Big invitation, the live camera with its camera-on light, a loop of example questions."""

    tapped = Signal()

    def __init__(
        self, colors: Colors, texts: tuple[str, ...], examples: tuple[str, ...], rehearsal: bool
    ) -> None:
        super().__init__()
        self._texts, self._examples, self._index = texts or ("Say hello",), examples, 0
        layout = QVBoxLayout(self)
        if rehearsal:
            layout.addWidget(banner(colors, REHEARSAL_LABEL))
        self.title = QLabel(self._texts[0])
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet(f"color: {colors.text};")
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet(
            f"background: {colors.surface}; border-radius: 16px; color: {colors.muted_text};"
        )
        self.camera_light = QLabel("● Camera on")
        self.camera_light.setStyleSheet(f"color: {colors.danger}; font-weight: 700;")
        self.camera_light.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.example = QLabel(f"Try: “{examples[0]}”" if examples else "")
        self.example.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.example.setStyleSheet(f"color: {colors.muted_text};")
        self.hint = QLabel("Speak, or tap anywhere to start")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setStyleSheet(f"color: {colors.muted_text};")
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.preview, 4, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.camera_light)
        layout.addWidget(self.example)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self.set_camera(False)
        self._cycle = make_timer(self, 3500, self._next)
        self._cycle.start()

    def set_camera(self, on: bool) -> None:
        self.camera_light.setText("● Camera on" if on else "Camera off")
        if not on:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("")

    def set_frame(self, rgb: np.ndarray) -> None:
        size = self.preview.size()
        pixmap = QPixmap.fromImage(qimage_from_rgb(rgb))
        self.preview.setPixmap(pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))

    def _next(self) -> None:
        self._index += 1
        self.title.setText(self._texts[self._index % len(self._texts)])
        if self._examples:
            self.example.setText(f"Try: “{self._examples[self._index % len(self._examples)]}”")

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.tapped.emit()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        h = event.size().height()
        self.title.setFont(px_font(scaled(h, 0.11, 48), bold=True))
        self.example.setFont(px_font(scaled(h, 0.04, 28)))
        self.hint.setFont(px_font(scaled(h, 0.03, 24)))
        self.camera_light.setFont(px_font(scaled(h, 0.03, 24), bold=True))
        self.preview.setFixedSize(round(h * 0.42 * 4 / 3), round(h * 0.42))
        super().resizeEvent(event)


class ConversationScreen(QWidget):
    """The visitor's words (once recognised) above the answer as it streams, and "Start over"."""

    start_over = Signal()
    ask = Signal(str)

    def __init__(self, colors: Colors, rehearsal: bool) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        if rehearsal:
            layout.addWidget(banner(colors, REHEARSAL_LABEL))
        self.status = QLabel("")
        self.status.setStyleSheet(f"color: {colors.muted_text};")
        self.visitor = QLabel("")
        self.visitor.setWordWrap(True)
        self.visitor.setStyleSheet(f"color: {colors.muted_text};")
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        self.answer.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.answer.setStyleSheet(f"color: {colors.text};")
        self.typed = QLineEdit()  # rehearsal only: a question without a microphone
        self.typed.setPlaceholderText("Type a question (rehearsal)")
        self.typed.setVisible(rehearsal)
        self.typed.returnPressed.connect(self._send_typed)
        self.start_over_button = QPushButton("Start over  ·  重新开始")
        self.start_over_button.setProperty("role", "primary")
        self.start_over_button.clicked.connect(self.start_over)
        self.start_over_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.status)
        layout.addWidget(self.visitor)
        layout.addWidget(self.answer, 1)
        layout.addWidget(self.typed)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.start_over_button)
        row.addStretch(1)
        layout.addLayout(row)
        self._answer_text = ""

    def set_visitor(self, text: str) -> None:
        self.visitor.setText(f"You: {text}" if text else "")

    def set_answer(self, text: str) -> None:
        self._answer_text = text
        self.answer.setText(text)

    def append_answer(self, text: str) -> None:
        self.set_answer(self._answer_text + text)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def clear(self) -> None:
        self.set_visitor("")
        self.set_answer("")
        self.set_status("")
        self.typed.clear()

    def _send_typed(self) -> None:
        text = self.typed.text().strip()
        self.typed.clear()
        if text:
            self.ask.emit(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        h = event.size().height()
        self.visitor.setFont(px_font(scaled(h, 0.035, 28)))
        self.answer.setFont(px_font(scaled(h, 0.043, 32)))
        self.status.setFont(px_font(scaled(h, 0.026, 24)))
        self.typed.setFont(px_font(scaled(h, 0.03, 24)))
        self.start_over_button.setFont(px_font(scaled(h, 0.035, 28), bold=True))
        self.start_over_button.setMinimumSize(scaled(h, 0.4, 360), scaled(h, 0.09, 96))
        self.typed.setMinimumHeight(scaled(h, 0.06, 64))
        super().resizeEvent(event)


class GoodbyeScreen(QWidget):
    """Shown for a moment after a reset: the visitor sees that their conversation is gone."""

    def __init__(self, colors: Colors) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.label = QLabel(
            "Thanks for visiting!\nYour conversation has been erased.\n谢谢光临！对话已清除。"
        )
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setStyleSheet(f"color: {colors.text};")
        layout.addWidget(self.label)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.label.setFont(px_font(scaled(event.size().height(), 0.06, 36), bold=True))
        super().resizeEvent(event)
