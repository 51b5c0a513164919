"""Incremental sentence splitting: model text deltas in, speakable chunks out, as early as natural.

The voice must start while the model is still writing, so each finished sentence is handed to
the synthesizer at once; the very first chunk may even end at a clause break (a comma or colon)
once it is long enough, because the first audio is what the user waits for. Rules, in the
spirit of LiveKit's and RealtimeTTS's rule-based splitters (docs/speech-output-notes.md §3), with no data
downloads:

* a sentence ends at ``。！？`` (no space needed) or at ``.!?`` followed by white space and a
  word that does not start in lower case; closing quotes and brackets stay with the sentence;
  ``；`` is a clause break, as ``;`` is in English;
* never at a decimal point (3.14), after a title (Dr., vs.), after the number of a list item
  ("1." at an item start), at a CJK "……", inside a book title (《摔跤吧！爸爸》), a URL or
  inline code;
* after an initial (J.), a dotted abbreviation (U.S., p.m.), a short form (N°., Fig.) or an
  ellipsis (..., … or . . .) only when a frequent sentence starter follows ("in the U.S. How about
  you?", but "U.S. Government"; "her ... In Hong Kong", but "is . . . I didn't"); four dots are a
  full stop and an ellipsis;
* a line end (heading, list item, paragraph) is a hard boundary, and so is a bullet (•) inside a
  line;
* a piece shorter than ``min_units`` is merged with the next one;
* a run-on is cut after ``max_units`` at its last clause break, else its last space.

Lengths are counted in "units": one per character, two per CJK character (a Han character
carries about as much speech as two Latin letters). Markdown is removed first
(:mod:`ola_core.speech.markdown`). Decisions depend only on the text seen so far; when the text
ends right after a possible boundary the splitter waits for the next character, so how the
deltas are cut never changes the chunks.
"""

from __future__ import annotations

import re

from ola_core.speech.markdown import ATOM_END, ATOM_START, MarkdownStripper, is_cjk

__all__ = ["SentenceSplitter"]

_CJK_ENDS = "。！？"
_LATIN_ENDS = ".!?…"  # "…" as "...": an end only before a sentence starter
_CLOSERS = "\"'”’)]}」』）】》"
_CJK_CLAUSE = "，、：；"  # a semicolon joins two clauses of one sentence, as in English
_LATIN_CLAUSE = ",:;"
# Word lists are written as text (SIM905 off): one per line would fill a screen.
# A full stop after one of these is never a sentence end: they precede a name or a number.
_TITLES = frozenset(
    "mr mrs ms mx dr prof st mt rev hon gen col capt lt sgt cpl fr pres gov sen rep vs cf e.g i.e viz".split()  # noqa: SIM905
)
# A full stop after one of these, an initial (J.) or a dotted abbreviation (U.S.) ends a sentence
# only when a word that often starts a sentence follows: "in the U.S. How about you?".
_ABBREVIATIONS = frozenset(
    "jr sr no nos n° nº fig figs approx ca dept vol ch sec ed eds op pp".split()  # noqa: SIM905
)
# Frequent sentence starters that are seldom part of a name or a title (none of one letter: "J. A.
# Smith" is a name), lower case; a contraction counts when the word before its apostrophe does.
_STARTERS = frozenset(
    """it its i'm i've i'll i'd he she we they you your my our their his her this that these those
    there here what who why when where which how however an the is are was were do does did can
    could would should will must might have has had don't won't doesn't didn't isn't aren't
    wasn't weren't couldn't wouldn't shouldn't haven't hasn't but and so yet also then now still
    thus therefore meanwhile moreover furthermore besides instead otherwise anyway if as in on at
    for after before since while although though because once unless until let please yes no
    thanks thank sure okay ok well oh hi hello some many most all each every both another""".split()  # noqa: SIM905
)
_OPENERS = "\"'“‘(["
_BULLETS = "•‣⁃"  # an item starts at one of these, even inside a line
_LIST_ITEM_OPENERS = "\n.!?:;。！？；：-*" + _BULLETS  # a "1." after one of these (or first) numbers an item
_CJK_TITLE_OPEN = "《〈"  # a sentence end inside a book-title mark is part of the title
_CJK_TITLE_CLOSE = "》〉"
_NEXT_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:。！？；，、：])")


