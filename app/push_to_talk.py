"""Hold Space to talk: one held key is one utterance, whatever the key auto-repeat does.

With auto-repeat on (the X11 default) a held key sends release/press pairs about 25 times a
second. Qt marks them ``isAutoRepeat()`` only when the pair's press is already queued when the
release is read; often it is not, and the pair arrives as an ordinary release followed by an
ordinary press (measured under Xvfb: 3–10 such pairs per 1.5 s hold), which would end the turn
and start a new one. So a release is only believed after :data:`RELEASE_GRACE_MS` without a new
press: a press within that time (the pair's press carries the release's own timestamp) continues
the same utterance.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent

# Long enough for the press of an auto-repeat pair to follow its release (same X event batch,
# normally under 5 ms), short enough to add no noticeable delay to the end of a turn.
RELEASE_GRACE_MS = 60


class SpaceToTalk(QObject):
    """An application event filter: Space down/up → :attr:`held` (True once, False once).

    ``active()`` says whether Space is push-to-talk right now (the window is active and the
    focused control does not use Space itself); key events it takes are consumed.
    """

    held = Signal(bool)

    def __init__(self, active: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._active = active
        self.is_down = False
        self._release_timer = QTimer(self)
        self._release_timer.setSingleShot(True)
        self._release_timer.setInterval(RELEASE_GRACE_MS)
        self._release_timer.timeout.connect(self._released)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) or not isinstance(event, QKeyEvent):
            return super().eventFilter(watched, event)
        if event.key() != Qt.Key.Key_Space or event.modifiers():
            return super().eventFilter(watched, event)
        if not self.is_down and not self._active():
            return super().eventFilter(watched, event)
        if event.isAutoRepeat():
            return True  # Qt recognised the pair: nothing changes
        if kind == QEvent.Type.KeyPress:
            if self._release_timer.isActive():
                self._release_timer.stop()  # the press of an auto-repeat pair: still held
            elif not self.is_down:
                self.is_down = True
                self.held.emit(True)
        elif self.is_down:
            self._release_timer.start()
        return True

    def _released(self) -> None:
        if self.is_down:
            self.is_down = False
            self.held.emit(False)

    def install(self) -> None:
        """Watch the key events of the whole application: Space talks whichever widget has focus."""
        _application().installEventFilter(self)

    def remove(self) -> None:
        """Stop watching (the window closes), forgetting a held key."""
        _application().removeEventFilter(self)
        self.cancel()

    def cancel(self) -> None:
        """Forget a held key (the window closes or loses the assistant) without emitting."""
        self._release_timer.stop()
        self.is_down = False


def _application() -> QCoreApplication:
    """The running application; the window (and so this filter) exists only inside one."""
    app = QCoreApplication.instance()
    assert app is not None, "create the QApplication before the window"
    return app
