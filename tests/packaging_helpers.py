"""Helpers shared by the packaging and installer tests: desktop-entry parsing, stand-in programs
and venvs, and a clean environment for the install scripts."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from app import resources

ROOT = Path(__file__).resolve().parent.parent
LINUX = ROOT / "packaging" / "linux"
DESKTOP_FILE = LINUX / f"{resources.DESKTOP_ID}.desktop"
METAINFO_FILE = LINUX / f"{resources.DESKTOP_ID}.metainfo.xml"
INSTALLER = ROOT / "scripts" / "install-desktop-entry.sh"
CONSOLE_SCRIPT = "ola-assistant = app.entry:main"


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


# One Exec argument: double-quoted (with \" \` \$ \\ escaped inside) or free of reserved characters.
EXEC_ARG = r'"(?:[^"`$\\]|\\["`$\\])*"|[^\s"\'\\><~|&;$*?#()`]+'


def exec_arguments(value: str) -> list[str]:
    """Split an Exec value the way the Desktop Entry spec tells launchers to."""
    string_escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r"}
    line = re.sub(r"\\(.)", lambda m: string_escapes.get(m[1], m[1]), value)  # the string-value level
    assert re.fullmatch(rf"(?:{EXEC_ARG})(?: (?:{EXEC_ARG}))*", line), f"malformed Exec: {line!r}"
    args = [
        re.sub(r"\\(.)", r"\1", arg[1:-1]) if arg[0] == '"' else arg for arg in re.findall(EXEC_ARG, line)
    ]
    return [arg.replace("%%", "%") for arg in args]


def fake_program(folder: Path) -> Path:
    folder.mkdir(parents=True)
    program = folder / "ola-assistant"
    program.write_text('#!/bin/sh\necho started "$@"\n')
    program.chmod(0o755)
    return program


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        **extra,
    }


def stub_venv(venv: Path) -> None:
    """A venv whose pip 'installs' a fake ola-assistant, so install-and-run.sh runs in a second."""
    (venv / "bin").mkdir(parents=True)
    for name, body in {
        "python": "exit 0",
        "pip": f"printf '#!/bin/sh\\necho started \"$@\"\\n' > {venv}/bin/ola-assistant; chmod +x {venv}/bin/ola-assistant",
    }.items():
        (venv / "bin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (venv / "bin" / name).chmod(0o755)