def _units(char: str) -> int:
    return 2 if is_cjk(char) else 1


class SentenceSplitter:
    """Feed text deltas, receive speakable chunks; :meth:`flush` at the end of the answer.

    ``first_clause_units``: the first chunk may end at a clause break once this long (None: never).
    """

    def __init__(
        self,
        *,
        min_units: int = 12,
        first_clause_units: int | None = 20,
        max_units: int = 200,
        markdown: bool = True,
    ) -> None:
        if not 0 < min_units < max_units:
            raise ValueError("need 0 < min_units < max_units")
        self.min_units = min_units
        self.first_clause_units = first_clause_units
        self.max_units = max_units
        self._markdown = MarkdownStripper() if markdown else None
        self._text = ""  # speakable text not yet emitted
        self._emitted = False

    def feed(self, delta: str) -> list[str]:
        """Chunks completed by ``delta`` (often none)."""
        self._text += self._markdown.feed(delta) if self._markdown else delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """The remaining chunks at the end of the text; the splitter is then ready for a new one."""
        if self._markdown:
            self._text += self._markdown.flush()
        chunks = self._drain(final=True)
        if rest := _clean(self._text):
            chunks.append(rest)
        self.reset()
        return chunks

    def pending(self) -> str:
        """The text received since the last released chunk, cleaned as a chunk is: the beginning of
        the next chunk (whose text starts with it, up to white space), so a voice that streams
        text can start speaking a sentence before the sentence is complete."""
        return _clean(self._text)

    def reset(self) -> None:
        """Forget everything (barge-in: the rest of the answer will never come)."""
        if self._markdown:
            self._markdown.reset()
        self._text = ""
        self._emitted = False

    # -- finding cuts -------------------------------------------------------------------------
    def _drain(self, final: bool) -> list[str]:
        chunks = []
        while (cut := self._find_cut(final)) is not None:
            piece, self._text = self._text[:cut], self._text[cut:]
            if chunk := _clean(piece):
                chunks.append(chunk)
                self._emitted = True
        return chunks

    def _find_cut(self, final: bool) -> int | None:
        """Index just after the next chunk in ``self._text``, or None (no cut yet / wait for text)."""
        t = self._text
        n = len(t)
        units = 0
        in_atom = False
        last_clause = last_space = 0
        run_end = 0  # the rest of a punctuation run already judged as a whole ("...", "?!")
        in_title = 0  # depth of open book-title marks
        for j, c in enumerate(t):
            if c in _CJK_TITLE_OPEN:
                in_title += 1
            elif c in _CJK_TITLE_CLOSE:
                in_title = max(0, in_title - 1)
            if c == ATOM_START:
                in_atom = True
                continue
            if c == ATOM_END:
                in_atom = False
            units += _units(c)
            if in_atom:
                continue
            long_enough = units >= self.min_units
            if c == "\n":
                in_title = 0
                if long_enough:
                    return j + 1
            elif j < run_end or in_title:
                pass
            elif c in _BULLETS and j and t[j - 1].isspace():
                if units - 1 >= self.min_units:
                    return j  # "• 9. The first item • 10. The second item": a new item starts
            elif c in _CJK_ENDS or c in _LATIN_ENDS:
                k = _run_end(t, j)
                run_end = k
                if long_enough:
                    decision = self._sentence_end(t, j, k, final)
                    if decision is None:
                        return None
                    if decision:
                        return k
            elif c in _CJK_CLAUSE or c in _LATIN_CLAUSE:
                after = j + 1
                if c in _LATIN_CLAUSE:
                    if after == n and not final:
                        return None  # "1," may become "1,000"
                    if after < n and not t[after].isspace():
                        continue  # 1,000 or 10:30
                if units >= self.min_units:
                    last_clause = after
                if self._may_cut_first(units):
                    return after
            elif c.isspace():
                last_space = j + 1
            elif is_cjk(c) and units >= self.min_units:
                last_space = j + 1  # CJK text has no spaces: any character boundary will do
            if units >= self.max_units:
                return last_clause or last_space or j + 1
        return None

    def _may_cut_first(self, units: int) -> bool:
        return not self._emitted and self.first_clause_units is not None and units >= self.first_clause_units

    @staticmethod
    def _sentence_end(t: str, j: int, k: int, final: bool) -> bool | None:
        """Is the punctuation run t[j:k] a sentence end? None: cannot tell before more text comes."""
        if t[j] in _CJK_ENDS:
            return k < len(t) or final or None
        if k == len(t):
            return True if final else None
        if not t[k].isspace():
            return False  # 3.14, example.com, e.g.x
        if t[k] == "\n":
            return True
        m = k
        while m < len(t) and t[m].isspace():
            m += 1
        if m == len(t):
            return True if final else None
        if t[m].islower():
            return False  # "e.g. some", "approx. five": a sentence does not start in lower case
        run = t[j:k]
        if "…" in run or ("..." in run.replace(" ", "") and run.count(".") < 4):  # "....": "." + "..."
            return _sentence_starts(t, m, final)  # "her ... In Hong Kong", not "is . . . I didn't"
        if run != "." and not run.startswith(".)"):
            return True
        word = _word_before(t, j)
        if word.lower() in _TITLES or _numbers_list_item(t, j, word):
            return False
        return _sentence_starts(t, m, final) if _is_abbreviation(word) else True


