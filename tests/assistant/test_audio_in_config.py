"""The endpointer configuration that the user's audio settings give (hands-free turns)."""

from __future__ import annotations

import pytest

from ola_core.assistant.audio_in import endpointer_config
from ola_core.settings import AudioSettings


def test_audio_settings_map_onto_the_endpointer() -> None:
    cfg = endpointer_config(
        AudioSettings(
            vad_sensitivity=1,
            end_of_turn_silence_ms=900,
            adaptive_endpointing=False,
            speculation_ms=300,
            barge_in_ms=400,
        )
    )
    assert (cfg.aggressiveness, cfg.end_silence_ms, cfg.sustained_ms) == (1, 900, 400)
    assert cfg.adaptive is False and cfg.pause_ms == 300
    defaults = endpointer_config(AudioSettings())
    assert defaults.adaptive is True and defaults.pause_ms == 200


@pytest.mark.parametrize(("speculation_ms", "pause_ms"), [(0, 0), (50, 100), (100, 100), (1000, 1000)])
def test_every_speculation_setting_gives_a_valid_pause(speculation_ms: int, pause_ms: int) -> None:
    """The settings allow 0–1000 ms; the endpointer takes 0 (off) or 100–1000 and must not refuse."""
    assert endpointer_config(AudioSettings(speculation_ms=speculation_ms)).pause_ms == pause_ms
