"""Desktop integration: the .desktop entry, AppStream metadata, icons, the per-user installer and
what the built wheel ships (console script, icon resource)."""

from __future__ import annotations

import ast
import configparser
import contextlib
import importlib.metadata
import importlib.resources
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

import ola_core
from app import resources
from ola_core.platform_info import BUILD_FILE

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "packaging" / "linux"
DESKTOP_FILE = LINUX / f"{resources.DESKTOP_ID}.desktop"
METAINFO_FILE = LINUX / f"{resources.DESKTOP_ID}.metainfo.xml"
INSTALLER = ROOT / "scripts" / "install-desktop-entry.sh"
CONSOLE_SCRIPT = "ola-assistant = app.entry:main"


def _render_icons_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_icons", ROOT / "scripts" / "render_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_icons = _render_icons_module()


def _desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


# One Exec argument: double-quoted (with \" \` \$ \\ escaped inside) or free of reserved characters.
_EXEC_ARG = r'"(?:[^"`$\\]|\\["`$\\])*"|[^\s"\'\\><~|&;$*?#()`]+'


def _exec_arguments(value: str) -> list[str]:
    """Split an Exec value the way the Desktop Entry spec tells launchers to."""
    string_escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r"}
    line = re.sub(r"\\(.)", lambda m: string_escapes.get(m[1], m[1]), value)  # the string-value level
    assert re.fullmatch(rf"(?:{_EXEC_ARG})(?: (?:{_EXEC_ARG}))*", line), f"malformed Exec: {line!r}"
    args = [
        re.sub(r"\\(.)", r"\1", arg[1:-1]) if arg[0] == '"' else arg for arg in re.findall(_EXEC_ARG, line)
    ]
    return [arg.replace("%%", "%") for arg in args]


def _validate_desktop_file(path: Path) -> None:
    if not shutil.which("desktop-file-validate"):
        pytest.skip("desktop-file-validate is not installed (Debian package desktop-file-utils)")
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "error:" not in report and "warning:" not in report, report


# --- the desktop entry --------------------------------------------------------------------------
def test_desktop_entry_validates() -> None:
    _validate_desktop_file(DESKTOP_FILE)


def test_desktop_entry_names_the_console_script_icon_and_qt_window_class() -> None:
    entry = _desktop_entry(DESKTOP_FILE)
    assert entry["Type"] == "Application"
    assert _exec_arguments(entry["Exec"]) == ["ola-assistant"]
    assert entry["Icon"] == resources.ICON_NAME
    assert entry["Categories"].split(";")[:2] == ["Utility", "AudioVideo"]
    assert "voice" in entry["Keywords"].split(";")
    # X11 window managers match a window to its entry by WM_CLASS, whose class part Qt takes from
    # QCoreApplication.applicationName(): the name app/main.py sets.
    tree = ast.parse((ROOT / "app" / "main.py").read_text(encoding="utf-8"))
    names = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "setApplicationName"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    assert names == [entry["StartupWMClass"]]


# --- AppStream metadata -------------------------------------------------------------------------
def test_metainfo_has_the_required_appstream_elements() -> None:
    root = ET.parse(METAINFO_FILE).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == resources.DESKTOP_ID
    assert root.findtext("metadata_license") == "CC0-1.0"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert root.findtext("project_license") == pyproject["project"]["license"]
    assert root.findtext("name") == _desktop_entry(DESKTOP_FILE)["Name"]
    summary = root.findtext("summary") or ""
    assert 10 < len(summary) < 80 and not summary.endswith(".")
    paragraphs = root.findall("description/p")
    assert paragraphs and all((p.text or "").strip() for p in paragraphs)
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == DESKTOP_FILE.name
    assert [b.text for b in root.findall("provides/binary")] == ["ola-assistant"]
    rating = root.find("content_rating")
    assert rating is not None and rating.get("type", "").startswith("oars-")
    assert root.find("developer/name") is not None
    assert root.find("releases/release").get("version") == ola_core.__version__  # type: ignore[union-attr]


