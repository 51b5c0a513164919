"""First-run setup, settings persistence, About, and the crash handler."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import huggingface_hub
import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QSpinBox

from ola_core import model_store
from ola_core.settings import Settings, load_settings, save_settings, settings_path
from tests.test_model_store import FakeHub

NO_GPU = model_store.Hardware(cuda=False)


@pytest.fixture
def hub(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    """The network boundary replaced: the hub's listing and one-file download (see test_model_store)."""
    fake = FakeHub(Path(huggingface_hub.constants.HF_HUB_CACHE))
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", fake.list_repo_tree)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.hf_hub_download)
    return fake


def test_setup_without_model_offers_download_and_test_model(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog

    dialog = SetupDialog(hardware=NO_GPU)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.found is None
    assert dialog.download_button.isVisibleTo(dialog) and dialog.download_button.isEnabled()
    assert dialog.test_button.isVisibleTo(dialog) and dialog.test_button.property("role") == "primary"
    assert not dialog.use_found.isVisibleTo(dialog)
    assert "No CUDA GPU" in dialog.hardware_label.text() and "slow" in dialog.hardware_label.text()
    assert "random weights" in dialog.test_button.accessibleName()


def test_setup_download_shows_progress_and_returns_the_files(qtbot, themed, hub: FakeHub) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog

    dialog = SetupDialog(hardware=model_store.Hardware(True, "RTX 4070", 12.9, 12.0))
    qtbot.addWidget(dialog)
    dialog.show()
    assert "NF4" in dialog.hardware_label.text()
    dialog.with_cosyvoice.setChecked(False)  # the fake hub lists Ola, encoders and Whisper's tokenizer only
    values: list[int] = []
    dialog.progress.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.accepted, timeout=10000):
        dialog.download_button.click()
    assert dialog.files is not None and not dialog.files.is_test_model
    assert (dialog.files.ola_dir / "config.json").is_file()
    assert values and values[-1] == 1000 and values == sorted(values)
    assert len(hub.fetched) == 10
    # Opened again, the dialog now finds the files instead of offering the download.
    again = SetupDialog(hardware=NO_GPU)
    qtbot.addWidget(again)
    assert again.found == dialog.files
    assert again.use_found.isVisibleTo(again) and not again.download_box.isVisibleTo(again)


def test_setup_download_can_be_cancelled_and_says_so(qtbot, themed, hub: FakeHub) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog

    dialog = SetupDialog(hardware=NO_GPU)
    qtbot.addWidget(dialog)
    dialog.show()
    hub.on_chunk = lambda name: dialog._downloader.cancel() if name.endswith(".safetensors") else None
    dialog.with_cosyvoice.setChecked(False)
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.error_label.isVisibleTo(dialog), timeout=10000)
    assert "cancelled" in dialog.error_label.text().lower()
    assert dialog.download_button.isEnabled(), "a cancelled download can be restarted"
    assert dialog.result() != QDialog.DialogCode.Accepted


