"""Qt application start-up."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow


def run_app(argv: Sequence[str]) -> int:
    app = QApplication.instance() or QApplication(list(argv))
    app.setApplicationName("Ola Assistant")
    app.setOrganizationName("Ola")
    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_app(sys.argv))
