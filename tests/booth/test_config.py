"""booth.toml: validated against the schema; every mistake is reported and names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ola_core.booth.config import (
    BoothConfig,
    BoothConfigError,
    load_booth_config,
    parse_booth_config,
    sample_toml,
)
from ola_core.cli import main


def test_no_file_and_the_sample_give_the_defaults() -> None:
    assert load_booth_config(None) == BoothConfig()
    assert parse_booth_config(tomllib.loads(sample_toml())) == BoothConfig()


def test_values_are_read() -> None:
    config = parse_booth_config(
        {
            "booth": {"persona": "You guide the museum.", "idle_reset_s": 30, "language": "zh", "camera": -1},
            "limits": {"turns_per_minute": 4, "max_answer_tokens": 64},
            "filter": {"words": ["darn", "糟糕"], "mask": "*"},
        }
    )
    assert config.booth.persona == "You guide the museum." and config.booth.idle_reset_s == 30.0
    assert config.booth.language == "zh" and config.booth.camera == -1
    assert config.limits.turns_per_minute == 4 and config.filter.words == ("darn", "糟糕")


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (
            {"limits": {"turns_per_minute": "ten"}},
            "[limits] turns_per_minute: must be a whole number from 1 to 120",
        ),
        (
            {"limits": {"turns_per_minute": 0}},
            "[limits] turns_per_minute: must be a whole number from 1 to 120, got 0",
        ),
        ({"limits": {"max_turn_s": float("nan")}}, "[limits] max_turn_s: must be a number from 5 to 600"),
        ({"booth": {"idle_reset_s": True}}, "[booth] idle_reset_s: must be a number"),
        ({"booth": {"language": "fr"}}, "[booth] language: must be one of 'auto', 'en', 'zh', got 'fr'"),
        ({"booth": {"idle_rest_s": 10}}, "[booth] idle_rest_s: unknown key"),
        ({"boot": {}}, "[boot]: unknown section"),
        ({"filter": {"words": "darn"}}, "[filter] words: must be a list of non-empty texts, got 'darn'"),
        ({"filter": {"words": ["ok", ""]}}, "[filter] words: must be a list of non-empty texts"),
        ({"booth": {"pin": "12a4"}}, "[booth] pin: must be 4 to 12 digits"),
        ({"booth": {"greeting": "x" * 401}}, "[booth] greeting: is 401 characters long; at most 400"),
        ({"limits": 5}, "limits: must be a [limits] section"),
    ],
)
def test_each_mistake_names_its_key(data: dict[str, object], named: str) -> None:
    with pytest.raises(BoothConfigError) as caught:
        parse_booth_config(data)
    assert named in str(caught.value)


def test_all_mistakes_are_listed_at_once() -> None:
    with pytest.raises(BoothConfigError) as caught:
        parse_booth_config({"booth": {"theme": "pink"}, "limits": {"max_answer_tokens": 1}})
    message = str(caught.value)
    assert "2 mistakes" in message and "[booth] theme" in message and "[limits] max_answer_tokens" in message


def test_the_command_checks_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad, broken = tmp_path / "good.toml", tmp_path / "bad.toml", tmp_path / "broken.toml"
    good.write_text('[booth]\ngreeting = "Hi!"\n')
    bad.write_text("[limits]\nturns_per_minute = -3\n")
    broken.write_text("[limits\n")
    assert main(["booth", "--check", "--config", str(good)]) == 0
    assert main(["booth", "--check", "--config", str(bad)]) == 2
    assert "[limits] turns_per_minute" in capsys.readouterr().err
    assert main(["booth", "--check", "--config", str(broken)]) == 2
    assert "is not valid TOML" in capsys.readouterr().err
    assert main(["booth", "--check", "--config", str(tmp_path / "none.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["booth", "--sample"]) == 0
    assert parse_booth_config(tomllib.loads(capsys.readouterr().out)) == BoothConfig()


def test_without_the_gui_entry_the_window_is_not_opened(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["booth", "--no-watchdog"]) == 2
    assert "ola-assistant booth" in capsys.readouterr().err
