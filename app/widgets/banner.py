"""Non-blocking error and warning banners with one action ("Choose another microphone" …)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget


class Banner(QFrame):
    def __init__(
        self,
        message: str,
        *,
        level: str = "error",
        action: tuple[str, Callable[[], None]] | None = None,
        timeout_ms: int = 0,
    ) -> None:
        super().__init__()
        self.setProperty("role", f"banner-{level}")
        self.setAccessibleName(f"{level.capitalize()}: {message}")
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 6, 6)
        icon = QLabel("⚠")
        row.addWidget(icon)
        self.label = QLabel(message)
        self.label.setWordWrap(True)
        row.addWidget(self.label, 1)
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
    ) -> Banner:
        for existing in self.banners():
            if existing.label.text() == message:
                return existing
        current = self.banners()
        if len(current) >= self.MAX:
            current[0].close_banner()
        banner = Banner(message, level=level, action=action, timeout_ms=timeout_ms)
        self.column.addWidget(banner)
        banner.show()  # added after the window was shown: not shown by default
        return banner
