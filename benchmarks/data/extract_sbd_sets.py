"""Rebuild the public sentence-boundary test sets in this folder from their sources.

    python benchmarks/data/extract_sbd_sets.py --pysbd PATH --ud-en-pud PATH --ud-zh-pud PATH

``--pysbd``: a checkout of github.com/nipunsadvilkar/pySBD (its tests hold the Golden Rules of
pragmatic_segmenter as Python lists); ``--ud-en-pud`` / ``--ud-zh-pud``: checkouts of
UniversalDependencies/UD_English-PUD and UD_Chinese-PUD. Writes ``golden_rules.json`` and
``ud_pud.json`` beside this file (README.md says which commits they came from). The sources are
read, never imported: the Golden Rules lists are taken from the test files' syntax trees.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def golden_rules(test_file: Path, list_name: str) -> list[dict[str, object]]:
    """The (text, sentences) pairs of ``list_name`` in a pySBD test file, ``pytest.param`` ones too."""
    tree = ast.parse(test_file.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == list_name for t in node.targets
        ):
            assert isinstance(node.value, ast.List)
            examples = []
            for item in node.value.elts:
                args = item.args[:2] if isinstance(item, ast.Call) else item.elts  # type: ignore[attr-defined]
                text, sentences = (ast.literal_eval(a) for a in args)
                examples.append({"text": text, "sentences": sentences})
            return examples
    raise ValueError(f"{list_name} not found in {test_file}")


def ud_documents(conllu: Path) -> list[dict[str, object]]:
    """One example per document (``# newdoc id``): its sentences (the text is them joined, see
    ``join`` in the file: a space in English, nothing in Chinese)."""
    documents: dict[str, list[str]] = {}
    current = ""
    for line in conllu.read_text(encoding="utf-8").splitlines():
        if line.startswith("# newdoc id = "):
            current = line.split("=", 1)[1].strip()
        elif line.startswith("# text = "):
            documents.setdefault(current, []).append(line[len("# text = ") :].strip())
    return [{"sentences": s} for s in documents.values()]


def write(path: Path, meta: dict[str, object], sets: dict[str, list[dict[str, object]]]) -> None:
    """JSON with one example per line, so a change of the data reads well in a diff."""
    lines = ["{", *(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in meta.items())]
    lines.append('  "sets": {')
    for n, (lang, examples) in enumerate(sets.items()):
        lines.append(f"    {json.dumps(lang)}: [")
        lines += [f"      {json.dumps(e, ensure_ascii=False)}," for e in examples]
        lines[-1] = lines[-1].rstrip(",")
        lines.append("    ]" + ("," if n < len(sets) - 1 else ""))
    lines += ["  }", "}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pysbd", type=Path, required=True)
    parser.add_argument("--ud-en-pud", type=Path, required=True)
    parser.add_argument("--ud-zh-pud", type=Path, required=True)
    args = parser.parse_args()
    lang_tests = args.pysbd / "tests" / "lang"
    write(
        HERE / "golden_rules.json",
        {
            "source": "The Golden Rules of pragmatic_segmenter (Kevin S. Dias), as pySBD's tests hold them",
            "licence": "MIT (pragmatic_segmenter: Copyright (c) 2015 Kevin S. Dias; pySBD: (c) 2019 Nipun Sadvilkar)",
        },
        {
            "en": golden_rules(lang_tests / "test_english.py", "GOLDEN_EN_RULES_TEST_CASES"),
            "zh": golden_rules(lang_tests / "test_chinese.py", "GOLDEN_ZH_RULES_TEST_CASES"),
        },
    )
    write(
        HERE / "ud_pud.json",
        {
            "source": "Universal Dependencies PUD treebanks (English, Chinese): one example per document",
            "licence": "CC BY-SA 3.0 (UD_English-PUD, UD_Chinese-PUD); this extract is shared under the same licence",
            "join": {"en": " ", "zh": ""},
        },
        {
            "en": ud_documents(args.ud_en_pud / "en_pud-ud-test.conllu"),
            "zh": ud_documents(args.ud_zh_pud / "zh_pud-ud-test.conllu"),
        },
    )


if __name__ == "__main__":
    main()
