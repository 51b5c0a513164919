"""Settings: defaults, round trip, validation that never crashes (bad values, unknown keys, corrupt file)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ola_core.errors import SettingsError
from ola_core.settings import AudioSettings, Settings, load_settings, save_settings, settings_path


def test_missing_file_gives_defaults_without_warning(tmp_path: Path) -> None:
    settings, warnings = load_settings(tmp_path / "nope.json")
    assert settings == Settings()
    assert warnings == []


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    changed = Settings(
        audio=AudioSettings(
            hands_free=False, vad_sensitivity=1, end_of_turn_silence_ms=900, echo_mode="headphones"
        ),
        language="zh",
        trace_file=str(tmp_path / "t.jsonl"),
    )
    changed = dataclasses.replace(
        changed,
        generation=dataclasses.replace(changed.generation, system_prompt="Be brief.", temperature=0.0),
    )
    path = save_settings(changed, tmp_path / "s.json")
    loaded, warnings = load_settings(path)
    assert warnings == []
    assert loaded == changed


def test_bad_values_fall_back_per_field_and_unknown_keys_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "audio": {
                    "vad_sensitivity": 7,
                    "end_of_turn_silence_ms": 1000,
                    "echo_mode": "loud",
                    "hands_free": "yes",
                },
                "vision": {"frames_per_turn": 2.5, "max_side": 512},
                "generation": "not an object",
                "from_the_future": {"x": 1},
                "language": "en",
            }
        )
    )
    settings, warnings = load_settings(path)
    assert settings.audio.end_of_turn_silence_ms == 1000  # the valid neighbour survives
    assert settings.audio.vad_sensitivity == AudioSettings().vad_sensitivity
    assert settings.audio.echo_mode == "speakers"
    assert settings.audio.hands_free is True
    assert settings.vision.frames_per_turn == 4 and settings.vision.max_side == 512
    assert settings.generation == Settings().generation
    assert settings.language == "en"
    joined = "\n".join(warnings)
    for name in (
        "audio.vad_sensitivity",
        "audio.echo_mode",
        "audio.hands_free",
        "vision.frames_per_turn",
        "generation",
    ):
        assert name in joined
    assert "from_the_future" not in joined


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"null"])
def test_corrupt_file_gives_defaults_and_a_warning(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    settings, warnings = load_settings(path)
    assert settings == Settings()
    assert len(warnings) == 1 or content == b"null"


def test_settings_path_honours_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLA_CONFIG_DIR", str(tmp_path))
    assert settings_path() == tmp_path / "settings.json"
    save_settings(Settings(language="fr"))
    assert load_settings()[0].language == "fr"


def test_unwritable_location_raises_settings_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match="Could not save"):
        save_settings(Settings(), blocker / "sub" / "settings.json")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"generation": {"max_new_tokens": 1e400}}', "generation.max_new_tokens"),
        ('{"generation": {"max_new_tokens": NaN}}', "generation.max_new_tokens"),
        ('{"generation": {"temperature": -Infinity}}', "generation.temperature"),
        ('{"voice": {"speaking_rate": ' + "9" * 400 + "}}", "voice.speaking_rate"),
    ],
)
def test_non_finite_numbers_fall_back_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    settings, warnings = load_settings(path)
    assert settings == Settings()
    assert len(warnings) == 1 and warnings[0].startswith(f"settings: {key}=")


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"audio": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001, "1" * 5000],
    ids=["list-100000-deep", "object-100000-deep", "5000-digit-integer"],
)
def test_files_python_cannot_parse_give_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    settings, warnings = load_settings(path)
    assert settings == Settings()
    assert len(warnings) == 1 and str(path) in warnings[0]


def test_failed_save_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"

    def refuse(self: Path, target: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", refuse)
    with pytest.raises(SettingsError, match="Could not save"):
        save_settings(Settings(), path)
    assert sorted(tmp_path.iterdir()) == []
