"""Settings: one tab per section of :class:`ola_core.settings.Settings`, built from its fields.

The form is generated from the dataclasses (type hints and the ``range`` metadata), so a field
the assistant engineer adds shows up here without GUI changes and the limits shown are the ones
validation uses. Device fields get a list of the devices found; ``None`` means "system default".
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.booth.launcher import BoothLauncher
from ola_core.settings import Settings

SECTIONS = (
    ("model", "Model"),
    ("audio", "Audio"),
    ("voice", "Voice"),
    ("vision", "Vision"),
    ("generation", "Generation"),
)
LABELS = {
    "model_dir": "Model folder",
    "speech_encoders_dir": "Speech encoders folder",
    "profile": "Memory profile",
    "quantization": "Quantization",
    "device": "Compute device",
    "microphone": "Microphone",
    "speaker": "Speaker",
    "hands_free": "Hands-free listening (off: push-to-talk)",
    "vad_sensitivity": "Voice detection strictness (0–3)",
    "end_of_turn_silence_ms": "End-of-turn silence (ms)",
    "adaptive_endpointing": "Adapt the end-of-turn wait to how I stop speaking",
    "speculation_ms": "Start answering after a pause of (ms, 0 = off)",
    "echo_mode": "I use",
    "barge_in": "Let me interrupt by speaking",
    "barge_in_ms": "Speech needed to interrupt (ms)",
    "speak_answers": "Speak the answers",
    "voice": "Voice",
    "speaking_rate": "Speaking rate",
    "source": "Source at start",
    "camera": "Camera number",
    "monitor": "Monitor number",
    "frames_per_turn": "Frames per turn",
    "max_side": "Frame resolution (longest side, px)",
    "attach_view_to_typed": "Send the current view with typed questions",
    "max_new_tokens": "Longest answer (tokens)",
    "temperature": "Temperature (0 = deterministic)",
    "top_p": "Top-p",
    "repetition_penalty": "Repetition penalty",
    "system_prompt": "System prompt",
    "language": "Language",
    "trace_file": "Write latency traces to (JSON lines)",
    "keep_history": "Keep history (save every conversation on this computer)",
    "cosyvoice_voice": "CosyVoice voice",
}
CHOICE_TEXT = {"auto": "automatic", "8gb": "8 GB card",
               "12gb": "12 GB card", "24gb": "24 GB or more (bf16, the official dtype)",
               "custom": "custom (only the quantization below)",
               "nf4": "4-bit NF4 (recommended)", "int8": "8-bit (slow)", "none": "none — bf16 (full precision, 24 GB cards)",
               "speakers": "speakers (echo cancellation)", "headphones": "headphones"}  # fmt: skip
DEFAULT_TEXT = "(system default)"
NONE_TEXT = {
    "voice": "(automatic: the best one available)",
    "cosyvoice_voice": "(by language: the English or Chinese default voice)",
}


def _literal_choices(hint: Any) -> tuple[tuple[Any, ...], bool]:
    """The Literal values of ``hint`` and whether None is allowed too."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    optional = type(None) in args
    for arm in args:
        if typing.get_origin(arm) is Literal:
            return typing.get_args(arm), optional
    return (), optional


