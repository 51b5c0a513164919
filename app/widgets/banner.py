"""Non-blocking error and warning banners with one action ("Choose another microphone" …).

A banner remembers its cause (the device or area it is about) so the window can take it down
when that cause is fixed. Raw exception text ("RuntimeError: …") is not a message for people: a
banner shows the sentence around it and offers the raw text behind a Details button.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

# What a banner offers, by the area of the problem (ola_core.events.ProblemArea).
ACTION_TEXT = {
    "microphone": "Choose another microphone",
    "speaker": "Choose another speaker",
    "camera": "Choose another camera",
    "screen": "Choose another screen",
    "model": "Set up the model",
    "settings": "Open settings",
    "generation": "Open settings",
    "synthesis": "Voice settings",
}

SETTINGS_TAB = {"microphone": 1, "speaker": 1, "synthesis": 2, "camera": 3, "screen": 3, "generation": 4}

# " (SomeError: raw text)" inside a message; the text may hold one more level of parentheses.
_RAW = re.compile(r"\s*\((?:[\w.]*(?:Error|Exception|Warning)\w*): (?:[^()]|\([^()]*\))*\)")


def split_details(message: str) -> tuple[str, str | None]:
    """(the sentence to show, the full text behind "Details" or None when nothing was cut)."""
    headline = _RAW.sub("", message).strip()
    return (message, None) if headline == message or not headline else (headline, message)


class Banner(QFrame):
    def __init__(
        self,
        message: str,
        *,
        level: str = "error",
        action: tuple[str, Callable[[], None]] | None = None,
        timeout_ms: int = 0,
        cause: str | None = None,
    ) -> None:
        super().__init__()
        self.message = message
        self.cause = cause
        headline, details = split_details(message)
        self.setProperty("role", f"banner-{level}")
        self.setAccessibleName(f"{level.capitalize()}: {headline}")
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 6, 6)
        icon = QLabel("⚠")
        row.addWidget(icon)
        column = QVBoxLayout()
        column.setSpacing(2)
        self.label = QLabel(headline)
        self.label.setWordWrap(True)
        column.addWidget(self.label)
        self.details = QLabel(details or "")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAccessibleName("Details")
        self.details.hide()
        column.addWidget(self.details)
        row.addLayout(column, 1)
        self.details_button: QToolButton | None = None
        if details is not None:
            self.details_button = QToolButton()
            self.details_button.setText("Details")
            self.details_button.setCheckable(True)
            self.details_button.setProperty("role", "link")
            self.details_button.setStyleSheet("color: white;")
            self.details_button.setAccessibleName("Show the technical details")
            self.details_button.toggled.connect(self.details.setVisible)
            row.addWidget(self.details_button)
        self.action_button: QPushButton | None = None
        if action is not None:
            text, callback = action
            self.action_button = QPushButton(text)
            self.action_button.clicked.connect(callback)
            self.action_button.clicked.connect(self.close_banner)
            row.addWidget(self.action_button)
        close = QToolButton()
        close.setText("✕")
        close.setProperty("role", "link")
        close.setStyleSheet("color: white;")
        close.setAccessibleName("Dismiss")
        close.clicked.connect(self.close_banner)
        row.addWidget(close)
        if timeout_ms:
            QTimer.singleShot(timeout_ms, self.close_banner)

    def close_banner(self) -> None:
        self.hide()
        self.deleteLater()


class BannerArea(QWidget):
    """A stack of banners at the top of the window; repeats of the same message are merged."""

    MAX = 3

    def __init__(self) -> None:
        super().__init__()
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(12, 8, 12, 0)
        self.column.setSpacing(6)

    def banners(self) -> list[Banner]:
        found = []
        for i in range(self.column.count()):
            item = self.column.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, Banner) and not widget.isHidden():
                found.append(widget)
        return found

    def show_message(
        self,
        message: str,
        *,
        level: str = "error",
        action: tuple[str, Callable[[], None]] | None = None,
        timeout_ms: int = 0,
        cause: str | None = None,
    ) -> Banner:
        """Show ``message`` (``cause``: what fixing takes it down, see :meth:`clear`)."""
        for existing in self.banners():
            if existing.message == message:
                return existing
        current = self.banners()
        if len(current) >= self.MAX:
            current[0].close_banner()
        banner = Banner(message, level=level, action=action, timeout_ms=timeout_ms, cause=cause)
        self.column.addWidget(banner)
        banner.show()  # added after the window was shown: not shown by default
        return banner

    def clear(self, cause: str) -> None:
        """Take down the banners about ``cause`` (its problem is gone)."""
        for banner in self.banners():
            if banner.cause == cause:
                banner.close_banner()
