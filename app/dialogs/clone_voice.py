"""Choosing and making CosyVoice voices: the picker row of the settings and the Clone dialog.

The Clone dialog records 5–10 s from the microphone while the user reads a sentence shown on
screen (or takes an audio file), lets the transcript be edited (the sentence, replaced by what
the captions decoder reads in the clip when a transcriber is given) and saves the voice in the
user's data folder. Slow work — reading the clip, loading CosyVoice, cloning, synthesising a
preview — runs on a worker thread; its result comes back to the GUI thread through a queued signal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ola_core.capture.mic import MicStream
from ola_core.capture.pcm import SAMPLE_RATE
from ola_core.errors import OlaError

MIN_SECONDS, MAX_SECONDS = 5.0, 10.0
Transcriber = Callable[[np.ndarray, int], str]  # (samples, rate) -> what they say


class _Worker(QObject):
    """Runs one job at a time off the GUI thread; ``done`` carries (job name, result or OlaError)."""

    done = Signal(str, object)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.busy = False

    def run(self, name: str, job: Callable[[], Any]) -> None:
        self.busy = True

        def work() -> None:
            try:
                result: Any = job()
            except OlaError as error:
                result = error
            self.done.emit(name, result)

        threading.Thread(target=work, name=f"voice-{name}", daemon=True).start()


class CloneVoiceDialog(QDialog):
    """Record or pick a clip, check its transcript, name it: a new CosyVoice voice."""

    def __init__(
        self,
        studio: Any,  # ola_core.speech.cosyvoice.studio.VoiceStudio (imported lazily: it loads torch)
        *,
        microphone: str | None = None,
        language: str = "en",
        transcribe: Transcriber | None = None,
        parent: QWidget | None = None,
    ) -> None:
        from ola_core.speech.cosyvoice.voices import READ_ALOUD

        super().__init__(parent)
        self.setWindowTitle("Clone a voice")
        self.studio = studio
        self.microphone = microphone
        self.transcribe = transcribe
        self.sentence = READ_ALOUD["zh" if language == "zh" else "en"]
        self.samples: np.ndarray | None = None
        self.sample_rate = SAMPLE_RATE
        self.voice_name: str | None = None  # set once a voice was saved
        self._prefill = ""  # the transcript shown while the decoder reads the clip
        self._blocks: list[np.ndarray] = []
        self._mic: MicStream | None = None
        self._started = 0.0
        self.worker = _Worker(self)
        self.worker.done.connect(self._job_done)

        layout = QVBoxLayout(self)
        intro = QLabel(
            f"Press Record and read this aloud ({MIN_SECONDS:.0f}–{MAX_SECONDS:.0f} s), or choose a file:"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.sentence_label = QLabel(self.sentence)
        self.sentence_label.setWordWrap(True)
        self.sentence_label.setProperty("role", "card")
        self.sentence_label.setAccessibleName("Sentence to read")
        layout.addWidget(self.sentence_label)
        row = QHBoxLayout()
        self.record_button = QPushButton("Record")
        self.record_button.clicked.connect(self.toggle_recording)
        self.file_button = QPushButton("Choose a file…")
        self.file_button.clicked.connect(self.choose_file)
        row.addWidget(self.record_button)
        row.addWidget(self.file_button)
        row.addStretch(1)
        layout.addLayout(row)
        form = QFormLayout()
        self.transcript = QPlainTextEdit()
        self.transcript.setFixedHeight(70)
        self.transcript.setAccessibleName("What the clip says")
        self.transcript.setPlaceholderText("Exactly what the clip says")
        form.addRow("Transcript", self.transcript)
        self.name = QLineEdit()
        self.name.setAccessibleName("Name of the new voice")
        self.name.setPlaceholderText("e.g. My voice")
        form.addRow("Voice name", self.name)
        layout.addLayout(form)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setProperty("role", "muted")
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.clone_button = buttons.addButton("Clone", QDialogButtonBox.ButtonRole.ActionRole)
        self.preview_button = buttons.addButton("Preview", QDialogButtonBox.ButtonRole.ActionRole)
        self.clone_button.clicked.connect(self.clone)
        self.preview_button.clicked.connect(self.preview)
        self.preview_button.setEnabled(False)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._tick)
        self._update()

    # --- the clip ------------------------------------------------------------------------------
    def recorded_seconds(self) -> float:
        return sum(len(b) for b in self._blocks) / SAMPLE_RATE

    def toggle_recording(self) -> None:
        if self._mic is None:
            self._blocks = []
            mic = MicStream(self.microphone, on_block=lambda pcm, _t: self._blocks.append(pcm.copy()))
            try:
                mic.start()
            except OlaError as error:
                self.status.setText(str(error))
                return
            self._mic, self._started = mic, time.monotonic()
            self.record_button.setText("Stop")
            self._timer.start()
        else:
            self.stop_recording()

    def _tick(self) -> None:
        seconds = self.recorded_seconds()
        self.status.setText(
            f"Recording… {seconds:.1f} s (stop after {MIN_SECONDS:.0f} s, at most {MAX_SECONDS:.0f} s)"
        )
        if seconds >= MAX_SECONDS:
            self.stop_recording()

    def stop_recording(self) -> None:
        if self._mic is None:
            return
        self._timer.stop()
        self._mic.stop()
        self._mic = None
        self.record_button.setText("Record again")
        pcm = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.int16)
        self._set_clip(pcm.astype(np.float32) / 32768.0, SAMPLE_RATE, self.sentence)
        seconds = len(pcm) / SAMPLE_RATE
        if seconds < MIN_SECONDS:
            self.status.setText(
                f"Only {seconds:.1f} s recorded: read the whole sentence ({MIN_SECONDS:.0f} s or more)."
            )

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Voice sample", "", "Audio (*.wav *.flac *.mp3 *.ogg *.m4a)"
        )
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        from ola_core.processing.audio import load_audio

        try:
            samples = load_audio(path)  # 16 kHz mono float
        except OlaError as error:
            self.status.setText(str(error))
            return
        self._set_clip(samples, 16_000, "")

    def _set_clip(self, samples: np.ndarray, rate: int, sentence: str) -> None:
        """Keep the clip; its transcript is ``sentence`` until the captions decoder has read it."""
        self.samples, self.sample_rate = samples, rate
        self.transcript.setPlainText(sentence)
        self.status.setText(
            f"Clip of {len(samples) / rate:.1f} s. Check the transcript, name the voice, then Clone."
        )
        if self.transcribe is not None and len(samples) and not self.worker.busy:
            transcribe = self.transcribe
            self._prefill = sentence
            self.status.setText(f"Clip of {len(samples) / rate:.1f} s. Reading what it says…")
            self.worker.run("transcribe", lambda: transcribe(samples, rate))
        self._update()

    def _transcribed(self, result: object) -> None:
        """The decoder's words replace the prefill, unless the user has already edited it."""
        seconds = len(self.samples) / self.sample_rate if self.samples is not None else 0.0
        if isinstance(result, OlaError):
            self.status.setText(f"No transcript ({result}); type what the clip says.")
            return
        if result and self.transcript.toPlainText() == self._prefill:
            self.transcript.setPlainText(str(result))
        self.status.setText(f"Clip of {seconds:.1f} s. Check the transcript, name the voice, then Clone.")

    # --- cloning and preview -------------------------------------------------------------------
    def clone(self) -> None:
        if self.samples is None or self.worker.busy:
            return
        name, text = self.name.text().strip(), self.transcript.toPlainText().strip()
        samples, rate = self.samples, self.sample_rate
        self.status.setText("Cloning… (the first time, CosyVoice loads: this can take a minute)")

        def make() -> str:
            self.studio.clone(name, samples, rate, text)
            return name

        self.worker.run("clone", make)
        self._update()

    def preview(self) -> None:
        if self.voice_name is None or self.worker.busy:
            return
        from ola_core.speech.cosyvoice.studio import play

        name = self.voice_name
        self.status.setText(f"Speaking as {name}…")

        def speak() -> int:
            samples, rate = self.studio.preview(name)
            play(samples, rate)
            return len(samples)

        self.worker.run("preview", speak)
        self._update()

    def _job_done(self, job: str, result: object) -> None:
        self.worker.busy = False
        if job == "transcribe":
            self._transcribed(result)
        elif isinstance(result, OlaError):
            self.status.setText(str(result))
        elif job == "clone":
            self.voice_name = str(result)
            self.status.setText(
                f"Saved the voice “{self.voice_name}”. Preview it, or choose it in the settings."
            )
        else:
            self.status.setText(f"That was {self.voice_name}.")
        self._update()

    def _update(self) -> None:
        idle = not self.worker.busy
        self.clone_button.setEnabled(idle and self.samples is not None and self._mic is None)
        self.preview_button.setEnabled(idle and self.voice_name is not None)
        self.record_button.setEnabled(idle)
        self.file_button.setEnabled(idle and self._mic is None)

    def done(self, result: int) -> None:
        self.stop_recording()
        super().done(result)


