"""The one-step installers (Linux/macOS sh, Windows ps1/bat), the uninstallers, the PyInstaller one-folder
build with its smoke test, and the Linux install in a fresh folder."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ola_core
from ola_core.platform_info import BUILD_FILE
from tests.packaging_helpers import (
    DESKTOP_FILE,
    LINUX,
    ROOT,
    clean_env,
    desktop_entry,
    exec_arguments,
    fake_program,
    stub_venv,
)

# --- the one-step installers ----------------------------------------------------------------------
SCRIPTS = ROOT / "scripts"
SPEC = ROOT / "packaging" / "pyinstaller" / "ola-assistant.spec"


def _checkout_copy(folder: Path, *, source: bool = False) -> Path:
    """What a release zip holds, unpacked into ``folder`` (scripts, menu files, icons, pyproject)."""
    folder.mkdir(parents=True)
    names = ["scripts", "assets", "app", "ola_core"] if source else ["scripts", "assets"]
    for name in names:
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(LINUX, folder / "packaging" / "linux")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, folder / name)
    return folder


def _stub_bin(folder: Path, programs: dict[str, str]) -> Path:
    """Stand-ins for system programs (uname, nvidia-smi, uv), first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in programs.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


# A uv that logs its arguments and makes what `uv venv` / `uv pip install` would.
_UV = r"""echo "uv $*" >> "$OLA_TEST_LOG"
if [ "$1" = venv ]; then mkdir -p "$4/bin"; printf '#!/bin/sh\nexit 0\n' > "$4/bin/python"; chmod +x "$4/bin/python"
else venv="$(dirname "$(dirname "$4")")"; printf '#!/bin/sh\necho started "$@"\n' > "$venv/bin/ola-assistant"; chmod +x "$venv/bin/ola-assistant"
fi"""


