"""Typed user settings, stored as JSON under platformdirs' user config directory.

One frozen dataclass per settings page (model, audio, voice, vision, generation) grouped in
:class:`Settings`. Reading never crashes the app: unknown keys are ignored (a newer version may
have written them), a wrong or out-of-range value falls back to its default with a warning, and
an unreadable/corrupt file gives the defaults plus a warning. The GUI shows the warnings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import platformdirs

from ola_core.errors import SettingsError
from ola_core.processing.generation import DecodingSettings

log = logging.getLogger(__name__)

APP_NAME = "ola-assistant"
Quantization = Literal["nf4", "int8", "none"]  # none = bf16 (the official dtype)
ComputeDevice = Literal["auto", "cuda", "cpu"]
# Memory profile (ola_core.model.profiles): "auto" picks from the GPU's free memory (none on the CPU);
# "custom" is no profile, just the quantization below.
MemoryProfile = Literal["auto", "8gb", "12gb", "24gb", "custom"]
MEMORY_PROFILES: tuple[MemoryProfile, ...] = typing.get_args(MemoryProfile)
EchoMode = Literal["speakers", "headphones"]
SourceSetting = Literal["camera", "screen", "off"]


def _range(lo: float, hi: float) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class ModelSettings:
    model_dir: str | None = None  # folder of the Ola checkpoint; None until first-run setup found one
    speech_encoders_dir: str | None = None  # folder with large-v3.pt and BEATs (None: inside model_dir)
    profile: MemoryProfile = "auto"
    quantization: Quantization = "nf4"  # used by the "custom" profile, and on the CPU
    device: ComputeDevice = "auto"


@dataclass(frozen=True)
class AudioSettings:
    microphone: str | None = None  # device name; None = system default
    speaker: str | None = None
    hands_free: bool = True  # False = push-to-talk
    vad_sensitivity: int = field(default=2, metadata=_range(0, 3))  # webrtcvad aggressiveness
    end_of_turn_silence_ms: int = field(default=700, metadata=_range(200, 3000))
    # Scale the end-of-turn silence by how the utterance ends (falling pitch: shorter; rising
    # pitch or a held "um": longer); off = always wait exactly end_of_turn_silence_ms.
    adaptive_endpointing: bool = True
    # Start encoding and prefilling after this much silence, before the end of the turn is
    # certain (0 = off); dropped when the user speaks again.
    speculation_ms: int = field(default=200, metadata=_range(0, 1000))
    echo_mode: EchoMode = "speakers"  # speakers: echo cancellation / gating; headphones: full barge-in
    barge_in: bool = True
    barge_in_ms: int = field(default=300, metadata=_range(100, 2000))  # sustained speech needed


@dataclass(frozen=True)
class VoiceSettings:
    speak_answers: bool = True
    voice: str | None = None  # synthesizer-specific voice name; None = its default
    cosyvoice_voice: str | None = None  # a CosyVoice2 voice (speech/cosyvoice/voices.py); None = per language
    speaking_rate: float = field(default=1.0, metadata=_range(0.5, 2.0))


@dataclass(frozen=True)
class VisionSettings:
    source: SourceSetting = "off"  # the source active at start
    camera: int = field(default=0, metadata=_range(0, 64))
    monitor: int = field(default=1, metadata=_range(0, 16))  # mss numbering: 1 = first monitor
    frames_per_turn: int = field(default=4, metadata=_range(1, 16))
    max_side: int = field(default=768, metadata=_range(128, 1536))  # longest frame side kept
    attach_view_to_typed: bool = True  # typed questions carry the current view when a source is on


_OFFICIAL = DecodingSettings()


@dataclass(frozen=True)
class GenerationPreferences:
    """The user's choices for how answers are decoded; defaults are the official inference's, read
    from :class:`~ola_core.processing.generation.DecodingSettings` (the one place they live)."""

    max_new_tokens: int = field(default=_OFFICIAL.max_new_tokens, metadata=_range(1, 8192))
    temperature: float = field(default=_OFFICIAL.temperature, metadata=_range(0.0, 2.0))  # 0 = greedy
    top_k: int = field(default=_OFFICIAL.top_k, metadata=_range(1, 1000))
    top_p: float = field(default=_OFFICIAL.top_p, metadata=_range(0.05, 1.0))  # 1 = off
    repetition_penalty: float = field(default=_OFFICIAL.repetition_penalty, metadata=_range(0.8, 2.0))
    system_prompt: str = ""  # "" = the model's own default system prompt


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = ModelSettings()
    audio: AudioSettings = AudioSettings()
    voice: VoiceSettings = VoiceSettings()
    vision: VisionSettings = VisionSettings()
    generation: GenerationPreferences = GenerationPreferences()
    language: str = "auto"  # answer/voice language hint ("auto", "en", "zh", …)
    trace_file: str | None = None  # opt-in: append each turn's TurnTrace as a JSON line here
    keep_history: bool = True  # save every conversation in data_dir()/history.sqlite3 (booth mode: off)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> tuple[Settings, list[str]]:
        """Validated settings and the warnings about values that were replaced by defaults."""
        warnings: list[str] = []
        return _build(cls, data, "", warnings), warnings

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


T = TypeVar("T")


def field_range(cls: type[Any], name: str) -> tuple[float, float]:
    """The allowed (low, high) of a numeric setting, for command-line options that set it."""
    for f in dataclasses.fields(cls):
        if f.name == name and "range" in f.metadata:
            low, high = f.metadata["range"]
            return low, high
    raise KeyError(f"{cls.__name__}.{name} has no range")


def _build(cls: type[T], data: Any, prefix: str, warnings: list[str]) -> T:
    default = cls()
    if not isinstance(data, dict):
        if data is not None:
            warnings.append(f"settings: {prefix or 'file'} is not an object; using defaults")
        return default
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        name = f"{prefix}{f.name}"
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            values[f.name] = _build(hint, data[f.name], f"{name}.", warnings)  # type: ignore[arg-type]
            continue
        ok, value = _coerce(data[f.name], hint, f.metadata.get("range"))
        if ok:
            values[f.name] = value
        else:
            warnings.append(
                f"settings: {name}={reprlib.repr(data[f.name])} is not valid; using {getattr(default, f.name)!r}"
            )
    return dataclasses.replace(default, **values)  # type: ignore[type-var]


def _coerce(value: Any, hint: Any, bounds: tuple[float, float] | None) -> tuple[bool, Any]:
    """(True, value) when ``value`` fits the annotation ``hint`` (and ``bounds``), else (False, None)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(hint):
            ok, out = _coerce(value, arm, bounds)
            if ok:
                return True, out
        return False, None
    if origin is Literal:
        return (value in typing.get_args(hint)), value
    if hint is type(None):
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False, None
        try:
            if not math.isfinite(value) or (hint is int and value != int(value)):
                return False, None  # 1e400 parses to inf, NaN to nan: neither is a usable number
            out = hint(value)
        except OverflowError:  # an integer too large for a float
            return False, None
        if bounds is not None and not bounds[0] <= out <= bounds[1]:
            return False, None
        return True, out
    if hint is str:
        return isinstance(value, str), value
    return False, None