class VoicePicker(QWidget):
    """The settings' CosyVoice voice list with Preview and Clone… beside it."""

    def __init__(
        self,
        combo: QComboBox,
        studio: Any,
        *,
        microphone: str | None = None,
        language: str = "en",
        transcribe: Transcriber | None = None,
    ) -> None:
        super().__init__()
        self.combo, self.studio = combo, studio
        self.microphone, self.language, self.transcribe = microphone, language, transcribe
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(combo, 1)
        self.preview_button = QPushButton("Preview")
        self.preview_button.setAccessibleName("Preview the CosyVoice voice")
        self.clone_button = QPushButton("Clone…")
        self.clone_button.setAccessibleName("Clone a new CosyVoice voice")
        row.addWidget(self.preview_button)
        row.addWidget(self.clone_button)
        self.worker = _Worker(self)
        self.worker.done.connect(self._previewed)
        self.preview_button.clicked.connect(self.preview)
        self.clone_button.clicked.connect(self.open_clone_dialog)

    def preview(self) -> None:
        if self.worker.busy:
            return
        from ola_core.speech.cosyvoice.studio import play

        name = self.combo.currentData()
        self.preview_button.setEnabled(False)

        def speak() -> None:
            samples, rate = self.studio.preview(name)
            play(samples, rate)

        self.worker.run("preview", speak)

    def _previewed(self, _job: str, result: object) -> None:
        self.worker.busy = False
        self.preview_button.setEnabled(True)
        self.preview_button.setToolTip(str(result) if isinstance(result, OlaError) else "")

    def open_clone_dialog(self) -> None:
        dialog = CloneVoiceDialog(
            self.studio,
            microphone=self.microphone,
            language=self.language,
            transcribe=self.transcribe,
            parent=self,
        )
        dialog.exec()
        if dialog.voice_name is not None:
            if self.combo.findData(dialog.voice_name) < 0:
                self.combo.addItem(dialog.voice_name, dialog.voice_name)
            self.combo.setCurrentIndex(self.combo.findData(dialog.voice_name))