def test_setup_offline_download_failure_is_a_sentence_not_a_traceback(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog

    dialog = SetupDialog(hardware=NO_GPU)  # no fake hub: HF_HUB_OFFLINE=1 refuses the network
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_download()
    qtbot.waitUntil(lambda: dialog.error_label.isVisibleTo(dialog), timeout=10000)
    assert "Traceback" not in dialog.error_label.text()
    assert dialog.download_button.isEnabled()


@pytest.mark.slow
def test_setup_test_model_is_written_and_labelled_in_the_window(qtbot, themed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.setup import SetupDialog
    from app.main_window import MainWindow

    dialog = SetupDialog(hardware=NO_GPU, test_model_dir=tmp_path / "tiny")
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.accepted, timeout=60000):
        dialog.test_button.click()
    assert dialog.files is not None and dialog.files.is_test_model
    window = MainWindow(model_files=dialog.files)
    qtbot.addWidget(window)
    assert "random weights" in window.model_label.text()
    assert "interface-test model" in window.windowTitle().lower()
    assert window._assistant_name() == "Ola (interface-test model)"


def test_settings_dialog_edits_and_settings_persist_across_restart(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.settings import SettingsDialog
    from app.main import AppController

    mics = [("mic", "Virtual mic"), ("usb", "USB headset")]
    cameras = [(0, "Integrated webcam"), (2, "USB camera")]
    devices = {"microphone": mics, "speaker": [], "camera": cameras, "voice": [("espeak-ng", "espeak-ng")]}
    dialog = SettingsDialog(Settings(), devices=devices)
    qtbot.addWidget(dialog)
    assert dialog.tabs.count() == 5
    hands_free = dialog.editors["audio.hands_free"]
    silence = dialog.editors["audio.end_of_turn_silence_ms"]
    mic = dialog.editors["audio.microphone"]
    quant = dialog.editors["model.quantization"]
    assert isinstance(hands_free, QCheckBox) and isinstance(silence, QSpinBox)
    assert isinstance(mic, QComboBox) and isinstance(quant, QComboBox)
    assert (silence.minimum(), silence.maximum()) == (200, 3000)  # the validation range, shown
    hands_free.setChecked(False)
    silence.setValue(1200)
    mic.setCurrentIndex(mic.findData("usb"))
    quant.setCurrentIndex(quant.findData("int8"))
    camera = dialog.editors["vision.camera"]
    assert isinstance(camera, QComboBox) and camera.itemText(0) == "Integrated webcam"
    camera.setCurrentIndex(camera.findData(2))
    voice = dialog.editors["voice.voice"]
    assert isinstance(voice, QComboBox) and voice.currentData() is None  # automatic by default
    voice.setCurrentIndex(voice.findData("espeak-ng"))
    dialog.editors["generation.system_prompt"].setPlainText("Answer briefly.")
    settings, warnings = dialog.settings()
    assert warnings == []
    assert settings.audio.hands_free is False and settings.audio.end_of_turn_silence_ms == 1200
    assert settings.audio.microphone == "usb" and settings.model.quantization == "int8"
    assert settings.vision.camera == 2 and settings.voice.voice == "espeak-ng"
    save_settings(settings)
    assert settings_path().is_file()

    # "Restart": a new controller reads the file; the window reflects it.
    loaded, warnings = load_settings()
    assert loaded == settings and warnings == []
    controller = AppController(loaded, warnings, run_setup=False)
    qtbot.addWidget(controller.window)
    assert controller.settings.audio.microphone == "usb"
    assert not controller.window.input.mic.isChecked()  # push-to-talk mode shown

    dialog.restore_defaults()
    assert dialog.settings()[0] == dataclasses.replace(Settings())


def test_corrupt_settings_file_gives_defaults_and_a_banner(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from app.main import AppController

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("{ not json")
    settings, warnings = load_settings()
    controller = AppController(settings, warnings, run_setup=False)
    qtbot.addWidget(controller.window)
    controller.window.show()
    banners = controller.window.banners.banners()
    assert settings == Settings() and len(banners) == 1 and "could not be read" in banners[0].label.text()


def test_about_lists_versions_gpu_and_model(qtbot, themed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.dialogs.about import AboutDialog

    files = model_store.ModelFiles(tmp_path / "Ola-7b", tmp_path / "enc", None, "folder")
    dialog = AboutDialog(files, model_store.Hardware(True, "RTX 4090", 25.8, 24.0), "/logs")
    qtbot.addWidget(dialog)
    text = dialog.text.text()
    assert "RTX 4090" in text and "Ola-7b" in text and "fallback voice" in text and "PySide6" in text
    assert "transformers" in text and "/logs" in text


def test_crash_handler_logs_and_keeps_the_app_running(qtbot, themed, isolated_dirs: Path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from app.crash import CrashHandler

    handler = CrashHandler(interactive=False)
    old_hook, old_thread_hook = sys.excepthook, threading.excepthook
    handler.install()
    try:
        with qtbot.waitSignal(handler.crashed, timeout=3000) as blocker:
            try:
                raise RuntimeError("boom in a slot")
            except RuntimeError:
                sys.excepthook(*sys.exc_info())
        log_path, summary = blocker.args
        assert summary == "RuntimeError: boom in a slot"
        assert Path(log_path).parent == isolated_dirs / "logs"
        assert "Traceback" in Path(log_path).read_text() and "boom in a slot" in Path(log_path).read_text()

        with qtbot.waitSignal(handler.crashed, timeout=3000) as blocker:
            worker = threading.Thread(target=lambda: 1 / 0, name="worker")
            worker.start()
            worker.join()
        assert "ZeroDivisionError" in blocker.args[1]
        assert "in thread worker" in Path(blocker.args[0]).read_text()
    finally:
        sys.excepthook, threading.excepthook = old_hook, old_thread_hook


def test_first_start_without_model_opens_setup_then_the_window_still_works(qtbot, themed) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.dialogs.setup import SetupDialog
    from app.main import AppController

    seen: list[SetupDialog] = []

    def answer_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, SetupDialog):
            QTimer.singleShot(50, answer_dialog)
            return
        seen.append(dialog)
        dialog.reject()  # "Later"

    controller = AppController(Settings(), [], run_setup=True)
    qtbot.addWidget(controller.window)
    QTimer.singleShot(50, answer_dialog)
    controller.start()  # the setup dialog is modal: returns when "Later" was chosen
    assert seen and seen[0].download_button.isVisibleTo(seen[0]) and seen[0].test_button.isVisibleTo(seen[0])
    assert controller.assistant is None and controller.window.isVisible()
    assert "No model yet" in controller.window.banners.banners()[0].label.text()
    controller.window.send_text("hello?")  # no crash: a banner offers the setup
    assert controller.window.pill.text() == "No model loaded"


@pytest.mark.slow
def test_app_starts_the_real_assistant_on_the_test_model(qtbot, themed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Start-up as `ola-assistant` does it, on this machine's real (absent) devices."""
    from PySide6.QtCore import QTimer

    from app.main import AppController, settings_for

    files = model_store.write_test_model(tmp_path / "tiny")
    settings = settings_for(Settings(), files, "none")
    settings = dataclasses.replace(
        settings,
        model=dataclasses.replace(settings.model, device="cpu"),
        # Random weights sample gibberish until the token limit; the default 1024 tokens, spoken
        # in real time, can outlast the wait below.
        generation=dataclasses.replace(settings.generation, max_new_tokens=16),
    )
    save_settings(settings)
    controller = AppController(*load_settings(), run_setup=False)
    qtbot.addWidget(controller.window)
    controller.start()
    try:
        assert controller.assistant is not None
        assert "random weights" in controller.window.model_label.text()
        qtbot.waitUntil(lambda: controller.assistant.state in ("idle", "listening", "error"), timeout=60000)
        assert controller.assistant.state != "error"
        qtbot.waitUntil(lambda: controller.window.pill.text() not in ("Loading model…",), timeout=5000)
        controller.window.send_text("Hello")
        qtbot.waitUntil(lambda: controller.window.hud.trace is not None, timeout=60000)
        answer = controller.window.transcript.answer(controller.window.hud.trace.turn_id)
        assert answer is not None and answer.who.text() == "Ola (interface-test model)"

        # Settings → OK: saved, and applied to the running assistant at once.
        def edit_and_accept() -> None:
            from PySide6.QtWidgets import QApplication

            from app.dialogs.settings import SettingsDialog

            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, SettingsDialog):
                QTimer.singleShot(50, edit_and_accept)
                return
            dialog.editors["audio.end_of_turn_silence_ms"].setValue(1500)
            dialog.editors["generation.system_prompt"].setPlainText("Be brief.")
            dialog.accept()

        QTimer.singleShot(50, edit_and_accept)
        controller.open_settings(1)
        saved, _ = load_settings()
        assert saved.audio.end_of_turn_silence_ms == 1500 and saved.generation.system_prompt == "Be brief."
        qtbot.waitUntil(lambda: controller.assistant.settings == saved, timeout=10000)
    finally:
        controller.window.close()
