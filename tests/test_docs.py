"""Citations in our code and docs point at notes that ship with the project.

Notes gathered outside the repository are not available to readers, so nothing may cite them;
the facts they held live in docs/ (in our own words), and every ``docs/X.md §N`` citation must
name a section heading that exists in that document.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [ROOT / name for name in ("ola_core", "app", "tests", "benchmarks", "docs", "scripts", "README.md")]
TEXT_SUFFIXES = {".py", ".md", ".sh", ".toml", ".txt", ".yml", ".yaml", ".cfg", ".ini", ".desktop"}

# The research notes kept outside the repository (written so that this file does not match itself).
EXTERNAL_NOTE = re.compile(r"(?<![\w-])(?:ola_spec|tts|infra|anchors)\.md\b|\bresearch/[\w./-]*\.md\b")
DOC_CITATION = re.compile(r"docs/([\w-]+\.md)((?:\s*(?:,|and)?\s*§\s?\d+(?:\.\d+)*)+)")
SECTION_NUMBER = re.compile(r"§\s?(\d+(?:\.\d+)*)")
HEADING_NUMBER = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def text_files() -> list[Path]:
    """Every text file of ours under the scanned roots (caches and binary fixtures skipped)."""
    files: list[Path] = []
    for root in SCANNED:
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        files += [
            p
            for p in candidates
            if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts
        ]
    return files


def cited_sections(text: str) -> list[tuple[str, str]]:
    """(document name, section number) for each ``docs/X.md §N[, §M]`` citation in ``text``."""
    return [
        (match.group(1), number)
        for match in DOC_CITATION.finditer(text)
        for number in SECTION_NUMBER.findall(match.group(2))
    ]


def sections_of(doc: Path) -> set[str]:
    """The section numbers that a document's headings define (``### 1.3 Title`` → ``1.3``)."""
    return set(HEADING_NUMBER.findall(doc.read_text(encoding="utf-8")))


def test_the_citation_parser_reads_lists_and_ignores_plain_mentions() -> None:
    # Strings built in pieces, so that this file passes the checks it makes.
    text = "see docs/" + "a-b.md §1.4, §1.6). Also docs/ARCHITECTURE.md and docs/" + "c.md and §0.3; §9"
    assert cited_sections(text) == [("a-b.md", "1.4"), ("a-b.md", "1.6"), ("c.md", "0.3")]
    assert EXTERNAL_NOTE.search("as research" + "/notes.md found") is not None
    assert EXTERNAL_NOTE.search("(ola_spec" + ".md §3)") is not None
    assert EXTERNAL_NOTE.search("docs/official-ola.md and speech-output-notes.md") is None


def test_nothing_cites_notes_kept_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if EXTERNAL_NOTE.search(line)
    ]
    assert offenders == [], "cite docs/ instead:\n" + "\n".join(offenders)


def test_every_docs_section_citation_exists() -> None:
    found = 0
    missing: list[str] = []
    for path in text_files():
        for doc_name, number in cited_sections(path.read_text(encoding="utf-8", errors="replace")):
            found += 1
            doc = ROOT / "docs" / doc_name
            if not doc.is_file():
                missing.append(f"{path.relative_to(ROOT)}: docs/{doc_name} does not exist")
            elif number not in sections_of(doc):
                missing.append(f"{path.relative_to(ROOT)}: docs/{doc_name} has no section {number}")
    assert found >= 20, "the citation pattern no longer matches the way the code cites docs/"
    assert missing == [], "\n".join(missing)


@pytest.mark.parametrize("doc_name", ["official-ola.md", "speech-output-notes.md"])
def test_section_references_inside_a_note_resolve(doc_name: str) -> None:
    """A note's own ``§N`` cross-references (without a path) name its own sections."""
    doc = ROOT / "docs" / doc_name
    text = doc.read_text(encoding="utf-8")
    numbers = HEADING_NUMBER.findall(text)
    assert len(numbers) == len(set(numbers)), "a section number is used twice"
    own = set(numbers)
    other_docs = {span for m in DOC_CITATION.finditer(text) for span in range(*m.span())}
    dangling = [
        m.group(0)
        for m in SECTION_NUMBER.finditer(text)
        if m.start() not in other_docs and m.group(1) not in own
    ]
    assert dangling == []
