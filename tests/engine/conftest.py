"""A tiny random Ola checkpoint written by our own code, loaded once per test session (fp32, CPU).

fp32 rather than the official bf16: the engine tests compare token sequences produced along
different but mathematically equal paths (cached vs re-encoded), which bf16 rounding on a random
model would turn into coin flips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ola_core.engine import GenerationSettings, OlaEngine
from ola_core.model.loading import LoadedOla, load_ola
from ola_core.model.tiny import TinyCheckpoint, write_tiny_checkpoint

GREEDY = GenerationSettings(greedy=True, max_new_tokens=24)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("engine-tiny"), seed=0)


@pytest.fixture(scope="session")
def loaded(tiny_checkpoint: TinyCheckpoint) -> LoadedOla:
    return load_ola(tiny_checkpoint.model_dir, device="cpu", dtype=torch.float32)


@pytest.fixture
def engine(loaded: LoadedOla) -> OlaEngine:
    """A fresh conversation on the shared model."""
    return OlaEngine.from_loaded(loaded, settings=GREEDY)


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path / "picture.png"
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path)
    return path


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
