"""SentenceSplitter and the markdown stage: tricky texts, streaming, and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ola_core.speech.markdown import speakable
from ola_core.speech.splitter import SentenceSplitter


def split_whole(text: str, **kwargs: int) -> list[str]:
    splitter = SentenceSplitter(**kwargs)  # type: ignore[arg-type]
    return splitter.feed(text) + splitter.flush()


def split_streamed(deltas: list[str], **kwargs: int) -> list[str]:
    splitter = SentenceSplitter(**kwargs)  # type: ignore[arg-type]
    chunks = [chunk for delta in deltas for chunk in splitter.feed(delta)]
    return chunks + splitter.flush()


CASES = [
    pytest.param(
        "Hello! I'm your local assistant. The value of pi is about 3.14, and Dr. Smith arrives "
        "at 5 p.m. Let me know if you need anything else.",
        [
            "Hello! I'm your local assistant.",
            "The value of pi is about 3.14, and Dr. Smith arrives at 5 p.m.",  # "Let" starts a sentence
            "Let me know if you need anything else.",
        ],
        id="short-merged-decimal-title-pm",
    ),
    pytest.param(
        "I live in the U.S. How about you? I work for the U.S. Government in Virginia. See you at 5 p.m. "
        "tomorrow, Albert I. Jones. We make a good team, you and I. Did you see it?",
        [
            "I live in the U.S.",
            "How about you?",
            "I work for the U.S. Government in Virginia.",
            "See you at 5 p.m. tomorrow, Albert I. Jones.",
            "We make a good team, you and I.",
            "Did you see it?",
        ],
        id="abbreviation-then-sentence-starter",
    ),
    pytest.param(
        "1. Preheat the oven. 2. Mix the flour with the eggs. Steps: 3. Bake it.",
        ["1. Preheat the oven.", "2. Mix the flour with the eggs.", "Steps: 3. Bake it."],
        id="numbered-items-in-a-line",
    ),
    pytest.param(
        "I was thinking . . . Maybe we should go home. I never meant that.... She left the store.",
        ["I was thinking... Maybe we should go home.", "I never meant that....", "She left the store."],
        id="spaced-ellipsis-and-four-dots",
    ),
    pytest.param(
        "You can find it at N°. 5 Baker Street. Fig. 3 shows the rest of it.",
        ["You can find it at N°. 5 Baker Street.", "Fig. 3 shows the rest of it."],
        id="numero-and-figure",
    ),
    pytest.param(
        "我们明天一起去看《摔跤吧！爸爸》好吗？好的，我先买票；你来订餐厅。",
        ["我们明天一起去看《摔跤吧！爸爸》好吗？", "好的，我先买票；你来订餐厅。"],
        id="chinese-book-title-and-semicolon",
    ),
    pytest.param(
        "The U.S. team won, e.g. in 2023... It was close. Visit https://example.com/a.b?x=1. Then call me.",
        ["The U.S. team won, e.g. in 2023...", "It was close.", "Visit example.com.", "Then call me."],
        id="acronym-eg-ellipsis-url",
    ),
    pytest.param(
        "It cost $1,000 at 10:30 today. Mr. J. R. Smith, Ph.D., agreed with that.",
        ["It cost $1,000 at 10:30 today.", "Mr. J. R. Smith, Ph.D., agreed with that."],
        id="thousands-time-initials",
    ),
    pytest.param(
        'Wait?! Really?! That\'s "amazing." She said so (twice.) Next one here.',
        ["Wait?! Really?!", 'That\'s "amazing."', "She said so (twice.)", "Next one here."],
        id="punctuation-runs-and-closers",
    ),
    pytest.param(
        "你好！我是你的本地助手。今天天气很好，我们去公园散步吧？好的。",
        ["你好！我是你的本地助手。", "今天天气很好，我们去公园散步吧？", "好的。"],
        id="chinese",
    ),
    pytest.param(
        "我喜欢Python编程。It is fun, right? 对！",
        ["我喜欢Python编程。", "It is fun, right?", "对！"],
        id="mixed-zh-en",
    ),
    pytest.param(
        "好的……我想想。那么，答案是3.14。", ["好的……我想想。", "那么，答案是3.14。"], id="cjk-ellipsis"
    ),
    pytest.param(
        "Here is code:\n```python\nx = 1. \nprint('Hi. There')\n```\nUse `os.path.join(a. B)` to join paths. Done.",
        ["Here is code:", "Use os.path.join(a. B) to join paths.", "Done."],
        id="code-block-skipped-inline-code-unsplit",
    ),
    pytest.param(
        "# Getting started\n1. Open the settings window\n2. Pick a voice\n\n**Note:** be *careful* with [this link](https://x.org/y).",
        [
            "Getting started.",
            "1. Open the settings window.",
            "2. Pick a voice.",
            "Note: be careful with this link.",
        ],
        id="markdown-heading-list-emphasis-link",
    ),
    pytest.param(
        "| Name | Age |\n|---|---|\n| Ann | 31 |\n---\n> Quoted 😀 words here.",
        ["Name, Age.", "Ann, 31.", "Quoted words here."],
        id="table-rule-quote-emoji",
    ),
    pytest.param(
        "Well, I think that the answer, which took a while, is this one. Then more.",
        ["Well, I think that the answer,", "which took a while, is this one.", "Then more."],
        id="first-chunk-at-clause-break",
    ),
    pytest.param(
        " ".join(["word"] * 60),
        [" ".join(["word"] * 40), " ".join(["word"] * 20)],
        id="run-on-forced-cut-at-space",
    ),
    pytest.param("", [], id="empty"),
    pytest.param("...", [], id="nothing-to-say"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_tricky_texts_whole(text: str, expected: list[str]) -> None:
    assert split_whole(text) == expected


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_tricky_texts_one_character_at_a_time(text: str, expected: list[str]) -> None:
    assert split_streamed(list(text)) == expected


# The four cuts named in issue 16, with merging and the first-clause rule off so each boundary shows.
READER_CUTS = [
    pytest.param(
        "1. Preheat the oven. 2. Mix the flour. Steps: 3. Bake it.",
        ["1. Preheat the oven.", "2. Mix the flour.", "Steps: 3. Bake it."],
        id="list-number-is-no-end",
    ),
    pytest.param("Wait . . . Maybe not. Fine.", ["Wait... Maybe not.", "Fine."], id="spaced-ellipsis"),
    pytest.param(
        "The thing is . . . I did not mean it... What now? Hmm... Bob came.",
        ["The thing is... I did not mean it...", "What now?", "Hmm... Bob came."],
        id="ellipsis-ends-a-sentence-before-a-starter",
    ),
    pytest.param(
        "Wait… Then it came. Hmm… Bob came. 好的……我想想。",
        ["Wait…", "Then it came.", "Hmm… Bob came.", "好的……我想想。"],
        id="ellipsis-character-as-three-dots",
    ),
    pytest.param("It is at N°. 5 in town. Go.", ["It is at N°. 5 in town.", "Go."], id="numero"),
    pytest.param(
        "I live in the U.S. How about you?", ["I live in the U.S.", "How about you?"], id="acronym-then-how"
    ),
    pytest.param(
        "In the U.S. We'd say so. Dr. J. I'm here. Ask B. Didn't I?",
        ["In the U.S.", "We'd say so.", "Dr. J.", "I'm here.", "Ask B.", "Didn't I?"],
        id="contractions-start-sentences",
    ),
    pytest.param(
        "Pick one: • 9. The red one • 10. The blue one ⁃11. Neither.",
        ["Pick one:", "• 9. The red one", "• 10. The blue one", "⁃11. Neither."],
        id="bullets-inside-a-line",
    ),
    pytest.param(
        "It was 1985. Then came 2. Bye.", ["It was 1985.", "Then came 2.", "Bye."], id="numbers-end"
    ),
]


@pytest.mark.parametrize(("text", "expected"), READER_CUTS)
def test_cuts_where_a_reader_would_cut(text: str, expected: list[str]) -> None:
    assert split_whole(text, min_units=1, first_clause_units=None) == expected  # type: ignore[arg-type]
    assert split_streamed(list(text), min_units=1, first_clause_units=None) == expected  # type: ignore[arg-type]


def _chunks_start_with_pending(deltas: list[str]) -> int:
    """Feed ``deltas``; check that the first chunk each delta releases starts with the pending text
    seen just before it (or, for a run-on cut short, is its beginning); return how many chunks
    started with a non-empty pending text."""
    splitter = SentenceSplitter()
    checked = 0
    for delta in [*deltas, None]:
        before = " ".join(splitter.pending().split())
        chunks = splitter.feed(delta) if delta is not None else splitter.flush()
        if not chunks:
            continue
        chunk = " ".join(chunks[0].split())
        if len(before) <= len(chunk):
            assert chunk.startswith(before), (before, chunk)
            checked += bool(before)
        else:
            assert before.startswith(chunk), (before, chunk)
    return checked


@pytest.mark.parametrize(("text", "expected"), CASES + READER_CUTS)
def test_a_chunk_starts_with_the_pending_text(text: str, expected: list[str]) -> None:
    for size in (1, 3, 7):
        deltas = [text[i : i + size] for i in range(0, len(text), size)]
        assert _chunks_start_with_pending(deltas) >= min(1, len(expected))


def test_chunks_come_out_before_the_text_ends() -> None:
    """The first sentence is available as soon as the next word begins, not at flush."""
    splitter = SentenceSplitter()
    assert splitter.feed("The first sentence is done.") == []  # is "." an end? needs the next word
    assert splitter.feed(" T") == ["The first sentence is done."]
    assert splitter.feed("he second one") == []
    assert splitter.flush() == ["The second one"]


def test_cjk_run_on_is_cut() -> None:
    text = "这" * 150
    chunks = split_whole(text)
    assert "".join(chunks) == text
    assert max(len(c) for c in chunks) <= 100  # 200 units, two per Han character


def test_reset_forgets_pending_text() -> None:
    splitter = SentenceSplitter()
    splitter.feed("An unfinished thought that")
    splitter.reset()
    assert splitter.feed("Fresh start here. Next") == ["Fresh start here."]


def test_speakable_reads_markdown_as_text() -> None:
    text = speakable(
        "## Title\n* **bold** and __under__ and ~~gone~~ \\*kept\\*\n![a cat](cat.png) <br/> www.python.org/x"
    )
    assert "#" not in text and "**" not in text and "~" not in text and "<br" not in text
    assert (
        "bold" in text and "under" in text and "*kept*" in text and "a cat" in text and "python.org" in text
    )


# --- properties -------------------------------------------------------------------------------
_PLAIN = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,!?;:\n'\"()…—") + list("你好。！？，；世界")), max_size=300
)
_ANY = st.lists(
    st.sampled_from([*"ab Z1.,!?:\n*_#-`[]()|>~\\", "http://", "www.", "```", "你", "。", "😀"]), max_size=120
).map("".join)


# Pieces that meet the look-ahead rules: abbreviations before sentence starters, contractions,
# list numbers, spaced ellipses, book titles.
_READER = st.lists(
    st.sampled_from(
        [
            "U.S.",
            "J.",
            "Dr.",
            "1.",
            "N°.",
            " ",
            " ",
            "How",
            "We",
            "'",
            "d",
            "’ll",
            "I",
            "Houston",
            "the",
            ". . .",
            "...",
            "....",
            ".",
            "?",
            "\n",
            "《",
            "》",
            "！",
            "。",
            "好",
            '"',
            "“",
            "•",
            "⁃",
        ]
    ),
    max_size=60,
).map("".join)


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


@settings(max_examples=150, deadline=None)
@given(_PLAIN)
def test_joining_chunks_loses_no_words(text: str) -> None:
    assert _words(" ".join(split_whole(text))) == _words(text)


@settings(max_examples=100, deadline=None)
@given(_ANY)
def test_markdown_text_loses_no_words_beyond_markup(text: str) -> None:
    assert _words(" ".join(split_whole(text))) == _words(speakable(text))


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(_PLAIN, _ANY, _READER),
    st.lists(st.integers(min_value=0, max_value=300), max_size=30),
    st.sampled_from([1, 12]),  # 1: no merging, so every boundary decision shows
)
def test_delta_boundaries_do_not_change_chunks(text: str, cuts: list[int], min_units: int) -> None:
    points = sorted({min(c, len(text)) for c in cuts})
    deltas = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert split_streamed(deltas, min_units=min_units) == split_whole(text, min_units=min_units)


@settings(max_examples=100, deadline=None)
@given(st.one_of(_PLAIN, _ANY, _READER), st.integers(min_value=1, max_value=9))
def test_chunks_start_with_the_pending_text(text: str, size: int) -> None:
    _chunks_start_with_pending([text[i : i + size] for i in range(0, len(text), size)])


@settings(max_examples=100, deadline=None)
@given(_PLAIN)
def test_chunks_are_bounded_and_clean(text: str) -> None:
    for chunk in split_whole(text):
        assert chunk == chunk.strip() and chunk
        assert sum(2 if "\u4e00" <= ch <= "\u9fff" or ch in "。！？，；" else 1 for ch in chunk) <= 200
