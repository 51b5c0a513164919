"""Files and names a newcomer gets wrong: overwriting a model, unreadable files, non-UTF-8 text."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from ola_core import cli
from ola_core.cli import main
from ola_core.model.tiny import TinyCheckpoint
from tests.cli.conftest import tiny_args


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def real_model(folder: Path) -> Path:
    """A folder standing in for a downloaded model: its weights must survive."""
    folder.mkdir(parents=True)
    weights = folder / "model-00001-of-00004.safetensors"
    weights.write_bytes(b"precious weights")
    return weights


@pytest.mark.parametrize(
    "command",
    [["tiny-checkpoint", "{dir}"], ["download", "--test-model", "--dir", "{dir}"]],
    ids=["tiny-checkpoint", "download-test-model"],
)
def test_a_non_empty_folder_is_not_overwritten_without_force(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "Ola-7b"
    weights = real_model(folder)
    args = [part.replace("{dir}", str(folder)) for part in command]
    assert main(args) == 2
    line = one_line(capsys.readouterr().err)
    assert str(folder) in line and "--force" in line
    assert weights.read_bytes() == b"precious weights" and sorted(folder.iterdir()) == [weights]


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [["tiny-checkpoint", "{dir}"], ["download", "--test-model", "--dir", "{dir}"]],
    ids=["tiny-checkpoint", "download-test-model"],
)
def test_force_and_empty_folders_are_written(command: list[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([part.replace("{dir}", str(empty)) for part in command]) == 0
    assert (empty / "Ola-7b" / "config.json").is_file()
    forced = tmp_path / "forced"
    real_model(forced)
    assert main([part.replace("{dir}", str(forced)) for part in command] + ["--force"]) == 0
    assert (forced / "Ola-7b" / "config.json").is_file()


def test_a_file_that_cannot_be_opened_is_one_line_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """A PermissionError from any command (config, shard, frames) ends it with exit 2, no traceback."""
    shard = "/models/Ola-7b/model-00002-of-00004.safetensors"

    def handler(_: argparse.Namespace) -> int:
        raise PermissionError(13, "Permission denied", shard)

    assert cli.run(argparse.Namespace(log_level="warning", handler=handler)) == 2
    line = one_line(capsys.readouterr().err)
    assert shard in line and "Permission denied" in line


def test_an_unreadable_audio_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ola_core.errors import MediaError
    from ola_core.processing.audio import load_audio

    audio = tmp_path / "locked.wav"
    audio.write_bytes(b"RIFF" + b"\x00" * 64)
    real_open = open

    def locked(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file) == str(audio):
            raise PermissionError(13, "Permission denied", str(audio))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", locked)  # root ignores chmod: simulate it
    with pytest.raises(MediaError, match="permission denied") as error:
        load_audio(audio)
    assert str(audio) in str(error.value)


NON_UTF8 = os.fsdecode(b"caf\xe9")  # Latin-1 bytes: Python hands them over as a lone surrogate


def test_a_non_utf8_file_name_is_reported_not_a_traceback(
    tiny: TinyCheckpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / f"{NON_UTF8}.wav"
    assert main(["ask", "hi", *tiny_args(tiny), "--audio", str(missing)]) == 2
    assert "does not exist" in one_line(capsys.readouterr().err)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_non_utf8_file_name_is_read(spoken: Path, tmp_path: Path) -> None:
    from ola_core.processing.audio import load_audio
    from ola_core.processing.media import media_kind

    renamed = tmp_path / f"{NON_UTF8}.wav"
    renamed.write_bytes(spoken.read_bytes())
    assert len(load_audio(renamed)) == len(load_audio(spoken))
    assert media_kind(renamed) == "audio"


@pytest.mark.slow
def test_a_non_utf8_question_is_answered(tiny: TinyCheckpoint, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", f"Hi {NON_UTF8} there", *tiny_args(tiny), "--max-new-tokens", "3", "--greedy"])
    assert code == 0, capsys.readouterr().err


def test_cli_and_gui_show_one_ram_figure() -> None:
    """The CPU figure does not depend on the voice option (the CLI and the dialog differed by it)."""
    from ola_core.model_store import Hardware, cpu_ram_gb, recommend

    with_voice = recommend(Hardware(cuda=False), with_cosyvoice=True)
    without = recommend(Hardware(cuda=False), with_cosyvoice=False)
    assert with_voice.message == without.message
    assert f"{cpu_ram_gb():.0f} GB of RAM" in with_voice.message
    assert with_voice.footprint_gb == without.footprint_gb == cpu_ram_gb()
