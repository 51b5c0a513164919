"""About: version and build, GPU, audio system and the model files in use (what a bug report needs)."""

from __future__ import annotations

import importlib.metadata
import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from ola_core import __version__, model_store
from ola_core.capture.devices import audio_system
from ola_core.platform_info import build_description

PACKAGES = ("torch", "transformers", "bitsandbytes", "huggingface_hub", "numpy")


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def about_html(model: model_store.ModelFiles | None, hardware: model_store.Hardware, log_dir: str) -> str:
    gpu = f"{hardware.gpu_name}, {hardware.total_gb:.1f} GB" if hardware.cuda else "none (CPU only)"
    if model is None:
        model_line = "none chosen yet (Model → Set up…)"
    else:
        cosy = str(model.cosyvoice_dir) if model.cosyvoice_dir else "not installed (fallback voice)"
        model_line = f"{model.label}<br>speech encoders: {model.speech_encoders_dir}<br>CosyVoice2: {cosy}"
    versions = "".join(f"<tr><td>{p}</td><td>{_version(p)}</td></tr>" for p in PACKAGES)
    return (
        f"<h2>Ola Assistant {__version__}</h2>"
        f"<p>Build: {build_description()}</p>"
        "<p>A local voice and vision assistant on the Ola-7B omni model.</p>"
        f"<p><b>Model:</b> {model_line}</p>"
        f"<p><b>GPU:</b> {gpu}</p>"
        f"<p><b>Audio:</b> {audio_system()} ({platform.system()} {platform.release()})</p>"
        f"<table><tr><td>Python</td><td>{platform.python_version()}</td></tr>"
        f"<tr><td>PySide6</td><td>{pyside_version}</td></tr>{versions}</table>"
        f"<p><b>Logs:</b> {log_dir}</p>"
    )


class AboutDialog(QDialog):
    def __init__(
        self,
        model: model_store.ModelFiles | None,
        hardware: model_store.Hardware,
        log_dir: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Ola Assistant")
        layout = QVBoxLayout(self)
        self.text = QLabel(about_html(model, hardware, log_dir))
        self.text.setWordWrap(True)
        self.text.setOpenExternalLinks(True)
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
