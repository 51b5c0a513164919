"""Shared fixtures of the processing tests: the tiny Qwen2-style tokenizer and the reference numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "processing"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny tokenizer the reference ids were made with, loaded the way the engine loads one."""
    from transformers import AutoTokenizer

    from ola_core.model.tokenizer_files import write_tokenizer_files

    directory = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer_files(directory)
    return AutoTokenizer.from_pretrained(directory)
