"""Files the window loads at run time, installed with the package (pyproject's package-data).

The icon's source artwork lives in assets/; ``scripts/render_icons.py`` copies it here, so edit
it there. No Qt import: paths and names only.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# The freedesktop application id: the .desktop file's name without ".desktop" and the AppStream
# component id. Qt must be told it (QGuiApplication.setDesktopFileName) so that Wayland
# compositors match the window to the menu entry and its icon (X11 matches StartupWMClass).
DESKTOP_ID = "io.github.ola_assistant.OlaAssistant"
ICON_NAME = "ola-assistant"  # the icon-theme name the desktop entry uses


def icon_path() -> Path:
    """The application icon (SVG) inside the installed package."""
    return Path(str(resources.files(__name__) / f"{ICON_NAME}.svg"))