def _run_installer(
    checkout: Path, tmp_path: Path, stubs: dict[str, str], **env: str
) -> subprocess.CompletedProcess[str]:
    path = f"{_stub_bin(tmp_path / 'bin', stubs)}:/usr/bin:/bin"
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "install-and-run.sh"), "--version"],
        env={**clean_env(tmp_path, PATH=path, OLA_TEST_LOG=str(tmp_path / "calls.log")), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_with_an_nvidia_driver_the_installer_uses_uv_with_the_matching_torch_build(tmp_path: Path) -> None:
    checkout = _checkout_copy(tmp_path / "Olá app")
    stubs = {"nvidia-smi": 'echo "GPU 0: NVIDIA GeForce RTX 4090"', "uv": _UV}
    result = _run_installer(checkout, tmp_path, stubs)
    assert result.returncode == 0, result.stderr
    assert "installing into .venv with uv" in result.stderr
    venv = checkout / ".venv"
    assert _calls(tmp_path) == [
        "uv venv --python 3.11 .venv",
        "uv pip install --python .venv/bin/python --torch-backend=auto -e .[full]",
    ]
    assert "started --version" in result.stdout
    assert (venv / ".ola-installed").read_text().startswith("uv ")
    entry = desktop_entry(tmp_path / "data" / "applications" / DESKTOP_FILE.name)
    assert exec_arguments(entry["Exec"]) == [str(venv / "bin" / "ola-assistant")]

    # Run again: nothing changed, nothing is installed; a changed pyproject.toml updates in place.
    again = _run_installer(checkout, tmp_path, stubs)
    assert again.returncode == 0 and "installing" not in again.stderr and len(_calls(tmp_path)) == 2
    with (checkout / "pyproject.toml").open("a") as file:
        file.write("\n# a newer release\n")
    updated = _run_installer(checkout, tmp_path, stubs)
    assert updated.returncode == 0, updated.stderr
    assert _calls(tmp_path)[2:] == [_calls(tmp_path)[1]]  # the same environment, no new venv


def test_without_a_gpu_the_installer_uses_pip_and_the_cpu_torch_build(tmp_path: Path) -> None:
    checkout = _checkout_copy(tmp_path / "app")
    stub_venv(checkout / ".venv")  # python -m venv is not needed: the venv exists
    (checkout / ".venv" / "bin" / "pip").write_text(
        '#!/bin/sh\necho "pip $*" >> "$OLA_TEST_LOG"\n'
        f"printf '#!/bin/sh\\necho started \"$@\"\\n' > {checkout}/.venv/bin/ola-assistant; "
        f"chmod +x {checkout}/.venv/bin/ola-assistant\n"
    )
    result = _run_installer(checkout, tmp_path, {"nvidia-smi": "exit 9", "uv": "exit 99"})
    assert result.returncode == 0, result.stderr
    quiet = "install -q --disable-pip-version-check"
    assert _calls(tmp_path) == [
        f"pip {quiet} --index-url https://download.pytorch.org/whl/cpu torch",
        f"pip {quiet} -e .[full]",
    ]
    # OLA_TORCH_INDEX=none: torch from pip's own configuration (here: the wheel on disk).
    (checkout / ".venv" / ".ola-installed").unlink()
    (tmp_path / "calls.log").unlink()
    local = _run_installer(checkout, tmp_path, {}, OLA_TORCH_INDEX="none", OLA_TORCH="torch==2.13.0")
    assert local.returncode == 0, local.stderr
    assert _calls(tmp_path)[0] == f"pip {quiet} torch==2.13.0"


def test_on_macos_the_installer_uses_uv_and_adds_an_app_with_the_permission_texts(tmp_path: Path) -> None:
    import plistlib

    checkout = _checkout_copy(tmp_path / "app")
    result = _run_installer(checkout, tmp_path, {"uname": "echo Darwin", "uv": _UV})
    assert result.returncode == 0, result.stderr
    assert "--torch-backend=auto" in _calls(tmp_path)[1]  # on a Mac: PyPI's wheel (MPS on Apple silicon)
    bundle = tmp_path / "home" / "Applications" / "Ola Assistant.app" / "Contents"
    info = plistlib.loads((bundle / "Info.plist").read_bytes())
    assert info["CFBundleExecutable"] == "ola-assistant"
    assert info["NSMicrophoneUsageDescription"].startswith("Ola Assistant listens")
    assert "camera" in info["NSCameraUsageDescription"]
    launcher = subprocess.run(
        [str(bundle / "MacOS" / "ola-assistant"), "x y"], capture_output=True, text=True
    )
    assert launcher.stdout.strip() == "started x y"
    assert not (tmp_path / "data" / "applications").exists()  # no freedesktop entry on a Mac


def _uninstall(
    checkout: Path, tmp_path: Path, *args: str, answer: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "uninstall.sh"), *args],
        env=clean_env(tmp_path), input=answer, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _installed(checkout: Path, tmp_path: Path) -> Path:
    """An installed app (stub venv, .uv, menu entry) whose python lists one folder of user data."""
    data = tmp_path / "Zoë data" / "ola-assistant"
    data.mkdir(parents=True, exist_ok=True)
    (data / "settings.json").write_text("{}")
    venv = checkout / ".venv"
    fake_program(venv / "bin")
    (venv / "bin" / "python").write_text(
        f"#!/bin/sh\n[ \"$2\" = app.user_data ] && printf '2\\t%s\\n' '{data}'\n"
    )
    (venv / "bin" / "python").chmod(0o755)
    (checkout / ".uv" / "python").mkdir(parents=True, exist_ok=True)
    subprocess.run(["bash", str(checkout / "scripts" / "install-desktop-entry.sh")], env=clean_env(tmp_path, VENV=str(venv)), check=True, capture_output=True)  # fmt: skip
    return data


