"""Where the CosyVoice2 folder is found, with the names of speech/cosyvoice/files.py (no model store)."""

from __future__ import annotations

import ast
from pathlib import Path

import huggingface_hub
import pytest

from ola_core.settings import Settings, save_settings
from ola_core.speech.cosyvoice import files
from ola_core.speech.cosyvoice.synthesizer import DIR_VARIABLE, find_model_dir
from ola_core.speech.selection import VoiceContext

PACKAGE = Path(files.__file__).parent


def complete_folder(folder: Path) -> Path:
    """Every file the runtime requires, empty: finding looks at names only."""
    for name in (*files.REQUIRED_FILES, f"{files.QWEN_DIR_NAME}/tokenizer.json"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).touch()
    return folder


@pytest.fixture
def configured_ola(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings that name an Ola folder; an empty Hugging Face cache; no $OLA_COSYVOICE_DIR."""
    monkeypatch.setenv("OLA_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv(DIR_VARIABLE, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    ola = tmp_path / "models" / "Ola-7b"
    ola.mkdir(parents=True)
    settings = Settings()
    save_settings(settings.replace(model=settings.model.__class__(model_dir=str(ola))))
    return ola


def test_the_folder_beside_the_configured_model_is_found(configured_ola: Path) -> None:
    beside = complete_folder(configured_ola.parent / files.COSYVOICE_DIR_NAME)
    assert find_model_dir(VoiceContext()) == beside


def test_an_incomplete_folder_is_not_found(configured_ola: Path) -> None:
    folder = complete_folder(configured_ola.parent / files.COSYVOICE_DIR_NAME)
    (folder / "flow.pt").unlink()
    assert files.missing_files(folder) == ["flow.pt"]
    assert find_model_dir(VoiceContext()) is None


def test_the_settings_and_the_environment_come_first(
    configured_ola: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    complete_folder(configured_ola.parent / files.COSYVOICE_DIR_NAME)
    assert find_model_dir(VoiceContext(model_dirs={"cosyvoice": tmp_path / "chosen"})) == tmp_path / "chosen"
    monkeypatch.setenv(DIR_VARIABLE, str(tmp_path / "from-env"))
    assert find_model_dir(VoiceContext()) == tmp_path / "from-env"


def test_the_downloader_takes_only_the_files_the_runtime_reads() -> None:
    assert all(files.is_needed_file(name) for name in files.REQUIRED_FILES)
    assert files.is_needed_file(files.SPEAKERS_FILE) and files.is_needed_file(files.CLONING_FILES[0])
    assert not files.is_needed_file(f"{files.QWEN_DIR_NAME}/model.safetensors")


def test_the_runtime_imports_neither_the_model_store_nor_the_ola_network() -> None:
    """speech sits below model_store; of model/ it may use only the tiny tokenizer writer and the byte count."""
    # The tiny tokenizer writer, and the byte count of a module that the memory accounting shares
    # with the model's profiles (speech/cosyvoice/memory.py).
    allowed = {"ola_core.model.tokenizer_files", "ola_core.model.levers"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                assert not module.startswith("ola_core.model_store"), path.name
                assert not module.startswith("ola_core.model.") or module in allowed, (path.name, module)
