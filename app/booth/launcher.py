"""The Settings entry for booth mode: choose a booth.toml, check it, start the kiosk.

The booth runs as its own process (``ola-assistant booth``, with its watchdog) and this window
closes: the kiosk needs the microphone, camera and model to itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ola_core.booth.config import BoothConfigError, load_booth_config


def booth_command(config: Path | None) -> tuple[str, list[str]]:
    """The program and arguments that start ``ola-assistant booth`` (the frozen app is its own program)."""
    args = [] if getattr(sys, "frozen", False) else ["-m", "app.entry"]
    args.append("booth")
    if config is not None:
        args += ["--config", str(config)]
    return sys.executable, args


class BoothLauncher(QWidget):
    """A booth.toml path, Browse…, and "Start booth mode"; a bad file shows its mistakes here."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("booth.toml (empty: the defaults)")
        self.path.setAccessibleName("Booth configuration file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.start = QPushButton("Start booth mode")
        self.start.clicked.connect(self.launch)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        row.addWidget(self.start)
        self.message = QLabel("Full-screen kiosk for demo stands; this window closes (docs/booth.md).")
        self.message.setWordWrap(True)
        self.message.setProperty("role", "muted")
        layout.addLayout(row)
        layout.addWidget(self.message)

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Booth configuration", "", "TOML files (*.toml)")
        if name:
            self.path.setText(name)

    def launch(self) -> bool:
        """Check the file, start the booth and quit this app; False (mistakes shown) when it is bad."""
        text = self.path.text().strip()
        config = Path(text).expanduser() if text else None
        try:
            load_booth_config(config)
        except BoothConfigError as error:
            self.message.setText(str(error))
            return False
        program, args = booth_command(config.resolve() if config is not None else None)
        if not QProcess.startDetached(program, args)[0]:
            self.message.setText("The booth could not be started.")
            return False
        QApplication.quit()
        return True
