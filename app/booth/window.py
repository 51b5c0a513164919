"""The kiosk window: full screen, no menus or dialogs for visitors, the operator's exit behind a PIN.

The operator holds Ctrl+Alt+Q for 3 s; a PIN pad (big digit buttons, a page of this window, not
a dialog) then asks for ``[booth] pin``. The right PIN ends the app with status 0, which also ends
the watchdog; anything else returns to the visitors' screens. The cursor hides after 3 s without
mouse movement (touch screens need none), and there is no context menu anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QCursor, QKeyEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.booth.screens import AttractScreen, ConversationScreen, GoodbyeScreen, make_timer, px_font
from app.theme import Colors
from ola_core.booth.config import BoothConfig

CHORD_HOLD_S = 3.0
CURSOR_HIDE_MS = 3000
GOODBYE_MS = 3000


class PinPad(QWidget):
    """Digits 0–9, OK and Cancel as big buttons; the entered PIN shows as dots."""

    entered = Signal(str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        title = QLabel("Operator PIN")
        title.setFont(px_font(40, bold=True))
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setReadOnly(True)
        self.field.setFont(px_font(40))
        self.field.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid = QGridLayout()
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "Cancel", "0", "OK"]
        for i, key in enumerate(keys):
            button = QPushButton(key)
            button.setFont(px_font(36, bold=True))
            button.setMinimumSize(160, 110)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, k=key: self.press(k))
            grid.addWidget(button, i // 3, i % 3)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(self.field)
        layout.addLayout(grid)
        layout.addStretch(1)

    def press(self, key: str) -> None:
        if key == "Cancel":
            self.field.clear()
            self.cancelled.emit()
        elif key == "OK":
            pin = self.field.text()
            self.field.clear()
            self.entered.emit(pin)
        elif len(self.field.text()) < 12:
            self.field.setText(self.field.text() + key)


class BoothWindow(QWidget):
    """The stack of screens and the operator's way out; see the module docstring."""

    tapped = Signal()
    start_over = Signal()
    ask = Signal(str)
    exit_requested = Signal()

    def __init__(
        self, config: BoothConfig, colors: Colors, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.config = config
        self._clock = clock
        self.setWindowTitle("Ola booth")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        booth = config.booth
        self.attract = AttractScreen(colors, booth.attract_text, booth.example_questions, booth.rehearsal)
        self.conversation = ConversationScreen(colors, booth.rehearsal)
        self.goodbye = GoodbyeScreen(colors)
        self.pin = PinPad()
        self.stack = QStackedWidget()
        for page in (self.attract, self.conversation, self.goodbye, self.pin):
            self.stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 24, 24, 24)
        layout.addWidget(self.stack)
        self.attract.tapped.connect(self.tapped)
        self.conversation.start_over.connect(self.start_over)
        self.conversation.ask.connect(self.ask)
        self.pin.entered.connect(self._check_pin)
        self.pin.cancelled.connect(self._leave_pin)
        self._before_pin: QWidget = self.attract
        self._chord_since: float | None = None
        self._goodbye_timer = make_timer(self, GOODBYE_MS, self.show_attract, single=True)
        self._cursor_timer = make_timer(self, CURSOR_HIDE_MS, self._hide_cursor, single=True)
        self.setMouseTracking(True)
        from PySide6.QtWidgets import QApplication

        QApplication.instance().installEventFilter(self)  # type: ignore[union-attr]
        self._cursor_timer.start()

    # ------------------------------------------------------------------ screens
    def show_attract(self) -> None:
        self.conversation.clear()
        self.stack.setCurrentWidget(self.attract)

    def show_conversation(self) -> None:
        if self.stack.currentWidget() in (self.attract, self.goodbye):
            self.conversation.clear()
            self.conversation.set_answer(self.config.booth.greeting)
            self.stack.setCurrentWidget(self.conversation)

    def show_goodbye(self) -> None:
        """The reset happened: captions are cleared now, the attract screen follows shortly."""
        self.conversation.clear()
        if self.stack.currentWidget() is not self.pin:
            self.stack.setCurrentWidget(self.goodbye)
            self._goodbye_timer.start()

    @property
    def screen_name(self) -> str:
        names: dict[QWidget, str] = {self.attract: "attract", self.conversation: "conversation"}
        names[self.goodbye] = "goodbye"
        current = self.stack.currentWidget()
        return names.get(current, "pin") if current is not None else "pin"

    # ------------------------------------------------------------------ operator
    def keyPressEvent(self, event: QKeyEvent) -> None:
        modifiers = event.modifiers()
        chord = (
            event.key() == Qt.Key.Key_Q
            and modifiers & Qt.KeyboardModifier.ControlModifier
            and modifiers & Qt.KeyboardModifier.AltModifier
        )
        if not chord:
            super().keyPressEvent(event)
            return
        now = self._clock()
        if self._chord_since is None:
            self._chord_since = now
        elif now - self._chord_since >= CHORD_HOLD_S:  # auto-repeat keeps coming while it is held
            self._chord_since = None
            self.open_pin()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Q and not event.isAutoRepeat():
            self._chord_since = None
        super().keyReleaseEvent(event)

    def open_pin(self) -> None:
        if self.stack.currentWidget() is not self.pin:
            self._before_pin = self.stack.currentWidget() or self.attract
            self.stack.setCurrentWidget(self.pin)

    def _check_pin(self, pin: str) -> None:
        if pin == self.config.booth.pin:
            self.exit_requested.emit()
        else:
            self._leave_pin()

    def _leave_pin(self) -> None:
        self.stack.setCurrentWidget(self._before_pin)

    # ------------------------------------------------------------------ cursor
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.MouseMove, QEvent.Type.MouseButtonPress):
            if self.cursor().shape() == Qt.CursorShape.BlankCursor:
                self.setCursor(QCursor(Qt.CursorShape.ArrowCursor))
            self._cursor_timer.start()
        return False

    def _hide_cursor(self) -> None:
        self.setCursor(QCursor(Qt.CursorShape.BlankCursor))

    @property
    def cursor_hidden(self) -> bool:
        return self.cursor().shape() == Qt.CursorShape.BlankCursor
