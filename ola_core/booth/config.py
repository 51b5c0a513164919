"""``booth.toml``: the operator's guard rails for demo-booth mode, read and checked against a schema.

Why a schema of our own rather than the settings' forgiving reader: a booth runs unattended all
day, so a typo must stop the start with a message that names the key (``[limits]
turns_per_minute``) instead of silently falling back to a default the operator never chose.
Every mistake in the file is reported, one per line; unknown keys are mistakes too.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ola_core.errors import OlaError

LANGUAGES = ("auto", "en", "zh")
THEMES = ("light", "dark")


class BoothConfigError(OlaError):
    """booth.toml is missing, unreadable or has mistakes (each line names its key)."""


@dataclass(frozen=True)
class Spec:
    """One key of the schema: its type and, for numbers, the allowed range; for text, the choices."""

    kind: type
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    max_len: int = 2000
    item_kind: type | None = None  # for lists: the type of each item

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind is list:
            return f"a list of {'texts' if self.item_kind is str else 'values'}"
        if self.kind is bool:
            return "true or false"
        name = {int: "a whole number", float: "a number", str: "a text"}[self.kind]
        if self.lo is not None and self.hi is not None:
            return f"{name} from {self.lo:g} to {self.hi:g}"
        return name


@dataclass(frozen=True)
class BoothSection:
    """What visitors see and hear."""

    persona: str = (
        "You are the friendly guide at a demo stand. Keep answers short, kind and suitable for all ages."
    )
    greeting: str = "Hello! I'm Ola. Ask me anything."
    language: str = "auto"
    attract_text: tuple[str, ...] = ("Say hello", "你好")
    example_questions: tuple[str, ...] = ("What can you see?", "Tell me a fun fact.", "你会说中文吗？")
    idle_reset_s: float = 45.0  # no speech and no person in view this long: the visitor's session ends
    camera: int = 0  # -1: no camera (no preview, no person detection)
    person_detection: bool = True
    theme: str = "dark"
    pin: str = "2580"  # asked after the exit chord (Ctrl+Alt+Q held 3 s)
    rehearsal: bool = False  # run on the interface-test model (random weights), labelled on screen


@dataclass(frozen=True)
class LimitsSection:
    max_answer_tokens: int = 160
    max_turn_s: float = 45.0  # a turn (listening + answer) is stopped after this long
    turns_per_minute: int = 8


@dataclass(frozen=True)
class FilterSection:
    """Words never shown nor spoken: matched case-insensitively, whole words for Latin script."""

    words: tuple[str, ...] = ()
    mask: str = "…"


@dataclass(frozen=True)
class OperationsSection:
    log_dir: str = ""  # daily counts and the health file; "" = <data dir>/booth-logs
    heartbeat_s: float = 2.0


@dataclass(frozen=True)
class BoothConfig:
    booth: BoothSection = field(default_factory=BoothSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    filter: FilterSection = field(default_factory=FilterSection)
    operations: OperationsSection = field(default_factory=OperationsSection)


SCHEMA: dict[str, dict[str, Spec]] = {
    "booth": {
        "persona": Spec(str, max_len=4000),
        "greeting": Spec(str, max_len=400),
        "language": Spec(str, choices=LANGUAGES),
        "attract_text": Spec(list, item_kind=str),
        "example_questions": Spec(list, item_kind=str),
        "idle_reset_s": Spec(float, 5, 3600),
        "camera": Spec(int, -1, 64),
        "person_detection": Spec(bool),
        "theme": Spec(str, choices=THEMES),
        "pin": Spec(str, max_len=12),
        "rehearsal": Spec(bool),
    },
    "limits": {
        "max_answer_tokens": Spec(int, 8, 2048),
        "max_turn_s": Spec(float, 5, 600),
        "turns_per_minute": Spec(int, 1, 120),
    },
    "filter": {"words": Spec(list, item_kind=str), "mask": Spec(str, max_len=20)},
    "operations": {"log_dir": Spec(str, max_len=1000), "heartbeat_s": Spec(float, 0.5, 5)},
}
_SECTIONS = {
    "booth": BoothSection,
    "limits": LimitsSection,
    "filter": FilterSection,
    "operations": OperationsSection,
}


def load_booth_config(path: Path | None) -> BoothConfig:
    """The config in ``path`` (None: every default); :class:`BoothConfigError` lists each mistake."""
    if path is None:
        return BoothConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoothConfigError(f"{path}: no such file. Check the --config path.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BoothConfigError(f"{path} cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise BoothConfigError(f"{path} is not valid TOML: {error}") from None
    return parse_booth_config(data, str(path))


def parse_booth_config(data: dict[str, Any], source: str = "booth.toml") -> BoothConfig:
    """Validate parsed TOML against :data:`SCHEMA`; every mistake names its ``[section] key``."""
    mistakes: list[str] = []
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in SCHEMA:
            mistakes.append(f"[{name}]: unknown section (known: {', '.join(SCHEMA)})")
        elif not isinstance(value, dict):
            mistakes.append(f"{name}: must be a [{name}] section, not a single value")
    for name, schema in SCHEMA.items():
        given = data.get(name, {})
        if not isinstance(given, dict):
            continue
        values: dict[str, Any] = {}
        for key, value in given.items():
            spec = schema.get(key)
            if spec is None:
                mistakes.append(f"[{name}] {key}: unknown key (known: {', '.join(schema)})")
                continue
            problem, clean = _check(value, spec)
            if problem:
                mistakes.append(f"[{name}] {key}: {problem}")
            else:
                values[key] = clean
        sections[name] = _SECTIONS[name](**values)
    if not mistakes:
        pin = sections["booth"].pin
        if not (pin.isdigit() and 4 <= len(pin) <= 12):
            mistakes.append("[booth] pin: must be 4 to 12 digits")
    if mistakes:
        count = f"{len(mistakes)} mistake{'s' if len(mistakes) > 1 else ''}"
        raise BoothConfigError(f"{source} has {count}:\n  " + "\n  ".join(mistakes))
    return BoothConfig(**sections)


def _check(value: Any, spec: Spec) -> tuple[str, Any]:
    """("", the clean value) or (what is wrong, None)."""
    wrong = f"must be {spec.describe()}, got {_shown(value)}"
    if spec.kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            return f"must be a list of non-empty texts, got {_shown(value)}", None
        return "", tuple(v.strip() for v in value)
    if spec.kind is bool:
        return ("", value) if isinstance(value, bool) else (wrong, None)
    if spec.kind is str:
        if not isinstance(value, str):
            return wrong, None
        if spec.choices and value not in spec.choices:
            return wrong, None
        if len(value) > spec.max_len:
            return f"is {len(value)} characters long; at most {spec.max_len} are allowed", None
        return "", value
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not numeric or (spec.kind is int and not isinstance(value, int)) or not math.isfinite(value):
        return wrong, None
    if spec.lo is not None and spec.hi is not None and not spec.lo <= value <= spec.hi:
        return wrong, None
    return "", spec.kind(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def sample_toml() -> str:
    """A booth.toml with every key at its default (docs/booth.md shows the same)."""
    lines: list[str] = []
    config = BoothConfig()
    for name in SCHEMA:
        lines.append(f"[{name}]")
        section = getattr(config, name)
        for f in fields(section):
            lines.append(f"{f.name} = {_toml_value(getattr(section, f.name))}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
