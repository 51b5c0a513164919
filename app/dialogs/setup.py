"""First-run setup: find the model files, or download them, or try the interface-test model.

Everything slow (the GPU check imports torch, the download, writing the test model) runs on a
worker thread and reports back through queued signals; the dialog stays responsive and the
download can be cancelled at any time (finished files are kept and the next run resumes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ola_core import model_store
from ola_core.errors import OlaError
from ola_core.progress import format_progress


class _Relay(QObject):
    """Carries results from worker threads to the dialog (queued: the dialog lives on the GUI thread)."""

    hardware = Signal(object)
    progress = Signal(object)
    finished = Signal(object)  # ModelFiles
    failed = Signal(str)


def _run_in_thread(work: Callable[[], Any], done: SignalInstance, failed: SignalInstance) -> threading.Thread:
    def body() -> None:
        try:
            done.emit(work())
        except OlaError as error:
            failed.emit(str(error))
        except Exception as error:  # never a traceback in a dialog
            failed.emit(f"Unexpected problem: {error}. See the log for details.")

    thread = threading.Thread(target=body, name="setup-worker", daemon=True)
    thread.start()
    return thread


def _card() -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setProperty("role", "card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(14, 12, 14, 12)
    layout.setSpacing(6)
    return frame, layout


class SetupDialog(QDialog):
    """Accepting it leaves the chosen files in :attr:`files` and the advice in :attr:`recommendation`."""

    def __init__(
        self,
        *,
        model_folder: Path | None = None,
        cache_dir: Path | None = None,
        hardware: model_store.Hardware | None = None,
        test_model_dir: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up Ola Assistant")
        self.cache_dir = cache_dir
        self.test_model_dir = test_model_dir
        self.files: model_store.ModelFiles | None = None
        self.recommendation: model_store.Recommendation | None = None
        self._downloader: model_store.Downloader | None = None
        self._relay = _Relay(self)
        self._relay.hardware.connect(self._show_hardware)
        self._relay.progress.connect(self._show_progress)
        self._relay.finished.connect(self._done)
        self._relay.failed.connect(self._failed)

        outer = QVBoxLayout(self)
        self.scroll_area = QScrollArea()  # only scrolls on a screen too small for the contents
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget()
        layout = QVBoxLayout(self.body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.scroll_area.setWidget(self.body)
        outer.addWidget(self.scroll_area, 1)
        title = QLabel("Welcome to Ola Assistant")
        title.setProperty("role", "title")
        layout.addWidget(title)
        intro = QLabel(
            "Ola runs entirely on this computer. It needs the Ola-7B model files (about 21 GB) once."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        card, box = _card()
        self.hardware_label = QLabel("Checking the GPU…")
        self.hardware_label.setWordWrap(True)
        self.hardware_label.setAccessibleName("GPU check")
        box.addWidget(self.hardware_label)
        layout.addWidget(card)

        card, box = _card()
        self.found_label = QLabel()
        self.found_label.setWordWrap(True)
        box.addWidget(self.found_label)
        self.use_found = QPushButton("Use these files")
        self.use_found.setProperty("role", "primary")
        self.use_found.clicked.connect(self._use_found)
        box.addWidget(self.use_found, 0, Qt.AlignmentFlag.AlignLeft)

        self.download_box = QWidget()
        dl = QVBoxLayout(self.download_box)
        dl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.download_button = QPushButton("Download Ola-7B")
        self.download_button.setProperty("role", "primary")
        self.download_button.setAccessibleName("Download the Ola-7B model files")
        self.download_button.clicked.connect(self.start_download)
        row.addWidget(self.download_button)
        self.with_cosyvoice = QCheckBox("Include the CosyVoice2 voice (+1 GB, natural speech)")
        self.with_cosyvoice.setChecked(True)
        row.addWidget(self.with_cosyvoice)
        row.addStretch(1)
        dl.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setAccessibleName("Download progress")
        self.progress.hide()
        dl.addWidget(self.progress)
        row = QHBoxLayout()
        self.progress_label = QLabel()
        self.progress_label.setProperty("role", "muted")
        self.progress_label.setWordWrap(True)
        row.addWidget(self.progress_label, 1)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel_download)
        self.cancel_button.hide()
        row.addWidget(self.cancel_button)
        dl.addLayout(row)
        box.addWidget(self.download_box)

        row = QHBoxLayout()
        self.folder_button = QPushButton("I have the files: choose folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        row.addWidget(self.folder_button)
        row.addStretch(1)
        box.addLayout(row)
        layout.addWidget(card)

        card, box = _card()
        test_title = QLabel("No suitable GPU? Try the app first")
        test_title.setStyleSheet("font-weight: 600;")
        box.addWidget(test_title)
        test_text = QLabel(
            "The interface-test model is a tiny network with random weights: every part of the app "
            "works (voice, camera, screen, speech), but its answers are gibberish. It is labelled as "
            "such wherever it appears."
        )
        test_text.setWordWrap(True)
        test_text.setProperty("role", "muted")
        box.addWidget(test_text)
        self.test_button = QPushButton("Use the interface-test model")
        self.test_button.setAccessibleName("Use the interface-test model (random weights)")
        self.test_button.clicked.connect(self.use_test_model)
        box.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(card)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #d23c3c;")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.later_button = QPushButton("Later")
        self.later_button.setToolTip("Close; the window opens without a model (Setup is in the Model menu)")
        self.later_button.clicked.connect(self.reject)
        row.addWidget(self.later_button)
        outer.addLayout(row)

        self.found = model_store.find_model_files(model_folder, cache_dir)
        self._show_found()
        if hardware is not None:
            self._show_hardware(hardware)
        else:
            _run_in_thread(model_store.detect_hardware, self._relay.hardware, self._relay.failed)
        self.fit_to_contents()

    def fit_to_contents(self) -> None:
        """Open (or grow) to show everything unscrolled, wrapped text at a comfortable width.

        Sizes come from the font (so 200 % scaling and large fonts grow the dialog); only a
        screen smaller than the contents caps it, and then the contents scroll.
        """
        body = self.body.layout()
        assert body is not None
        width = max(body.minimumSize().width(), self.fontMetrics().averageCharWidth() * 80)
        height = body.heightForWidth(width) if body.hasHeightForWidth() else body.sizeHint().height()
        outer = self.layout()
        assert outer is not None
        margins = self.contentsMargins() + outer.contentsMargins()
        chrome_h = margins.top() + margins.bottom() + self.later_button.sizeHint().height() + 12
        want = QSize(width + margins.left() + margins.right(), height + chrome_h)
        screen = self.screen().availableGeometry().size() if self.screen() is not None else want
        target = want.boundedTo(screen * 0.95).expandedTo(self.size() if self.isVisible() else QSize())
        self.resize(target)

    # --- state ---------------------------------------------------------------------------------
    def _show_found(self) -> None:
        if self.found is not None:
            self.found_label.setText(f"Found: {self.found.label}")
            self.use_found.show()
            self.download_box.hide()
        else:
            self.found_label.setText(
                "No Ola model files were found in the Hugging Face cache. Download them "
                "(resumable; you can cancel and continue later), or point to a folder."
            )
            self.use_found.hide()
            self.download_box.show()

    def _show_hardware(self, hardware: model_store.Hardware) -> None:
        self.recommendation = model_store.recommend(hardware, self.with_cosyvoice.isChecked())
        self.hardware_label.setText(self.recommendation.message)
        if self.recommendation.offer_test_model and self.found is None:
            self.test_button.setProperty("role", "primary")
            self.test_button.style().unpolish(self.test_button)
            self.test_button.style().polish(self.test_button)

    def _busy(self, busy: bool) -> None:
        for button in (self.download_button, self.test_button, self.folder_button, self.use_found):
            button.setEnabled(not busy)
        self.with_cosyvoice.setEnabled(not busy)

    # --- actions -------------------------------------------------------------------------------
    def _use_found(self) -> None:
        self.files = self.found
        self.accept()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the Ola-7B files")
        if not folder:
            return
        found = model_store.find_in_folder(Path(folder))
        if found is None:
            problems = model_store.ola_dir_problems(Path(folder))
            self._failed(
                f"{folder} is not a complete Ola-7B folder (missing: {', '.join(problems) or 'speech encoders'})."
            )
            return
        self.found = found
        self._show_found()

    def start_download(self) -> None:
        self.error_label.hide()
        self._busy(True)
        self.progress.show()
        self.progress.setValue(0)
        self.cancel_button.show()
        self.progress_label.setText("Asking huggingface.co for the file list…")
        self.fit_to_contents()
        self._downloader = model_store.Downloader(
            with_cosyvoice=self.with_cosyvoice.isChecked(),
            cache_dir=self.cache_dir,
            progress=self._relay.progress.emit,
        )
        _run_in_thread(self._downloader.run, self._relay.finished, self._relay.failed)

    def cancel_download(self) -> None:
        if self._downloader is not None:
            self._downloader.cancel()
            self.progress_label.setText("Cancelling…")

    def use_test_model(self) -> None:
        self.error_label.hide()
        self._busy(True)
        self.progress_label.setText("Writing the interface-test model…")
        folder = self.test_model_dir
        _run_in_thread(lambda: model_store.write_test_model(folder), self._relay.finished, self._relay.failed)

    def _show_progress(self, p: model_store.DownloadProgress) -> None:
        self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(f"{p.fraction:.0%}")
        self.progress_label.setText(format_progress(p).strip())

    def _done(self, files: model_store.ModelFiles) -> None:
        self._downloader = None
        self.files = files
        self.accept()

    def _failed(self, message: str) -> None:
        self._downloader = None
        self._busy(False)
        self.cancel_button.hide()
        self.progress_label.setText("")
        self.error_label.setText(message)
        self.error_label.show()
        self.fit_to_contents()

    def reject(self) -> None:
        self.cancel_download()
        super().reject()