def test_metainfo_passes_appstreamcli_validate() -> None:
    if not shutil.which("appstreamcli"):
        pytest.skip("appstreamcli is not installed (Debian package appstream)")
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", "--no-color", str(METAINFO_FILE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


# --- icons ----------------------------------------------------------------------------------------
def test_packaged_svg_is_the_source_artwork() -> None:
    packaged = importlib.resources.files("app.resources") / f"{resources.ICON_NAME}.svg"
    assert packaged.is_file()
    assert resources.icon_path() == render_icons.PACKAGED_SVG
    assert packaged.read_bytes() == render_icons.SOURCE_SVG.read_bytes(), (
        "app/resources/ola-assistant.svg differs from assets/: run scripts/render_icons.py"
    )


@pytest.mark.parametrize("size", render_icons.SIZES)
def test_png_render_has_its_size_and_a_transparent_background(size: int) -> None:
    with Image.open(render_icons.png_path(size)) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        rgba = np.asarray(image.convert("RGBA"))
    assert rgba[0, 0, 3] == 0 and rgba[-1, -1, 3] == 0  # corners: the panel shows through
    assert rgba[size // 2, size // 2, 3] == 255  # the mark itself is opaque
    assert (rgba[..., 3] > 0).mean() > 0.5  # fills the canvas like other application icons


def test_png_renders_are_up_to_date_with_the_svg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: object
) -> None:
    monkeypatch.setattr(render_icons, "PNG_ROOT", tmp_path)
    for fresh in render_icons.render(render_icons.SOURCE_SVG, (32, 128)):
        committed = ROOT / "assets" / "icons" / "hicolor" / fresh.relative_to(tmp_path)
        a = np.asarray(Image.open(fresh).convert("RGBA"), dtype=np.int16)
        b = np.asarray(Image.open(committed).convert("RGBA"), dtype=np.int16)
        # Anti-aliasing may differ by a level or two between Qt versions; a changed drawing does not.
        assert np.abs(a - b).mean() < 1.5, f"{committed} is stale: run scripts/render_icons.py"


def test_window_icon_loads_from_the_package(qapp: object) -> None:
    from PySide6.QtGui import QIcon

    icon = QIcon(str(resources.icon_path()))
    pixmap = icon.pixmap(32, 32)
    assert not icon.isNull() and not pixmap.isNull()
    image = pixmap.toImage()
    assert image.pixelColor(16, 16).alpha() == 255 and image.pixelColor(0, 0).alpha() == 0


# --- the per-user installer ---------------------------------------------------------------------
def _fake_program(folder: Path) -> Path:
    folder.mkdir(parents=True)
    program = folder / "ola-assistant"
    program.write_text('#!/bin/sh\necho started "$@"\n')
    program.chmod(0o755)
    return program


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        **extra,
    }


