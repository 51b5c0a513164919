"""SentenceSplitter on public sentence-boundary sets that this project did not write.

The sets and the scoring are those of benchmarks/splitter_accuracy.py (the Golden Rules of
pragmatic_segmenter, Universal Dependencies PUD in English and Chinese; benchmarks/data/README.md).
The floors are the counts measured when the rules were last changed, less a small margin: a rule
change that loses more than that is a regression to look at, one that gains raises the floor.
The scoring is exact and deterministic (no floats, no timing).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "splitter_accuracy.py"

# (set, language) -> (least examples right, of how many). Measured on 2026-12-02, ours with
# boundaries only: 42/48, 2/2, 395/397, 392/397; the floors allow one Golden Rule, two documents.
FLOORS = {
    ("Golden Rules", "en"): (41, 48),
    ("Golden Rules", "zh"): (2, 2),
    ("UD PUD", "en"): (393, 397),
    ("UD PUD", "zh"): (390, 397),
}


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("splitter_accuracy", BENCHMARK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _benchmark()


@pytest.mark.parametrize(("set_name", "lang"), list(FLOORS))
def test_accuracy_on_public_set_holds(bench: ModuleType, set_name: str, lang: str) -> None:
    """Boundaries only (no merging, no run-on cut); the text is also streamed in 1–4 character
    deltas and must give the same chunks as whole (the benchmark raises otherwise)."""
    examples = bench.load_sets()[set_name, lang]
    result = bench.score(bench.ours(bench.BOUNDARIES), lang, examples)
    floor, total = FLOORS[set_name, lang]
    assert result.total == total
    assert result.right >= floor, [(example.text, got) for example, got in result.failures]


def test_speech_defaults_stream_as_whole_on_public_set(bench: ModuleType) -> None:
    """With the defaults the voice uses (merging, first clause, run-on cut), streamed == whole on
    every document, and no words are lost."""
    split = bench.ours(bench.SPEECH)
    for (_, lang), examples in bench.load_sets().items():
        for example in examples:
            chunks = split(example.text, lang)
            assert "".join("".join(chunks).split()) == "".join("".join(example.sentences).split())