def settings_path() -> Path:
    """``<user config dir>/ola-assistant/settings.json`` (``OLA_CONFIG_DIR`` overrides the folder)."""
    folder = os.environ.get("OLA_CONFIG_DIR")
    base = Path(folder) if folder else platformdirs.user_config_path(APP_NAME)
    return base / "settings.json"


def data_dir() -> Path:
    """``<user data dir>/ola-assistant``: history, voices (``OLA_DATA_DIR`` overrides the folder)."""
    folder = os.environ.get("OLA_DATA_DIR")
    return Path(folder) if folder else platformdirs.user_data_path(APP_NAME)


def load_settings(path: Path | None = None) -> tuple[Settings, list[str]]:
    """Read the settings file; a missing file gives the defaults, a broken one defaults + a warning."""
    path = path or settings_path()
    if not path.exists():
        return Settings(), []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:  # JSON nested thousands deep: Python's parser gives up
        return _unreadable(path, "it is nested too deeply")
    except (OSError, UnicodeDecodeError, ValueError) as error:  # ValueError: bad JSON, huge integers
        return _unreadable(path, str(error))
    try:
        return Settings.from_dict(data)
    except RecursionError:
        return _unreadable(path, "it is nested too deeply")


def _unreadable(path: Path, reason: str) -> tuple[Settings, list[str]]:
    log.warning("settings file %s unreadable: %s", path, reason)
    return Settings(), [f"The settings file {path} could not be read ({reason}); the defaults are used."]


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves a half-written file."""
    path = path or settings_path()
    tmp = path.with_suffix(".json.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(
            json.dumps(settings.to_dict(), indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8"
        )
        tmp.replace(path)
    except (OSError, ValueError) as error:  # ValueError: a non-finite number has no JSON form
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # never leave a half-written temp file behind
        raise SettingsError(
            f"Could not save the settings to {path}: {error}. Check that the folder is writable."
        ) from error
    return path
