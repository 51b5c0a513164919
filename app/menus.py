"""The main window's menu bar and shortcuts (Ctrl+K camera, Ctrl+M mute, Esc stop …)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


class MenuCommands(Protocol):
    """What the menu entries and shortcuts do (the window's methods; a protocol, so that this
    module need not import the window). What a slot returns is ignored."""

    def new_conversation(self) -> None: ...
    def export_dialog(self) -> None: ...
    def close(self) -> bool: ...
    def toggle_camera(self) -> None: ...
    def toggle_screen(self) -> None: ...
    def toggle_mute(self) -> None: ...
    def stop(self) -> None: ...
    def open_setup(self) -> None: ...
    def open_settings(self, tab: int = 0) -> None: ...
    def open_about(self) -> None: ...


@dataclass(frozen=True)
class Menus:
    """The actions whose state the window changes later."""

    camera: QAction
    screen: QAction
    mute: QAction


def _action(menu: QMenu, text: str, slot: Callable[[], object], shortcut: str | None = None) -> QAction:
    action = QAction(text, menu)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(window: QMainWindow, commands: MenuCommands) -> Menus:
    bar = window.menuBar()
    conv = bar.addMenu("&Conversation")
    _action(conv, "&New conversation", commands.new_conversation, "Ctrl+N")
    _action(conv, "&Export…", commands.export_dialog, "Ctrl+E")
    conv.addSeparator()
    _action(conv, "&Quit", commands.close, "Ctrl+Q")
    share = bar.addMenu("&Share")
    camera = _action(share, "Toggle &camera", commands.toggle_camera, "Ctrl+K")
    screen = _action(share, "Toggle &screen", commands.toggle_screen, "Ctrl+Shift+S")
    share.addSeparator()
    mute = _action(share, "&Mute microphone", commands.toggle_mute, "Ctrl+M")
    mute.setCheckable(True)
    stop = QAction("Stop", window)
    stop.setShortcut(QKeySequence(Qt.Key.Key_Escape))
    stop.triggered.connect(commands.stop)
    window.addAction(stop)
    model = bar.addMenu("&Model")
    _action(model, "&Set up model…", commands.open_setup)
    _action(model, "&Settings…", lambda: commands.open_settings(0), "Ctrl+,")
    help_menu = bar.addMenu("&Help")
    _action(help_menu, "&About Ola Assistant", commands.open_about)
    return Menus(camera, screen, mute)
