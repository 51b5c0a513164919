"""Desktop integration: the .desktop entry, AppStream metadata, icons, the per-user installer and
what the built wheel ships (console script, icon resource)."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.resources
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

import ola_core
from app import resources
from tests.packaging_helpers import (
    CONSOLE_SCRIPT,
    DESKTOP_FILE,
    INSTALLER,
    METAINFO_FILE,
    ROOT,
    clean_env,
    desktop_entry,
    exec_arguments,
    fake_program,
    stub_venv,
)


def _render_icons_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_icons", ROOT / "scripts" / "render_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_icons = _render_icons_module()


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
    entry = desktop_entry(DESKTOP_FILE)
    assert entry["Type"] == "Application"
    assert exec_arguments(entry["Exec"]) == ["ola-assistant"]
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
    assert root.findtext("name") == desktop_entry(DESKTOP_FILE)["Name"]
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
def test_installer_puts_entry_metadata_and_icons_under_xdg_data_home(tmp_path: Path) -> None:
    # Reserved characters in the path: the entry must quote them as the spec says.
    program = fake_program(tmp_path / 'my apps $`"\\ 100%')
    result = subprocess.run(
        ["bash", str(INSTALLER), "--exec", str(program)],
        env=clean_env(tmp_path), capture_output=True, text=True, timeout=60,
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
    entry = desktop_entry(desktop)
    assert exec_arguments(entry["Exec"]) == [str(program)]
    assert entry["TryExec"].replace("\\\\", "\\") == str(program)
    assert entry["Icon"] == resources.ICON_NAME
    _validate_desktop_file(desktop)

    result = subprocess.run(
        ["bash", str(INSTALLER), "--uninstall"],
        env=clean_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [p for p in expected if p.exists()] == []


def test_installer_finds_the_venv_program_or_says_what_to_do(tmp_path: Path) -> None:
    program = fake_program(tmp_path / "venv" / "bin")
    found = subprocess.run(
        ["bash", str(INSTALLER)],
        env=clean_env(tmp_path, VENV=str(tmp_path / "venv")), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    entry = desktop_entry(tmp_path / "data" / "applications" / DESKTOP_FILE.name)
    assert exec_arguments(entry["Exec"]) == [str(program)]

    missing = subprocess.run(
        ["bash", str(INSTALLER)],
        env=clean_env(tmp_path, VENV=str(tmp_path / "none")), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode != 0
    assert "ola-assistant is not installed" in missing.stderr


def test_first_install_adds_the_menu_entry_and_never_fails_because_of_it(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "install-and-run.sh"
    stub_venv(tmp_path / "venv")
    ok = subprocess.run(
        ["bash", str(script), "--version"],
        env=clean_env(tmp_path, VENV=str(tmp_path / "venv")), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "started --version" in ok.stdout
    entry = desktop_entry(tmp_path / "data" / "applications" / DESKTOP_FILE.name)
    assert exec_arguments(entry["Exec"]) == [str(tmp_path / "venv" / "bin" / "ola-assistant")]

    # An unusable data folder (a file where the folder should be): a note, and the app still starts.
    stub_venv(tmp_path / "venv2")
    (tmp_path / "blocked").write_text("")
    blocked = subprocess.run(
        ["bash", str(script)],
        env=clean_env(tmp_path, VENV=str(tmp_path / "venv2"), XDG_DATA_HOME=str(tmp_path / "blocked")),
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