def test_installer_puts_entry_metadata_and_icons_under_xdg_data_home(tmp_path: Path) -> None:
    # Reserved characters in the path: the entry must quote them as the spec says.
    program = _fake_program(tmp_path / 'my apps $`"\\ 100%')
    result = subprocess.run(
        ["bash", str(INSTALLER), "--exec", str(program)],
        env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    desktop = data / "applications" / DESKTOP_FILE.name
    icons = data / "icons" / "hicolor"
    expected = [
        desktop,
        data / "metainfo" / METAINFO_FILE.name,
        icons / "scalable" / "apps" / f"{resources.ICON_NAME}.svg",
        *(icons / f"{n}x{n}" / "apps" / f"{resources.ICON_NAME}.png" for n in render_icons.SIZES),
    ]
    assert [p for p in expected if not p.is_file()] == []
    assert not (tmp_path / "home").exists()  # XDG_DATA_HOME is honoured: nothing under ~/.local
    entry = _desktop_entry(desktop)
    assert _exec_arguments(entry["Exec"]) == [str(program)]
    assert entry["TryExec"].replace("\\\\", "\\") == str(program)
    assert entry["Icon"] == resources.ICON_NAME
    _validate_desktop_file(desktop)

    result = subprocess.run(
        ["bash", str(INSTALLER), "--uninstall"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [p for p in expected if p.exists()] == []


def test_installer_finds_the_venv_program_or_says_what_to_do(tmp_path: Path) -> None:
    program = _fake_program(tmp_path / "venv" / "bin")
    found = subprocess.run(
        ["bash", str(INSTALLER)],
        env=_env(tmp_path, VENV=str(tmp_path / "venv")), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    entry = _desktop_entry(tmp_path / "data" / "applications" / DESKTOP_FILE.name)
    assert _exec_arguments(entry["Exec"]) == [str(program)]

    missing = subprocess.run(
        ["bash", str(INSTALLER)],
        env=_env(tmp_path, VENV=str(tmp_path / "none")), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode != 0
    assert "ola-assistant is not installed" in missing.stderr


def _stub_venv(venv: Path) -> None:
    """A venv whose pip 'installs' a fake ola-assistant, so install-and-run.sh runs in a second."""
    (venv / "bin").mkdir(parents=True)
    for name, body in {
        "python": "exit 0",
        "pip": f"printf '#!/bin/sh\\necho started \"$@\"\\n' > {venv}/bin/ola-assistant; chmod +x {venv}/bin/ola-assistant",
    }.items():
        (venv / "bin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (venv / "bin" / name).chmod(0o755)


def test_first_install_adds_the_menu_entry_and_never_fails_because_of_it(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "install-and-run.sh"
    _stub_venv(tmp_path / "venv")
    ok = subprocess.run(
        ["bash", str(script), "--version"],
        env=_env(tmp_path, VENV=str(tmp_path / "venv")), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "started --version" in ok.stdout
    entry = _desktop_entry(tmp_path / "data" / "applications" / DESKTOP_FILE.name)
    assert _exec_arguments(entry["Exec"]) == [str(tmp_path / "venv" / "bin" / "ola-assistant")]

    # An unusable data folder (a file where the folder should be): a note, and the app still starts.
    _stub_venv(tmp_path / "venv2")
    (tmp_path / "blocked").write_text("")
    blocked = subprocess.run(
        ["bash", str(script)],
        env=_env(tmp_path, VENV=str(tmp_path / "venv2"), XDG_DATA_HOME=str(tmp_path / "blocked")),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert blocked.returncode == 0, blocked.stderr
    assert "could not add Ola Assistant to the application menu" in blocked.stderr
    assert "started" in blocked.stdout


# --- what the package ships ---------------------------------------------------------------------
def test_installed_distribution_exposes_the_console_script() -> None:
    scripts = importlib.metadata.distribution("ola-assistant").entry_points.select(group="console_scripts")
    assert [f"{ep.name} = {ep.value}" for ep in scripts] == [CONSOLE_SCRIPT]


@pytest.mark.slow
def test_built_wheel_ships_the_console_script_and_the_icon(tmp_path: Path) -> None:
    try:
        import setuptools
    except ImportError:
        pytest.skip("setuptools is not installed in this environment (needed to build offline)")
    if int(setuptools.__version__.split(".")[0]) < 68:
        pytest.skip("setuptools>=68 is needed to build the wheel offline")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("app", "ola_core"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("ola_assistant-*.whl")
    target = tmp_path / "site"
    shutil.unpack_archive(wheel, target, format="zip")  # what pip does for a pure-Python wheel
    # A clean interpreter that sees only the unpacked wheel: no venv, no editable checkout.
    probe = (
        "import sys, importlib.metadata as md, importlib.resources as r\n"
        f"sys.path[:0] = [{str(target)!r}]\n"
        "d = md.distribution('ola-assistant')\n"
        "print([f'{e.name} = {e.value}' for e in d.entry_points.select(group='console_scripts')])\n"
        "svg = r.files('app.resources') / 'ola-assistant.svg'\n"
        "print(svg.is_file(), len(svg.read_bytes()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", "")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == str([CONSOLE_SCRIPT])
    assert lines[1] == f"True {render_icons.SOURCE_SVG.stat().st_size}"


# --- what the package declares ------------------------------------------------------------------
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-") for req in requirements}


def _third_party_imports() -> set[str]:
    """Top-level module names our code imports that are neither ours nor the standard library."""
    names: set[str] = set()
    for package in ("ola_core", "app"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("ola_core", "app")}


# Imported (lazily) only by writers of test checkpoints, so a dev extra is enough.
_DEV_ONLY_IMPORTS = {"onnx"}  # speech/cosyvoice/tiny.py: stand-in ONNX graphs


def test_every_imported_distribution_is_declared() -> None:
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    declared = _requirement_names(project["dependencies"])
    for extra, requirements in extras.items():
        if extra != "dev":
            declared |= _requirement_names(requirements)
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: providers.get(module, ["?"])
        for module in _third_party_imports()
        if not {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        & (declared | (_requirement_names(extras["dev"]) if module in _DEV_ONLY_IMPORTS else set()))
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_package_data_patterns_match_real_files() -> None:
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]
    for package, patterns in package_data.items():
        folder = ROOT.joinpath(*package.split("."))
        assert folder.is_dir(), f"package-data names {package}, which is not a package folder"
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{package}: {pattern} matches no file"


def test_the_version_is_written_once() -> None:
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ola_core.__version__"}
    assert importlib.metadata.version("ola-assistant") == ola_core.__version__


def test_license_file_is_declared_and_installed() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    requires = _pyproject()["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in requires)
    dist = importlib.metadata.distribution("ola-assistant")
    assert dist.metadata["License-Expression"] == "Apache-2.0"


def test_the_installer_installs_every_optional_part() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    assert _requirement_names(extras["full"]) == {"ola-assistant"}
    assert set(re.findall(r"\[([a-z,]+)\]", extras["full"][0])[0].split(",")) == set(extras) - {"dev", "full"}
    assert '-e ".[full]"' in (ROOT / "scripts" / "install-and-run.sh").read_text(encoding="utf-8")


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
        env={**_env(tmp_path, PATH=path, OLA_TEST_LOG=str(tmp_path / "calls.log")), **env},
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
    entry = _desktop_entry(tmp_path / "data" / "applications" / DESKTOP_FILE.name)
    assert _exec_arguments(entry["Exec"]) == [str(venv / "bin" / "ola-assistant")]

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
    _stub_venv(checkout / ".venv")  # python -m venv is not needed: the venv exists
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
        env=_env(tmp_path), input=answer, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _installed(checkout: Path, tmp_path: Path) -> Path:
    """An installed app (stub venv, .uv, menu entry) whose python lists one folder of user data."""
    data = tmp_path / "Zoë data" / "ola-assistant"
    data.mkdir(parents=True, exist_ok=True)
    (data / "settings.json").write_text("{}")
    venv = checkout / ".venv"
    _fake_program(venv / "bin")
    (venv / "bin" / "python").write_text(
        f"#!/bin/sh\n[ \"$2\" = app.user_data ] && printf '2\\t%s\\n' '{data}'\n"
    )
    (venv / "bin" / "python").chmod(0o755)
    (checkout / ".uv" / "python").mkdir(parents=True, exist_ok=True)
    subprocess.run(["bash", str(checkout / "scripts" / "install-desktop-entry.sh")], env=_env(tmp_path, VENV=str(venv)), check=True, capture_output=True)  # fmt: skip
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
    entry = _desktop_entry(home / "data" / "applications" / DESKTOP_FILE.name)
    assert _exec_arguments(entry["Exec"]) == [str(venv / "bin" / "ola-assistant")]

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