def test_uninstall_removes_the_app_and_asks_before_deleting_the_users_data(tmp_path: Path) -> None:
    checkout = _checkout_copy(tmp_path / "app")
    menu_entry = tmp_path / "data" / "applications" / DESKTOP_FILE.name
    data = _installed(checkout, tmp_path)
    kept = _uninstall(checkout, tmp_path, answer="\n")  # Enter: the default is no
    assert kept.returncode == 0, kept.stderr
    assert not (checkout / ".venv").exists() and not (checkout / ".uv").exists() and not menu_entry.exists()
    assert str(data) in kept.stdout and "Delete these too? [y/N]" in kept.stderr
    assert data.is_dir() and "Kept your data" in kept.stdout
    assert (checkout / "pyproject.toml").is_file()  # the folder itself stays

    _installed(checkout, tmp_path)
    deleted = _uninstall(checkout, tmp_path, answer="y\n")
    assert deleted.returncode == 0 and not data.exists() and "Deleted your data" in deleted.stdout

    data = _installed(checkout, tmp_path)
    assert _uninstall(checkout, tmp_path, "--keep-data").returncode == 0 and data.is_dir()
    _installed(checkout, tmp_path)
    assert _uninstall(checkout, tmp_path, "--delete-data").returncode == 0 and not data.exists()
    wrong = _uninstall(checkout, tmp_path, "--everything")
    assert wrong.returncode == 2 and "unknown argument" in wrong.stderr


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.sh")))
def test_shell_scripts_parse(script: str) -> None:
    result = subprocess.run(["bash", "-n", str(SCRIPTS / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _powershell_code(path: Path) -> str:
    """The script without comments and string contents (PowerShell's rules: '…' is literal, "…"
    takes backtick escapes, # starts a comment outside strings), for checking its brackets."""
    code, state, chars = [], "code", iter(path.read_text(encoding="utf-8"))
    for char in chars:
        if state == "comment":
            state = "code" if char == "\n" else state
        elif state in ("'", '"'):
            if char == "`" and state == '"':
                next(chars, None)
            elif char == state:
                state = "code"
        elif char == "#":
            state = "comment"
        else:
            code.append(char)
            state = char if char in "'\"" else state
    assert state in ("code", "comment"), f"{path.name}: unterminated {state} string"
    return "".join(code)


@pytest.mark.parametrize("name", ["install-and-run.ps1", "uninstall.ps1"])
def test_powershell_scripts_have_balanced_brackets(name: str) -> None:
    # pwsh is not on this machine: this catches a lost brace or quote, not every syntax error.
    code = _powershell_code(SCRIPTS / name)
    stack: list[str] = []
    for char in code:
        if char in "({[":
            stack.append(char)
        elif char in ")}]":
            assert stack and "({[".index(stack.pop()) == ")}]".index(char), f"{name}: unbalanced {char}"
    assert not stack, f"{name}: unclosed {stack}"


def test_windows_installer_has_every_step() -> None:
    script = (SCRIPTS / "install-and-run.ps1").read_text(encoding="utf-8")
    steps = [
        "https://pypi.org/pypi/uv/json",  # uv from PyPI, no Python needed
        "Get-FileHash",  # … checked against PyPI's SHA-256
        "UV_PYTHON_INSTALL_DIR",  # a private Python inside this folder
        "venv --python 3.11 $Venv",
        "pip install --python $Python \"--torch-backend=$Backend\" -e '.[full]'",  # CUDA torch for the driver
        "'auto'",  # the default backend
        "[Environment]::GetFolderPath('Programs')",  # the Start menu
        "CreateShortcut",
        "$Stamp",  # re-runs update in place
        "& $Program @AppArgs",  # then the app starts
    ]
    assert [s for s in steps if s not in script] == []
    bat = (SCRIPTS / "install-and-run.bat").read_bytes()
    assert b'-ExecutionPolicy Bypass -File "%~dp0install-and-run.ps1" %*' in bat
    assert bat.count(b"\r\n") == bat.count(b"\n")  # cmd.exe wants CRLF line ends


def test_windows_uninstaller_asks_before_deleting_the_users_data() -> None:
    script = (SCRIPTS / "uninstall.ps1").read_text(encoding="utf-8")
    for step in (
        "-m app.user_data",
        "Read-Host",
        "$DeleteData",
        "$KeepData",
        "'.uv'",
        "Ola Assistant.lnk",
    ):
        assert step in script, step
    assert script.index("app.user_data") < script.index(
        "Remove-Item -LiteralPath $folder"
    )  # asked before removal
    bat = (SCRIPTS / "uninstall.bat").read_bytes()
    assert b'-File "%~dp0uninstall.ps1" %*' in bat and bat.count(b"\r\n") == bat.count(b"\n")


# --- the packaged app -----------------------------------------------------------------------------
@pytest.mark.packaging
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_one_folder_build_passes_the_smoke_test(tmp_path: Path) -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (the dev extra has it)")
    dist, work = tmp_path / "dist", tmp_path / "build"
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work), str(SPEC)],
        cwd=tmp_path, capture_output=True, text=True, timeout=840,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-4000:]
    folder = dist / "ola-assistant"
    inside = folder / "_internal"
    for part in ("torch", "PySide6", "hibari/assets", "livekit/rtc/resources/liblivekit_ffi.so", BUILD_FILE):
        assert (inside / part).exists(), f"{part} is not inside the build"
    home = tmp_path / "Zoë home"
    env = {
        "PATH": "/usr/bin:/bin",  # no venv, no checkout on any path: only what the folder holds
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    smoke = subprocess.run(
        [str(folder / "ola-assistant"), "--smoke-test"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )  # fmt: skip
    report = smoke.stdout + smoke.stderr
    assert smoke.returncode == 0, report
    assert f"ola-assistant {ola_core.__version__} (one-folder build " in smoke.stdout
    assert "smoke test passed" in smoke.stdout and "offline voice hibari:" in smoke.stdout
    assert "echo canceller could not start" not in report  # livekit's native library is inside
    assert not (home / ".config" / "ola-assistant").exists()


# --- the Linux one-step path in a fresh folder ------------------------------------------------------
@contextlib.contextmanager
def _xvfb() -> Iterator[str]:
    """A private X server; yields its DISPLAY."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is not installed (Debian package xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()  # written once the server accepts clients
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fresh_folder_install_starts_the_app_under_xvfb(tmp_path: Path) -> None:
    """A release folder (non-ASCII name, spaces) → a new venv → the app answers under X, with the test model."""
    checkout = _checkout_copy(tmp_path / "Olá Zoë app", source=True)
    home = tmp_path / "Zoë home"
    torch = importlib.metadata.version("torch").split("+")[0]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("QT_QPA_PLATFORM", "VIRTUAL_ENV", "PYTHONPATH", "VENV", "PYTHONHOME")
        and not key.startswith("OLA_")
    }
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"),
        OLA_TORCH_INDEX="none",  # torch from pip's own configuration: here the CPU wheel on disk
        OLA_TORCH=f"torch=={torch}",
        HF_HUB_OFFLINE="1",
    )
    with _xvfb() as display:
        env["DISPLAY"] = display
        first = subprocess.run(
            ["bash", "scripts/install-and-run.sh", "--smoke-test"],
            cwd=checkout, env=env, capture_output=True, text=True, timeout=540,
        )  # fmt: skip
    report = first.stdout + first.stderr
    assert first.returncode == 0, report[-6000:]
    assert "installing into .venv with pip" in first.stderr
    assert "smoke test passed" in first.stdout
    venv = checkout / ".venv"
    assert (venv / "pyvenv.cfg").is_file() and (venv / ".ola-installed").read_text().startswith("pip ")
    entry = desktop_entry(home / "data" / "applications" / DESKTOP_FILE.name)
    assert exec_arguments(entry["Exec"]) == [str(venv / "bin" / "ola-assistant")]

    again = subprocess.run(
        ["bash", "scripts/install-and-run.sh", "--version"], cwd=checkout, env=env, capture_output=True, text=True, timeout=60
    )  # fmt: skip
    assert again.returncode == 0 and "installing" not in again.stderr
    assert again.stdout.startswith(f"ola-assistant {ola_core.__version__} (")

    gone = subprocess.run(
        ["bash", "scripts/uninstall.sh", "--keep-data"], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
    )  # fmt: skip
    assert gone.returncode == 0, gone.stderr
    assert not venv.exists() and not (home / "data" / "applications" / DESKTOP_FILE.name).exists()