def _sentence_starts(t: str, m: int, final: bool) -> bool | None:
    """Whether t[m:] starts with a frequent sentence starter (after opening quotes); None: the word
    may not be complete yet ("U.S. Ho": "How" or "Houston"?)."""
    while m < len(t) and t[m] in _OPENERS:
        m += 1
    word = _NEXT_WORD.match(t, m)
    if not final and (m == len(t) or (word and t[word.end() :] in ("", "'", "’"))):
        return None  # "We" may become "We'd"
    if word is None:
        return False
    lower = word.group().lower().replace("’", "'")
    return lower in _STARTERS or lower.split("'")[0] in _STARTERS


def _run_end(t: str, j: int) -> int:
    """End of the punctuation run starting at t[j]: sentence ends, closers and spaced dots (". . .")."""
    k = j + 1
    while k < len(t):
        if t[k] in _CJK_ENDS or t[k] in _LATIN_ENDS or t[k] in _CLOSERS:
            k += 1
        elif t[k] == " " and t[k - 1] == "." and t[k + 1 : k + 2] == ".":
            k += 2
        else:
            break
    return k


def _word_before(t: str, j: int) -> str:
    """The word that the punctuation at t[j] ends: back to a space, an opening quote or bracket, or
    a CJK character ("聖羅斯季斯拉夫(St. Rastislav)")."""
    start = j
    while start > 0 and not (t[start - 1].isspace() or t[start - 1] in _OPENERS or is_cjk(t[start - 1])):
        start -= 1
    return t[start:j]


def _numbers_list_item(t: str, j: int, word: str) -> bool:
    """Whether the full stop t[j] follows the number of a list item: "1." at an item start."""
    number = word.lstrip(_BULLETS)
    if not (number.isdigit() and len(number) <= 2):
        return False
    i = j - len(number)
    while i > 0 and t[i - 1] in " \t":
        i -= 1
    return i == 0 or t[i - 1] in _LIST_ITEM_OPENERS


def _is_abbreviation(word: str) -> bool:
    """Whether ``word`` (before a full stop) is a short form: an initial, U.S., p.m., Fig, N°."""
    if not word or word.endswith(ATOM_END):
        return False
    if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    parts = word.split(".")
    return len(parts) > 1 and all(p.isalpha() for p in parts) and len(parts[-1]) <= 2


def _clean(piece: str) -> str:
    """The chunk as the voice gets it: markers gone, white space collapsed; "" if nothing to say."""
    text = piece.replace(ATOM_START, "").replace(ATOM_END, "")
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()
    return text if any(ch.isalnum() for ch in text) else ""
