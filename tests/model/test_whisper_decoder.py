"""Our Whisper decoder against the openai-whisper package's greedy decoding (tests/fixtures/whisper).

The fixture's checkpoints are rebuilt here by the generator's own :func:`write_case` (same seed,
same SHA-256), read by our loader, and decoded by :func:`transcribe_greedy`: the language and
every id must be the same. The tiny weights have wide top-1 margins, so no tolerance is needed.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from ola_core.errors import CorruptModelFileError
from ola_core.model.whisper_decoder import (
    LANGUAGE_CODES,
    WhisperSpecials,
    load_whisper_decoder,
    transcribe_greedy,
)
from ola_core.model.whisper_text import WhisperText, write_tiny_whisper_tokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "whisper"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text())


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("whisper_make_reference", FIXTURES / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.numerics
@pytest.mark.parametrize("case", REFERENCE["cases"], ids=[c["name"] for c in REFERENCE["cases"]])
def test_greedy_ids_match_openai_whisper(case: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "large-v3.pt"
    features, digest = _generator().write_case(path, case["seed"])
    assert digest == case["sha256"], "the generator no longer writes the fixture's weights"
    decoder = load_whisper_decoder(path, dtype=torch.float32)
    result = transcribe_greedy(
        decoder, features[0], suppress=case["suppress"], max_new_tokens=case["options"].get("sample_len")
    )
    assert result.language == case["language"]
    assert list(result.ids) == case["ids"]
    # Our margins are the reference's up to float noise (both are far above it).
    assert result.language_margin == pytest.approx(case["language_margin"], abs=0.05)
    assert list(result.margins) == pytest.approx(case["margins"][: len(result.ids)], abs=0.05)


def test_special_ids_are_large_v3s() -> None:
    specials = WhisperSpecials.from_n_vocab(51866)
    assert (specials.eot, specials.sot, specials.transcribe, specials.no_timestamps) == (
        50257,
        50258,
        50360,
        50364,
    )
    assert specials.languages == range(50259, 50359) and LANGUAGE_CODES[-1] == "yue"
    assert set(specials.always_suppressed()) == {50258, 50359, 50360, 50361, 50362, 50363}
    with pytest.raises(CorruptModelFileError, match="multilingual"):
        WhisperSpecials.from_n_vocab(51864)  # an English-only Whisper


def test_a_file_without_decoder_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "large-v3.pt"
    _generator().write_case(path, 1)
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["model_state_dict"]["decoder.ln.weight"]
    torch.save(checkpoint, path)
    with pytest.raises(CorruptModelFileError, match=r"ln\.weight"):
        load_whisper_decoder(path)


def test_tiny_tokenizer_decodes_words_and_drops_special_ids(tmp_path: Path) -> None:
    text = WhisperText.from_file(write_tiny_whisper_tokenizer(tmp_path / "tokenizer.json"))
    words = text.decode([300, 301])
    assert len(words.split()) == 2 and words.isalpha() is False and words.replace(" ", "").isalpha()
    assert text.decode([300, 50258, 50364, 51000]) == text.decode([300])
    # Without merges a symbol is never one token after a space: only the bare symbols are suppressed.
    assert set(text.non_speech_ids()) >= {text._encode('"')[0], text._encode("#")[0]}
    assert (
        text._encode(" a")[0] not in text.non_speech_ids() or text._encode(" -")[0] == text._encode(" a")[0]
    )


def test_a_broken_tokenizer_file_gives_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(CorruptModelFileError, match="tokenizer"):
        WhisperText.from_file(bad)
