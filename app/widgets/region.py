"""Pick a region of a screen to share: a dimmed full-screen overlay where the user drags a box.

Sharing only part of the screen keeps the rest private (no anchor app offers it). The result
is in the screen's physical pixels relative to its top-left corner, the form the screen
source takes (``Assistant.set_source("screen", monitor, region)``).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QScreen
from PySide6.QtWidgets import QWidget

MIN_SIDE = 32  # logical pixels; smaller drags are treated as a click and ignored


def _span(a: QPoint, b: QPoint) -> QRect:
    """The rectangle between two drag points (QRect(p, q) would include one extra pixel)."""
    return QRect(min(a.x(), b.x()), min(a.y(), b.y()), abs(b.x() - a.x()), abs(b.y() - a.y()))


class RegionSelector(QWidget):
    selected = Signal(tuple)  # (left, top, width, height) in physical pixels of the screen
    cancelled = Signal()

    def __init__(self, screen: QScreen) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAccessibleName("Drag to choose the part of the screen to share; Esc cancels")
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self._scale = screen.devicePixelRatio()
        self._origin: QPoint | None = None
        self.rect_selected = QRect()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0, 110))
        if not self.rect_selected.isNull():
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
            p.fillRect(self.rect_selected, Qt.GlobalColor.transparent)
            p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
            p.setPen(QPen(QColor("#6d98ff"), 2))
            p.drawRect(self.rect_selected)
        p.setPen(Qt.GlobalColor.white)
        p.drawText(
            self.rect().adjusted(0, 24, 0, 0),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            "Drag to choose what Ola sees · Esc to cancel",
        )
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._origin = event.position().toPoint()
        self.rect_selected = QRect(self._origin, self._origin)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._origin is not None:
            self.rect_selected = _span(self._origin, event.position().toPoint())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._origin is None:
            return
        self.rect_selected = _span(self._origin, event.position().toPoint())
        self._origin = None
        r = self.rect_selected
        if r.width() < MIN_SIDE or r.height() < MIN_SIDE:
            self.rect_selected = QRect()
            self.update()
            return
        s = self._scale
        self.selected.emit((round(r.x() * s), round(r.y() * s), round(r.width() * s), round(r.height() * s)))
        self.close()

    def event(self, event: QEvent) -> bool:
        """Esc belongs to the overlay, not to the main window's Stop shortcut."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            self.close()
        else:
            super().keyPressEvent(event)
