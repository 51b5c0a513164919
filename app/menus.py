"""The main window's menu bar and shortcuts (Ctrl+K camera, Ctrl+M mute, Esc stop …)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from app.main_window import MainWindow


@dataclass(frozen=True)
class Menus:
    """The actions whose state the window changes later."""

    camera: QAction
    screen: QAction
    mute: QAction


def _action(menu: QMenu, text: str, slot: Callable[[], None], shortcut: str | None = None) -> QAction:
    action = QAction(text, menu)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(window: MainWindow) -> Menus:
    bar = window.menuBar()
    conv = bar.addMenu("&Conversation")
    _action(conv, "&New conversation", window.new_conversation, "Ctrl+N")
    _action(conv, "&Export…", window.export_dialog, "Ctrl+E")
    conv.addSeparator()
    _action(conv, "&Quit", window.close, "Ctrl+Q")
    share = bar.addMenu("&Share")
    camera = _action(share, "Toggle &camera", window.toggle_camera, "Ctrl+K")
    screen = _action(share, "Toggle &screen", window.toggle_screen, "Ctrl+Shift+S")
    share.addSeparator()
    mute = _action(share, "&Mute microphone", window.toggle_mute, "Ctrl+M")
    mute.setCheckable(True)
    stop = QAction("Stop", window)
    stop.setShortcut(QKeySequence(Qt.Key.Key_Escape))
    stop.triggered.connect(window.stop)
    window.addAction(stop)
    model = bar.addMenu("&Model")
    _action(model, "&Set up model…", window.open_setup)
    _action(model, "&Settings…", lambda: window.open_settings(0), "Ctrl+,")
    help_menu = bar.addMenu("&Help")
    _action(help_menu, "&About Ola Assistant", window.open_about)
    return Menus(camera, screen, mute)
