"""Sentence-boundary accuracy of our SentenceSplitter beside library splitters, on public test sets.

    python benchmarks/splitter_accuracy.py [--failures N] [--only NAME]

The sets (benchmarks/data/README.md): the Golden Rules of pragmatic_segmenter (48 English edge
cases, 2 Chinese) and the Universal Dependencies PUD treebanks (397 news and Wikipedia documents
in English and the same in Chinese). Score: exact-match accuracy per example, as the Golden Rules
are scored: an example counts when the splitter returns exactly its sentences (white space
ignored: our splitter collapses it for the voice). A second table gives the precision and recall
of the cuts over each set (a cut inside a sentence lowers precision, a missed one recall).

Our splitter runs twice per example, fed whole and in token-sized deltas (1 to 4 characters);
the two must agree (an error otherwise). The markdown stage is off (the sets are plain text; it
would read URLs as host names). Two configurations: ``ours (boundaries)`` with merging of short
pieces, the first-clause cut and the run-on cut off, which is the one comparable with the
libraries, and ``ours (speech)``, the defaults the voice uses, which merges short sentences
(min_units) on purpose. Library splitters are those of the ``dev`` extra; one not installed, or
without a model for a language, is shown as "-". The last column is the mean time per example
over the PUD documents (English and Chinese), so a library's cost per call can be weighed against
the splitter's budget (it runs on every delta); for ours it is both runs, the streamed one
rescanning the text not yet released at every delta.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from ola_core.speech.splitter import SentenceSplitter

DATA = Path(__file__).resolve().parent / "data"
SET_FILES = {"Golden Rules": "golden_rules.json", "UD PUD": "ud_pud.json"}
LANGUAGES = ("en", "zh")
SPEECH: dict[str, int | None] = {}  # the defaults
BOUNDARIES: dict[str, int | None] = {"min_units": 1, "first_clause_units": None, "max_units": 10**9}

Splitter = Callable[[str, str], list[str]]  # (text, language) -> sentences


@dataclass(frozen=True)
class Example:
    """A text and the sentences a reader cuts it into."""

    text: str
    sentences: list[str]


def load_sets() -> dict[tuple[str, str], list[Example]]:
    """(set name, language) -> examples, for every committed set."""
    sets = {}
    for name, file in SET_FILES.items():
        data = json.loads((DATA / file).read_text(encoding="utf-8"))
        join = data.get("join", {})
        for lang, examples in data["sets"].items():
            sets[name, lang] = [
                Example(e.get("text") or join[lang].join(e["sentences"]), e["sentences"]) for e in examples
            ]
    return sets


def ours(settings: dict[str, int | None]) -> Splitter:
    """Our splitter with ``settings``, checked to give the same chunks streamed as whole."""

    def split(text: str, lang: str) -> list[str]:
        whole = SentenceSplitter(markdown=False, **settings)  # type: ignore[arg-type]
        chunks = whole.feed(text) + whole.flush()
        streamed = SentenceSplitter(markdown=False, **settings)  # type: ignore[arg-type]
        sizes, pieces, i = itertools.cycle((1, 3, 2, 4)), [], 0
        while i < len(text):
            pieces.append(text[i : (i := i + next(sizes))])
        if [c for p in pieces for c in streamed.feed(p)] + streamed.flush() != chunks:
            raise AssertionError(f"streamed and whole differ on {text!r}")
        return chunks

    return split


def libraries() -> dict[str, Splitter | None]:
    """The library splitters, named with their versions (None: not installed)."""
    found: dict[str, Splitter | None] = {}

    def pysbd_split() -> Splitter:
        import pysbd

        segmenters = {lang: pysbd.Segmenter(language=lang, clean=False) for lang in LANGUAGES}
        return lambda text, lang: segmenters[lang].segment(text)

    def sentencex_split() -> Splitter:
        import sentencex

        return lambda text, lang: list(sentencex.segment(lang, text))

    def blingfire_split() -> Splitter:
        import blingfire

        return lambda text, lang: blingfire.text_to_sentences(text).split("\n")

    def nupunkt_split() -> Splitter:  # English only: its model is trained on English
        import nupunkt

        return lambda text, lang: nupunkt.sent_tokenize(text) if lang == "en" else []

    for dist, make in [
        ("pysbd", pysbd_split),
        ("sentencex", sentencex_split),
        ("blingfire", blingfire_split),
        ("nupunkt", nupunkt_split),
    ]:
        try:
            found[f"{dist} {version(dist)}"] = make()
        except ImportError:
            found[dist] = None
    return found


def _bare(sentences: list[str]) -> list[str]:
    return [bare for s in sentences if (bare := re.sub(r"\s+", "", s))]


def _cuts(sentences: list[str]) -> set[int]:
    """Where the sentences are cut, as offsets in the text without white space."""
    return set(itertools.accumulate(len(s) for s in _bare(sentences)[:-1]))


@dataclass
class Score:
    """Exact matches per example, and the cuts (true ones, all made, all expected) over the set."""

    right: int = 0
    total: int = 0
    failures: list[tuple[Example, list[str]]] = field(default_factory=list)
    true_cuts: int = 0
    cuts: int = 0
    expected_cuts: int = 0

    def accuracy(self) -> str:
        return f"{self.right}/{self.total} ({100 * self.right / self.total:.1f} %)"

    def precision_recall(self) -> str:
        precision = self.true_cuts / self.cuts if self.cuts else 1.0
        recall = self.true_cuts / self.expected_cuts if self.expected_cuts else 1.0
        return f"{100 * precision:.1f} / {100 * recall:.1f}"


def score(split: Splitter, lang: str, examples: list[Example]) -> Score:
    """Exact-match accuracy of ``split`` on ``examples`` and the precision and recall of its cuts."""
    result = Score(total=len(examples))
    for example in examples:
        got = split(example.text, lang)
        if _bare(got) == _bare(example.sentences):
            result.right += 1
        else:
            result.failures.append((example, got))
        made, expected = _cuts(got), _cuts(example.sentences)
        result.true_cuts += len(made & expected)
        result.cuts += len(made)
        result.expected_cuts += len(expected)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=0, help="print up to N failures per splitter and set")
    parser.add_argument("--only", help="only the splitters whose name contains this")
    args = parser.parse_args()
    sets = load_sets()
    splitters: dict[str, Splitter | None] = {
        "ours (boundaries)": ours(BOUNDARIES),
        "ours (speech)": ours(SPEECH),
        **libraries(),
    }
    header = [f"{name} {lang}" for name, lang in sets]
    rows, cut_rows, shown = [], [], []
    for name, split in splitters.items():
        if args.only and args.only not in name:
            continue
        if split is None:
            rows.append(f"| {name} | " + " | ".join("-" for _ in header) + " | not installed |")
            continue
        cells, cut_cells, seconds, documents = [], [], 0.0, 0
        for (set_name, lang), examples in sets.items():
            if name.startswith("nupunkt") and lang != "en":
                cells.append("-")
                cut_cells.append("-")
                continue
            start = time.perf_counter()
            result = score(split, lang, examples)
            if set_name == "UD PUD":
                seconds += time.perf_counter() - start
                documents += len(examples)
            cells.append(result.accuracy())
            cut_cells.append(result.precision_recall())
            shown += [(name, set_name, lang, f) for f in result.failures[: args.failures]]
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {1000 * seconds / max(documents, 1):.2f} |")
        cut_rows.append(f"| {name} | " + " | ".join(cut_cells) + " |")
    print("Examples split exactly right:\n")
    print("| splitter | " + " | ".join(header) + " | ms per PUD document |")
    print("|---" * (len(header) + 2) + "|")
    print("\n".join(rows))
    print("\nCuts: precision / recall (%):\n")
    print("| splitter | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    print("\n".join(cut_rows))
    for name, set_name, lang, (example, got) in shown:
        print(f"\n{name}, {set_name} {lang}: {example.text!r}\n  want {example.sentences}\n  got  {got}")


if __name__ == "__main__":
    main()
