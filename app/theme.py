"""Light and dark themes that follow the system, and the colours the widgets share.

Qt 6 reports the system colour scheme (``QStyleHints.colorScheme``) and signals when it changes;
we pick one of two palettes and one style sheet built from it. Sizes are in points or ``em`` so
the window stays readable at 200 % scaling (Qt scales points with the screen's DPI).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory


@dataclass(frozen=True)
class Colors:
    window: str
    surface: str  # cards, bubbles of the assistant
    surface_alt: str  # user bubbles, input box
    border: str
    text: str
    muted_text: str
    accent: str
    accent_text: str
    highlight: str  # the sentence being spoken
    danger: str
    warning: str
    success: str


LIGHT = Colors(
    window="#f4f5f7",
    surface="#ffffff",
    surface_alt="#e8eefc",
    border="#d5d9e0",
    text="#1d2330",
    muted_text="#5d6675",
    accent="#3b6fe0",
    accent_text="#ffffff",
    highlight="#fff1b8",
    danger="#d23c3c",
    warning="#b7791f",
    success="#2f9e62",
)
DARK = Colors(
    window="#16181d",
    surface="#20232a",
    surface_alt="#26324a",
    border="#363b45",
    text="#e7e9ee",
    muted_text="#9aa3b2",
    accent="#6d98ff",
    accent_text="#0d1117",
    highlight="#5a4a12",
    danger="#ff6b6b",
    warning="#e0a440",
    success="#4cc38a",
)

# State pill colours (background) by the pill's key.
PILL_KEYS = ("loading", "idle", "listening", "hearing", "thinking", "speaking", "muted", "error")


def pill_color(key: str, colors: Colors) -> str:
    return {
        "loading": colors.muted_text,
        "idle": colors.muted_text,
        "listening": colors.success,
        "hearing": colors.accent,
        "thinking": colors.warning,
        "speaking": "#8a5cf6",
        "muted": colors.danger,
        "error": colors.danger,
    }.get(key, colors.muted_text)


def is_dark() -> bool:
    """The system's choice; ``OLA_THEME=dark|light`` overrides it (screenshots, personal taste)."""
    forced = os.environ.get("OLA_THEME", "").lower()
    if forced in ("dark", "light"):
        return forced == "dark"
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def current() -> Colors:
    return DARK if is_dark() else LIGHT


def style_sheet(c: Colors) -> str:
    return f"""
    QMainWindow, QDialog {{ background: {c.window}; color: {c.text}; }}
    QLabel {{ color: {c.text}; }}
    QLabel[role="muted"] {{ color: {c.muted_text}; }}
    QLabel[role="title"] {{ font-weight: 600; }}
    QFrame[role="card"] {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: 10px; }}
    QFrame[role="assistant-bubble"] {{ background: {c.surface}; border: 1px solid {c.border}; border-radius: 12px; }}
    QFrame[role="user-bubble"] {{ background: {c.surface_alt}; border: none; border-radius: 12px; }}
    QFrame[role="banner-error"] {{ background: {c.danger}; border-radius: 8px; }}
    QFrame[role="banner-warning"] {{ background: {c.warning}; border-radius: 8px; }}
    QFrame[role="banner-error"] QLabel, QFrame[role="banner-warning"] QLabel {{ color: white; font-weight: 500; }}
    QFrame[role="banner-error"] QPushButton, QFrame[role="banner-warning"] QPushButton {{
        color: white; background: rgba(255,255,255,0.18); border: 1px solid rgba(255,255,255,0.5);
        border-radius: 6px; padding: 3px 10px; }}
    QTextBrowser {{ background: transparent; border: none; color: {c.text}; }}
    QScrollArea {{ border: none; background: {c.window}; }}
    QScrollArea > QWidget > QWidget {{ background: {c.window}; }}
    QScrollArea[role="strip"], QScrollArea[role="strip"] > QWidget > QWidget {{ background: transparent; }}
    QPlainTextEdit, QLineEdit {{
        background: {c.surface}; color: {c.text}; border: 1px solid {c.border}; border-radius: 8px; padding: 4px 6px; }}
    QPlainTextEdit:focus, QLineEdit:focus {{ border: 1px solid {c.accent}; }}
    QPushButton, QToolButton {{ background: {c.surface}; color: {c.text}; border: 1px solid {c.border};
        border-radius: 8px; padding: 5px 12px; }}
    QPushButton:hover, QToolButton:hover {{ border-color: {c.accent}; }}
    QPushButton:focus, QToolButton:focus {{ border: 2px solid {c.accent}; }}
    QPushButton[role="primary"] {{ background: {c.accent}; color: {c.accent_text}; border: none; font-weight: 600; }}
    QPushButton[role="danger"] {{ color: {c.danger}; border-color: {c.danger}; }}
    QPushButton:disabled, QToolButton:disabled {{ color: {c.muted_text}; border-color: {c.border}; }}
    QPushButton[role="primary"]:disabled {{ background: {c.border}; color: {c.muted_text}; }}
    QToolButton[role="mic"] {{ background: {c.surface}; border: 2px solid {c.border}; border-radius: 28px;
        min-width: 56px; min-height: 56px; max-width: 56px; max-height: 56px; padding: 0; }}
    QToolButton[role="mic"]:checked {{ background: {c.accent}; border-color: {c.accent}; color: {c.accent_text}; }}
    QToolButton[role="mic"][ptt="true"] {{ background: {c.success}; border-color: {c.success}; }}
    QToolButton[role="link"] {{ border: none; background: transparent; color: {c.muted_text}; padding: 2px 4px; }}
    QToolButton[role="link"]:hover {{ color: {c.accent}; }}
    QStatusBar {{ background: {c.surface}; border-top: 1px solid {c.border}; }}
    QProgressBar {{ border: 1px solid {c.border}; border-radius: 6px; background: {c.surface}; text-align: center;
        color: {c.text}; }}
    QProgressBar::chunk {{ background: {c.accent}; border-radius: 5px; }}
    QTabWidget::pane {{ border: 1px solid {c.border}; border-radius: 8px; background: {c.surface}; }}
    QMenuBar {{ background: {c.window}; color: {c.text}; }}
    """


def apply(app: QApplication) -> Colors:
    """Fusion style + our palette and style sheet for the current system scheme."""
    colors = current()
    app.setStyle(QStyleFactory.create("Fusion"))
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(colors.window))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(colors.text))
    palette.setColor(QPalette.ColorRole.Base, QColor(colors.surface))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor(colors.surface_alt))
    palette.setColor(QPalette.ColorRole.Text, QColor(colors.text))
    palette.setColor(QPalette.ColorRole.Button, QColor(colors.surface))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor(colors.text))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(colors.accent))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor(colors.accent_text))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(colors.muted_text))
    palette.setColor(QPalette.ColorRole.Link, QColor(colors.accent))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor(colors.surface))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor(colors.text))
    app.setPalette(palette)
    app.setStyleSheet(style_sheet(colors))
    return colors


def follow_system(app: QApplication) -> None:
    """Re-apply the theme whenever the system switches between light and dark."""
    QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: apply(app))
