"""Qt application start-up: crash handler, theme, settings, model setup, the Assistant, the window.

:class:`AppController` owns the long-lived objects and the dialogs; the window only shows
things and forwards commands. The window opens at once: the Assistant loads the model in the
background (the state pill shows the progress), and without model files the first-run setup
dialog opens on top of a window that is already usable.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QComboBox, QDialog, QWidget

from app import crash, resources, theme
from app.devices import DeviceLists, collect
from app.dialogs.about import AboutDialog
from app.dialogs.clone_voice import VoicePicker
from app.dialogs.settings import SettingsDialog
from app.dialogs.setup import SetupDialog
from app.main_window import MainWindow
from app.widgets.history_panel import History
from ola_core import model_store
from ola_core.assistant import Assistant
from ola_core.errors import OlaError
from ola_core.settings import Quantization, Settings, load_settings, save_settings

log = logging.getLogger(__name__)


def model_files_for(settings: Settings) -> model_store.ModelFiles | None:
    """The complete model the settings point at (or the HF cache holds), if any."""
    folder = settings.model.model_dir
    return model_store.find_model_files(Path(folder) if folder else None)


def settings_for(
    settings: Settings, files: model_store.ModelFiles, quantization: Quantization | None
) -> Settings:
    model = replace(
        settings.model,
        model_dir=str(files.ola_dir),
        speech_encoders_dir=str(files.speech_encoders_dir),
        quantization=quantization or settings.model.quantization,
    )
    return replace(settings, model=model)


class AppController(QObject):
    devices_found = Signal(object)

    def __init__(self, settings: Settings, warnings: Sequence[str] = (), *, run_setup: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self.files = model_files_for(settings)
        if self.files is not None and settings.model.model_dir != str(self.files.ola_dir):
            self.settings = settings_for(settings, self.files, None)  # found in the HF cache
        self.assistant: Assistant | None = None
        self.devices = DeviceLists()
        self.window = MainWindow(
            settings=self.settings,
            model_files=self.files,
            open_settings=self.open_settings,
            open_setup=self.open_setup,
            open_about=self.open_about,
            remember_hands_free=self.remember_hands_free,
        )
        self.history = History(self.window, self.settings.keep_history)
        for warning in warnings:
            self.window.show_problem("settings", warning, level="warning")
        # Connected to the window itself: if it is gone when the (slow) probe ends, Qt drops the call.
        self.devices_found.connect(self.window.set_devices)
        threading.Thread(target=self._collect_devices, name="devices", daemon=True).start()
        self._run_setup = run_setup
        self._studio: Any = None  # ola_core.speech.cosyvoice.studio.VoiceStudio, made when first needed

    def start(self) -> None:
        self.window.show()
        if self.files is not None:
            self.start_assistant()
        elif self._run_setup:
            self.open_setup()

    def start_assistant(self) -> None:
        if self.assistant is not None:
            self.assistant.apply_settings(self.settings)  # a new model folder reloads the model
            return
        self.assistant = Assistant(self.settings)
        self.history.attach(self.assistant)  # before the window: a turn is saved before the list refreshes
        self.window.set_assistant(self.assistant)
        self.assistant.start()

    def _collect_devices(self) -> None:
        self.devices = collect()
        self.devices_found.emit(self.devices)

    def _save(self, settings: Settings) -> None:
        self.settings = settings
        self.window.settings = settings
        self.history.set_keep(settings.keep_history)
        try:
            save_settings(settings)
        except OlaError as error:
            self.window.show_problem("settings", str(error))

    def remember_hands_free(self, on: bool) -> None:
        """Save the hands-free choice made in the window, as the settings dialog would."""
        self._save(replace(self.settings, audio=replace(self.settings.audio, hands_free=on)))

    # --- dialogs -------------------------------------------------------------------------------
    def open_setup(self) -> None:
        folder = self.settings.model.model_dir
        dialog = SetupDialog(model_folder=Path(folder) if folder else None, parent=self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.files is None:
            if self.files is None:
                self.window.show_problem(
                    "model", "No model yet: the window works, but Ola cannot answer until a model is set up."
                )
            return
        quantization = dialog.recommendation.quantization if dialog.recommendation else None
        if dialog.files.is_test_model:
            quantization = "none"  # tiny random weights: nothing worth quantizing
        self.files = dialog.files
        self._save(settings_for(self.settings, dialog.files, quantization))
        self.window.show_model(self.files)
        self.start_assistant()

    def open_settings(self, tab: int = 0) -> None:
        d = self.devices
        devices = {"microphone": d.microphone, "speaker": d.speaker, "camera": d.camera, "monitor": d.monitor}
        devices["voice"] = d.voice
        devices["cosyvoice_voice"], voice_row = self._voice_picker()
        dialog = SettingsDialog(self.settings, devices=devices, voice_row=voice_row, parent=self.window)
        dialog.tabs.setCurrentIndex(tab)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        settings, warnings = dialog.settings()
        for warning in warnings:
            self.window.show_problem("settings", warning, level="warning")
        self._save(settings)
        if self.assistant is not None:
            self.assistant.apply_settings(settings)
        new_files = model_files_for(settings)
        if new_files != self.files:
            self.files = new_files
            self.window.show_model(new_files)
            if new_files is not None:
                self.start_assistant()

    def _voice_picker(self) -> tuple[list[tuple[Any, str]], Callable[[QComboBox], QWidget]]:
        """The CosyVoice voices for the settings and the row that previews and clones them."""
        from ola_core.speech.cosyvoice.studio import VoiceStudio

        if self._studio is None:
            self._studio = VoiceStudio()
        try:
            names = self._studio.names()
        except OlaError as error:
            self.window.show_problem("synthesis", str(error), level="warning")
            names = []
        studio, audio = self._studio, self.settings.audio
        language = self.settings.language

        def row(combo: QComboBox) -> QWidget:
            return VoicePicker(
                combo, studio, microphone=audio.microphone, language=language, transcribe=self.transcribe
            )

        return [(name, name) for name in names], row

    def transcribe(self, samples: np.ndarray, rate: int) -> str:
        """The Clone dialog's transcript, by the running assistant's captions decoder (worker thread)."""
        if self.assistant is None:
            raise OlaError("No model is loaded to read the clip: type what it says.")
        return self.assistant.transcribe(samples, rate)

    def open_about(self) -> None:
        AboutDialog(
            self.files, model_store.detect_hardware(), str(crash.log_dir()), parent=self.window
        ).exec()


def freeze_long_lived_objects() -> None:
    """Take everything alive now (Qt, torch, the loaded model …) out of the garbage collector's scans.

    With torch and transformers imported, one full collection walks ~200 000 objects and takes
    0.1–0.25 s; Python triggers it on the thread that happens to allocate, often the GUI thread
    while an answer streams, which shows as a visible stall. Frozen objects are never scanned.
    Called after start-up and again when a model has loaded.
    """
    gc.collect()
    gc.freeze()


def _log_to_file() -> None:
    folder = crash.log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(folder / "ola-assistant.log", encoding="utf-8")
    except OSError:
        return
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s")
    )
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)


def run_app(argv: Sequence[str]) -> int:
    app = QApplication.instance() or QApplication(list(argv))
    assert isinstance(app, QApplication)
    app.setApplicationName("ola-assistant")
    app.setApplicationDisplayName("Ola Assistant")
    app.setOrganizationName("Ola")
    app.setDesktopFileName(resources.DESKTOP_ID)  # Wayland matches the window to the menu entry
    app.setWindowIcon(QIcon(str(resources.icon_path())))
    _log_to_file()
    handler = crash.CrashHandler()
    handler.install()
    theme.apply(app)
    theme.follow_system(app)
    settings, warnings = load_settings()
    controller = AppController(settings, warnings)
    controller.window.bridge.model_loaded.connect(lambda _event: freeze_long_lived_objects())
    controller.start()
    freeze_long_lived_objects()
    code = app.exec()
    if controller.assistant is not None:
        controller.assistant.shutdown(timeout=5.0)
    return code


if __name__ == "__main__":
    sys.exit(run_app(sys.argv))
