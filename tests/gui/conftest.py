"""GUI test set-up: every test gets its own settings, log and HF-cache folders (nothing of the
developer's machine leaks in), the app's theme, and helpers to feed real assistant events."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest

from tests.assistant.conftest import clip, loaded, tiny_checkpoint  # noqa: F401  (the real-assistant tests share them)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OLA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("OLA_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("OLA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


@pytest.fixture
def themed(qapp):  # type: ignore[no-untyped-def]
    from app import theme

    theme.apply(qapp)
    return qapp


@pytest.fixture
def window(qtbot, themed):  # type: ignore[no-untyped-def]
    from app.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win