class SettingsDialog(QDialog):
    """Edit a copy of the settings; :meth:`settings` builds the validated result."""

    def __init__(
        self,
        settings: Settings,
        *,
        devices: Mapping[str, Sequence[tuple[Any, str]]] | None = None,
        voice_row: Callable[[QComboBox], QWidget] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        self._original = settings
        self._devices = dict(devices or {})
        self.editors: dict[str, QWidget] = {}  # "audio.microphone" -> editor
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        current = settings.to_dict()  # read by field name, as values() writes
        section_types = typing.get_type_hints(Settings)
        for section, title in SECTIONS:
            page = QWidget()
            form = QFormLayout(page)
            hints = typing.get_type_hints(section_types[section])
            for f in dataclasses.fields(section_types[section]):
                editor = self._editor(
                    f"{section}.{f.name}", hints[f.name], f.metadata, current[section][f.name]
                )
                if f.name == "cosyvoice_voice" and voice_row is not None and isinstance(editor, QComboBox):
                    editor = voice_row(editor)  # the list with Preview and Clone… beside it
                form.addRow(LABELS.get(f.name, f.name.replace("_", " ").capitalize()), editor)
            if section == "generation":
                for name in ("language", "trace_file", "keep_history"):
                    form.addRow(LABELS[name], self._editor(name, section_types[name], {}, current[name]))
                form.addRow("Demo booth", BoothLauncher())
            self.tabs.addTab(page, title)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        layout.addWidget(buttons)

    def _editor(self, key: str, hint: Any, metadata: Mapping[str, Any], value: Any) -> QWidget:
        name = key.rsplit(".", 1)[-1]
        bounds = metadata.get("range")
        choices, optional = _literal_choices(hint)
        editor: QWidget
        if name in self._devices:  # devices and voices found on this machine
            editor = QComboBox()
            if hint is not int:  # str | None fields: None = the system default / automatic choice
                editor.addItem(NONE_TEXT.get(name, DEFAULT_TEXT), None)
            for device, description in self._devices[name]:
                editor.addItem(description, device)
            if value is not None and editor.findData(value) < 0:
                editor.addItem(f"{value} (not connected)", value)
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif hint is bool:
            editor = QCheckBox()
            editor.setChecked(bool(value))
        elif hint is int:
            editor = QSpinBox()
            lo, hi = bounds or (0, 1_000_000)
            editor.setRange(int(lo), int(hi))
            editor.setValue(int(value))
        elif hint is float:
            editor = QDoubleSpinBox()
            lo, hi = bounds or (0.0, 100.0)
            editor.setRange(float(lo), float(hi))
            editor.setSingleStep(0.05)
            editor.setDecimals(2)
            editor.setValue(float(value))
        elif choices:
            editor = QComboBox()
            for choice in choices:
                editor.addItem(CHOICE_TEXT.get(choice, str(choice)), choice)
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif name == "system_prompt":
            editor = QPlainTextEdit(value or "")
            editor.setPlaceholderText("Empty: the model's own system prompt")
            editor.setFixedHeight(90)
        else:
            editor = QLineEdit("" if value is None else str(value))
            if optional:
                editor.setPlaceholderText("(not set)")
        editor.setAccessibleName(LABELS.get(name, name))
        editor.setObjectName(key)
        self.editors[key] = editor
        return editor

    @staticmethod
    def _read(editor: QWidget) -> Any:
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox | QDoubleSpinBox):
            return editor.value()
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, QPlainTextEdit):
            return editor.toPlainText()
        if isinstance(editor, QLineEdit):
            return editor.text().strip() or None
        raise TypeError(type(editor))

    def values(self) -> dict[str, Any]:
        data = self._original.to_dict()
        for key, editor in self.editors.items():
            target = data
            *path, last = key.split(".")
            for part in path:
                target = target[part]
            value = self._read(editor)
            if last in ("language",) and value is None:
                value = "auto"
            target[last] = value
        return data

    def settings(self) -> tuple[Settings, list[str]]:
        """The edited settings (validated: invalid values fall back, with warnings)."""
        return Settings.from_dict(self.values())

    def restore_defaults(self) -> None:
        defaults = Settings()
        rebuilt = SettingsDialog(defaults, devices=self._devices)
        for key, editor in self.editors.items():
            value = self._read(rebuilt.editors[key])
            if isinstance(editor, QCheckBox):
                editor.setChecked(value)
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                editor.setValue(value)
            elif isinstance(editor, QComboBox):
                editor.setCurrentIndex(max(0, editor.findData(value)))
            elif isinstance(editor, QPlainTextEdit):
                editor.setPlainText(value or "")
            elif isinstance(editor, QLineEdit):
                editor.setText("" if value is None else str(value))
        rebuilt.deleteLater()
