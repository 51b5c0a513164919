"""Platform branches, run on Linux by faking the platform where the code reads it (sys.platform,
the environment, the program lookup), and what --version, About and --smoke-test say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ola_core
from app.entry import main as entry_main
from ola_core import platform_info
from ola_core.speech import espeak_voice
from ola_core.speech.espeak_voice import EspeakSynthesizer

ROOT = Path(__file__).resolve().parent.parent
# A Windows user name with a space and letters outside ASCII: paths must survive both.
USER = "Zoë Ünal"


# --- espeak-ng: PATH, then the platform's install folder, else a hint for that platform ---------
def _no_espeak_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak_voice.shutil, "which", lambda name: None)


def test_windows_finds_espeak_in_its_program_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    _no_espeak_on_path(monkeypatch)
    program_files = tmp_path / "Program Files"
    monkeypatch.setenv("ProgramFiles", str(program_files))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Users" / USER / "AppData" / "Local"))
    for name in ("ProgramW6432", "ProgramFiles(x86)"):
        monkeypatch.delenv(name, raising=False)
    assert espeak_voice._program() is None
    assert "espeak-ng-X64.msi" in (EspeakSynthesizer.unavailable_reason() or "")

    per_user = tmp_path / "Users" / USER / "AppData" / "Local" / "Programs" / "eSpeak NG" / "espeak-ng.exe"
    per_user.parent.mkdir(parents=True)
    per_user.write_bytes(b"")
    assert espeak_voice._program() == str(per_user)
    machine = program_files / "eSpeak NG" / "espeak-ng.exe"
    machine.parent.mkdir(parents=True)
    machine.write_bytes(b"")
    assert espeak_voice._program() == str(machine)  # Program Files first
    assert EspeakSynthesizer.unavailable_reason() is None


def test_macos_finds_homebrew_espeak_outside_the_apps_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    _no_espeak_on_path(monkeypatch)
    brew = tmp_path / "opt" / "homebrew" / "bin"
    monkeypatch.setattr(espeak_voice, "_MACOS_DIRS", (str(brew),))
    assert "brew install espeak-ng" in (EspeakSynthesizer.unavailable_reason() or "")
    brew.mkdir(parents=True)
    (brew / "espeak-ng").write_bytes(b"")
    assert espeak_voice._program() == str(brew / "espeak-ng")


def test_linux_hint_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    _no_espeak_on_path(monkeypatch)
    assert "apt install espeak-ng" in (EspeakSynthesizer.unavailable_reason() or "")


def test_windows_program_folders_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ProgramFiles", r"C:\Program Files")
    monkeypatch.setenv("ProgramW6432", r"C:\Program Files")  # the same folder: listed once
    monkeypatch.setenv("ProgramFiles(x86)", r"C:\Program Files (x86)")
    monkeypatch.setenv("LOCALAPPDATA", rf"C:\Users\{USER}\AppData\Local")
    assert platform_info.windows_program_dirs() == [
        Path(r"C:\Program Files"),
        Path(r"C:\Program Files (x86)"),
        Path(rf"C:\Users\{USER}\AppData\Local") / "Programs",
    ]


# --- which build this is ---------------------------------------------------------------------------
def _fake_git(root: Path, commit: str, packed: bool) -> None:
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    if packed:
        (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{commit} refs/heads/main\n")
    else:
        (git / "refs" / "heads" / "main").write_text(commit + "\n")


@pytest.mark.parametrize("packed", [False, True])
def test_a_checkout_names_its_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packed: bool) -> None:
    _fake_git(tmp_path, "0123456789abcdef0123456789abcdef01234567", packed)
    monkeypatch.setattr(platform_info, "ROOT", tmp_path)
    assert platform_info.build_description() == "git checkout 0123456789ab"


def test_an_installed_package_and_a_frozen_build_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform_info, "ROOT", tmp_path)  # no .git next to the package
    assert platform_info.build_description() == "installed package"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert platform_info.build_description() == "one-folder build (unstamped)"
    (tmp_path / platform_info.BUILD_FILE).write_text("0123456789ab 2026-12-02 win32\n")
    assert platform_info.build_description() == "one-folder build 0123456789ab 2026-12-02 win32"


def test_version_flag_prints_the_release_and_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        entry_main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"ola-assistant {ola_core.__version__} (")
    assert platform_info.build_description() in out


def test_about_shows_the_version_and_the_build(qapp: object) -> None:
    from app.dialogs.about import about_html
    from ola_core.model_store import Hardware

    html = about_html(None, Hardware(cuda=False, gpu_name=None, total_gb=0.0, free_gb=0.0), "/logs")
    assert f"Ola Assistant {ola_core.__version__}" in html
    assert platform_info.build_description() in html


def test_audio_system_follows_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    from ola_core.capture import devices

    monkeypatch.setattr(devices, "pulse_running", lambda: False)
    for platform, expected in (("win32", "wasapi"), ("darwin", "coreaudio"), ("linux", "alsa")):
        monkeypatch.setattr(sys, "platform", platform)
        assert devices.audio_system() == expected
    monkeypatch.setattr(devices, "pulse_running", lambda: True)
    assert devices.audio_system() == "pulse"


# --- the user's data: found (for the uninstallers) under a home with spaces and non-ASCII letters ---
def test_user_data_folders_under_a_non_ascii_home(tmp_path: Path) -> None:
    home = tmp_path / USER
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "HF_HUB_CACHE": str(home / "hf cache"),
        "HF_HUB_OFFLINE": "1",
    }
    settings = home / ".config" / "ola-assistant"
    data = home / ".local" / "share" / "ola-assistant"
    model = home / "hf cache" / "models--THUdyh--Ola-7b"
    other = home / "hf cache" / "models--someone--else"
    for folder in (settings, data / "interface-test-model", model / "snapshots" / "abc", other / "snapshots"):
        folder.mkdir(parents=True)
    (settings / "settings.json").write_text("{}")
    (data / "history.sqlite3").write_text("")
    (model / "snapshots" / "abc" / "config.json").write_text("{}")
    result = subprocess.run(
        [sys.executable, "-m", "app.user_data"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    listed = [line.split("\t") for line in result.stdout.splitlines()]
    assert [Path(folder) for _size, folder in listed] == [settings, data, model]
    assert int(listed[0][0]) == 2 and int(listed[2][0]) == 2  # bytes: "{}"
    wrong = subprocess.run(
        [sys.executable, "-m", "app.user_data", "all"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert wrong.returncode == 2 and wrong.stderr.startswith("usage:")


# --- the smoke test: the whole app from source, offscreen -----------------------------------------
@pytest.mark.slow
def test_smoke_test_answers_one_typed_question_offscreen(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path / USER),  # nothing of the user's is read or written
        "XDG_CONFIG_HOME": str(tmp_path / USER / ".config"),
        "XDG_DATA_HOME": str(tmp_path / USER / ".local" / "share"),
        "XDG_STATE_HOME": str(tmp_path / USER / ".local" / "state"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "app.entry", "--smoke-test"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test passed" in result.stdout
    assert "offline voice hibari:" in result.stdout
    home = tmp_path / USER
    # Nothing of ours was written (PulseAudio's client library may leave its own .config/pulse).
    assert not (home / ".config" / "ola-assistant").exists()
    assert not (home / ".local" / "share" / "ola-assistant").exists()


def test_smoke_test_fails_with_one_line_naming_what_broke(
    qapp: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app import smoke

    monkeypatch.setattr(smoke, "OFFLINE_VOICE", "no-such-voice")  # as if the voice's data were left out
    assert smoke.run_smoke_test(timeout_s=120, offscreen=True) == 1
    captured = capsys.readouterr()
    assert "smoke test passed" not in captured.out
    (line,) = [x for x in captured.err.splitlines() if x.startswith("smoke test FAILED")]
    assert "offline voice no-such-voice" in line


def test_smoke_test_with_a_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        entry_main(["--smoke-test", "doctor"])
    assert exit_info.value.code == 2
    assert "--smoke-test takes no command" in capsys.readouterr().err
