"""Crash handling: nothing shows a traceback; every unexpected error is logged and the user may restart.

``sys.excepthook`` (GUI thread and slots), ``threading.excepthook`` (worker threads) and Qt's
message handler all end here. The full traceback goes to a file in platformdirs' user log
folder; the user sees one sentence, where the log is, and a Restart button.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType

import platformdirs
from PySide6.QtCore import QObject, QProcess, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

log = logging.getLogger(__name__)


def log_dir() -> Path:
    """``OLA_LOG_DIR`` or platformdirs' user log folder for the app."""
    folder = os.environ.get("OLA_LOG_DIR")
    return Path(folder) if folder else platformdirs.user_log_path("ola-assistant", "Ola")


def write_crash_log(kind: str, text: str) -> Path:
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {kind}\n{text}\n")
    return path


class CrashHandler(QObject):
    """Install once; ``crashed`` fires on the GUI thread with the log path and a one-line summary."""

    crashed = Signal(str, str)
    _from_thread = Signal(str, str)

    def __init__(self, *, interactive: bool = True) -> None:
        super().__init__()
        self.interactive = interactive
        self.last_log: Path | None = None
        self._asking = False
        self._from_thread.connect(self._report)

    def install(self) -> None:
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook
        qInstallMessageHandler(self._qt_message)

    def _excepthook(self, kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        text = "".join(traceback.format_exception(kind, value, tb))
        self.last_log = write_crash_log("uncaught exception", text)
        log.error("uncaught exception, log in %s", self.last_log)
        self._from_thread.emit(str(self.last_log), f"{kind.__name__}: {value}")

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        name = args.thread.name if args.thread is not None else "?"
        self.last_log = write_crash_log(f"uncaught exception in thread {name}", text)
        self._from_thread.emit(str(self.last_log), f"{args.exc_type.__name__}: {args.exc_value}")

    def _qt_message(self, mode: QtMsgType, _context: object, message: str) -> None:
        if mode == QtMsgType.QtFatalMsg:
            write_crash_log("Qt fatal", message)
        elif mode in (QtMsgType.QtCriticalMsg, QtMsgType.QtWarningMsg):
            if "propagateSizeHints" not in message:  # harmless offscreen-platform chatter
                log.warning("Qt: %s", message)
        else:
            log.debug("Qt: %s", message)

    def _report(self, path: str, summary: str) -> None:
        self.crashed.emit(path, summary)
        if not self.interactive or self._asking:
            return
        self._asking = True
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Ola Assistant", "Ola Assistant hit an unexpected problem."
        )
        box.setInformativeText(
            f"{summary}\n\nThe details were saved to:\n{path}\n\nYou can keep going or restart the app."
        )
        restart = box.addButton("Restart", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep going", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        self._asking = False
        if box.clickedButton() is restart:
            restart_app()


def restart_app() -> None:
    """Start a fresh copy of the app, then quit this one."""
    QProcess.startDetached(sys.executable, sys.argv)
    QApplication.quit()
