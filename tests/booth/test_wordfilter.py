"""The word filter on a streamed answer: terms cut across deltas are still caught, others are not."""

from __future__ import annotations

import pytest

from ola_core.booth.wordfilter import WordFilter


def streamed(words: WordFilter, deltas: list[str]) -> str:
    stream = words()
    return "".join(stream.feed(d) for d in deltas) + stream.finish()


@pytest.mark.parametrize(
    "deltas",
    [
        ["That is darn good."],
        ["That is da", "rn good."],
        ["That is d", "a", "r", "n", " good."],
        ["That is DARN good."],
    ],
)
def test_a_listed_word_is_masked_however_it_is_cut(deltas: list[str]) -> None:
    assert streamed(WordFilter(["darn"], mask="*"), deltas).lower() == "that is * good."


def test_only_whole_latin_words_and_any_chinese_term() -> None:
    words = WordFilter(["bad", "糟糕"], mask="#")
    assert streamed(words, ["a bad", "ge is not bad", ""]) == "a badge is not #"
    assert streamed(words, ["真", "糟", "糕了"]) == "真#了"


def test_without_words_the_text_passes_unchanged() -> None:
    stream = WordFilter([])()
    assert stream.feed("anything") == "anything" and stream.finish() == ""


def test_text_is_released_as_soon_as_it_is_safe() -> None:
    stream = WordFilter(["darn"])()
    assert stream.feed("Hello there, ") == "Hello there, "  # nothing could still become "darn"
    assert stream.feed("friend") == ""  # might be the start of a longer word
    assert stream.feed(" and") == "friend "
