"""A tiny CosyVoice2 folder (official layout, random weights) shared by the tests of this package."""

from __future__ import annotations

from pathlib import Path

import pytest

from ola_core.speech.cosyvoice.loading import LoadedCosyVoice, load_cosyvoice
from ola_core.speech.cosyvoice.tiny import write_tiny_cosyvoice


@pytest.fixture(scope="session")
def tiny_cosyvoice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_cosyvoice(tmp_path_factory.mktemp("cosyvoice") / "CosyVoice2-0.5B")


@pytest.fixture(scope="session")
def tiny_cosyvoice(tiny_cosyvoice_dir: Path) -> LoadedCosyVoice:
    return load_cosyvoice(tiny_cosyvoice_dir)
