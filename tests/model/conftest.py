"""Shared tiny checkpoints for the model tests: written once per session (seed 0), loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ola_core.model.loading import LoadedOla, load_ola
from ola_core.model.tiny import TinyCheckpoint, write_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> TinyCheckpoint:
    """The seed-0 wide-margin tiny checkpoint: the one the fidelity fixtures were made from. Do not modify."""
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny-ola"), seed=0, wide_margins=True)


@pytest.fixture(scope="session")
def tiny_fp32(tiny_checkpoint: TinyCheckpoint) -> LoadedOla:
    return load_ola(tiny_checkpoint.model_dir, device="cpu", dtype=torch.float32)


@pytest.fixture
def tiny_copy(tmp_path: Path, tiny_checkpoint: TinyCheckpoint) -> TinyCheckpoint:
    """A private copy of the tiny checkpoint that a test may damage."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tiny_checkpoint.model_dir.parent, root)
    return TinyCheckpoint(
        root / tiny_checkpoint.model_dir.name,
        root / tiny_checkpoint.speech_encoder_path.parent.name / tiny_checkpoint.speech_encoder_path.name,
        root / tiny_checkpoint.music_encoder_path.parent.name / tiny_checkpoint.music_encoder_path.name,
    )
