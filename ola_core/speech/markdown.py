"""Markdown → speakable text, incrementally, for the sentence splitter.

The model answers in markdown; a voice must not say "asterisk asterisk" or "hash hash". This
stage runs on the raw text deltas before sentence splitting and removes the syntax while keeping
every word: emphasis marks vanish, headings / bullets / quote marks go (a numbered item keeps its number), links are read as
their text, bare URLs as their host name, fenced code blocks are skipped (the GUI shows them),
inline code is kept but wrapped in :data:`ATOM_START` … :data:`ATOM_END` so the splitter never
cuts inside it, table rows are read as comma-separated cells.

Line structure is kept as ``"\\n"``: a line end is a hard sentence boundary for the splitter
(headings and list items seldom end with a full stop); such lines get a "." (or "。") when they
end without punctuation, so merged items are not read as one run-on phrase.

Streaming rule: output is a pure function of the text seen so far. When the input ends in the
middle of something undecided ("-" at a line start may open a list item or a rule, "[" may open
a link) those characters are held back until enough text arrives or :meth:`flush` is called; so
the way the text is cut into deltas never changes the result (tests/speech check this).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["ATOM_END", "ATOM_START", "MarkdownStripper", "is_cjk", "speakable"]

ATOM_START = "\ue000"  # private-use characters: never in model output, removed before synthesis
ATOM_END = "\ue001"

_TERMINAL = ".!?;:…。！？；："
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")
_HEADING = re.compile(r"[ \t]*#{1,6}(?:[ \t]+|(?=\n))")
_BULLET = re.compile(r"[ \t]*(?:[-*+•]|(\d{1,3})[.)])[ \t]+")
_QUOTE = re.compile(r"[ \t]*>[ \t]?")
_RULE = re.compile(r"[ \t]*(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})\n")
_TABLE_RULE = re.compile(r"[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*\n")
_UNDECIDED_LINE = re.compile(
    r"[ \t]*(?:[-*_ \t]*|\|[ \t:|-]*|#{1,6}|\d{1,3}[.)]?|[+•>]|`{1,2}|~{1,2}|(?:`{3,}|~{3,}).*)"
)
_LINK = re.compile(r"!?\[([^\]\n]{0,200})\](?:\(([^)\s]{0,400})(?:[ \t]+\"[^\"\n]*\")?\))?")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]+", re.IGNORECASE)
_URL_PREFIXES = ("https://", "http://", "www.")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>\n]{0,80})?/?>")
_LOOKAHEAD_LIMIT = 400  # an unclosed construct longer than this is treated as plain text


def is_cjk(char: str) -> bool:
    """Han, kana, hangul and CJK punctuation: scripts written without spaces between words."""
    code = ord(char)
    return (
        0x3000 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x2FFFF
    )


class MarkdownStripper:
    """Feed markdown deltas, get speakable text back (see the module docstring)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: ready for a new document."""
        self._raw = ""  # text received but not yet converted
        self._fence: str | None = None  # the opening fence while inside a code block
        self._line_start = True
        self._line_kind = ""  # "heading" | "item" | "table" | "" for the current line
        self._last = ""  # last non-space character emitted on this line
        self._prev = ""  # last raw character consumed (is a URL preceded by a letter?)

    def feed(self, delta: str) -> str:
        self._raw += delta
        return self._convert(final=False)

    def flush(self) -> str:
        """Everything still held back, converted as if the text ended here; then reset."""
        out = self._convert(final=True) + self._end_line(newline=False)
        self.reset()
        return out

    # -- the scanner: each step consumes a construct, or returns None when it cannot decide yet ---
    def _convert(self, final: bool) -> str:
        out: list[str] = []
        raw = self._raw
        i = 0
        while i < len(raw):
            if self._fence is not None:
                step = self._in_fence(raw, i, final)
            elif self._line_start:
                step = self._at_line_start(raw, i, final, out)
            else:
                step = self._inline(raw, i, final, out)
            if step is None:
                break
            if step > 0:
                self._prev = raw[step - 1]
            i = step
        self._raw = raw[i:]
        return "".join(out)

    def _in_fence(self, raw: str, i: int, final: bool) -> int | None:
        end = raw.find("\n", i)
        if end < 0:
            if not final:
                return None
            end = len(raw)
        assert self._fence is not None
        if raw[i:end].strip().startswith(self._fence):
            self._fence = None
        return min(end + 1, len(raw))

    def _at_line_start(self, raw: str, i: int, final: bool, out: list[str]) -> int | None:
        line_end = raw.find("\n", i)
        line = raw[i:] if line_end < 0 else raw[i : line_end + 1]
        if line_end < 0 and not final and _UNDECIDED_LINE.fullmatch(line):
            return None  # "-", "##", "1", "|--" or "```py" can still become anything
        whole = line if line.endswith("\n") else line + "\n"
        if m := _FENCE.match(line):
            self._fence = m.group(1)[0] * 3
            return i + len(line)
        if _RULE.fullmatch(whole) or _TABLE_RULE.fullmatch(whole):
            return i + len(line)
        self._line_start = False
        if m := _HEADING.match(whole):
            self._line_kind = "heading"
            return i + min(m.end(), len(line))
        if m := _QUOTE.match(line):
            self._line_start = True  # "> - item": more markers may follow the quote mark
            return i + m.end()
        if m := _BULLET.match(line):
            self._line_kind = "item"
            if m.group(1):  # numbered steps keep their number ("one. Open the file"), never cut from it
                self._emit(out, ATOM_START + m.group(1) + "." + ATOM_END + " ")
            return i + m.end()
        if line.lstrip(" \t").startswith("|"):
            self._line_kind = "table"
            return i + line.index("|") + 1
        return i + len(line) - len(line.lstrip(" \t"))

    def _inline(self, raw: str, i: int, final: bool, out: list[str]) -> int | None:
        c = raw[i]
        nxt = raw[i + 1 : i + 2]
        if c == "\n":
            out.append(self._end_line(newline=True))
            return i + 1
        if c == "`":
            return self._code_span(raw, i, final, out)
        if c == "[" or (c == "!" and nxt == "["):
            return self._link(raw, i, final, out)
        if c == "!" and not nxt and not final:
            return None  # may open an image link
        if c in "hHwW" and not (raw[i - 1] if i else self._prev).isalnum():
            step = self._url(raw, i, final, out)
            if step != i:
                return step
        if c == "<":
            tail = raw[i : i + 90]
            if m := _TAG.match(tail):
                return i + m.end()
            if not final and ">" not in tail and "\n" not in tail and len(tail) < 90:
                return None
        if c == "\\":
            if not nxt:
                return None if not final else i + 1
            self._emit(out, nxt if nxt != "\n" else "")
            return i + 1 if nxt == "\n" else i + 2
        if c in "*~":
            return i + 1  # emphasis and strike-through marks are not read
        if c == "_":
            self._emit(out, " ")
            return i + 1
        if c == "|" and self._line_kind == "table":
            rest = raw[i + 1 :].split("\n", 1)
            if not rest[0].strip():
                if len(rest) == 1 and not final:
                    return None  # the closing bar of a row, or a cell still arriving
                return i + 1
            self._emit(out, ", ")
            return i + 1
        if _is_emoji(c):
            return i + 1
        self._emit(out, c)
        return i + 1

    def _code_span(self, raw: str, i: int, final: bool, out: list[str]) -> int | None:
        ticks = len(raw[i:]) - len(raw[i:].lstrip("`"))
        if i + ticks == len(raw) and not final:
            return None  # the run of backticks may still grow
        close = raw.find("`" * ticks, i + ticks)
        newline = raw.find("\n", i)
        if close < 0 or (0 <= newline < close):
            if not final and newline < 0 and len(raw) - i < _LOOKAHEAD_LIMIT:
                return None
            return i + ticks  # never closed: drop the backticks, read the rest as text
        code = raw[i + ticks : close].strip()
        if code:
            self._emit(out, ATOM_START + code + ATOM_END)
        return close + ticks

    def _link(self, raw: str, i: int, final: bool, out: list[str]) -> int | None:
        m = _LINK.match(raw, i)
        open_ended = "\n" not in raw[i:] and len(raw) - i < _LOOKAHEAD_LIMIT
        if m is None:
            if not final and open_ended:
                return None
            return i + (2 if raw[i] == "!" else 1)  # not a link: drop the bracket, read on
        if m.group(2) is None and not final:
            after = raw[m.end() : m.end() + 1]
            if not after or (after == "(" and open_ended):
                return None  # "[text]" may still get its "(url)"
        self._emit(out, _inline_text(m.group(1)))
        return m.end()

    def _url(self, raw: str, i: int, final: bool, out: list[str]) -> int | None:
        head = raw[i : i + 8].lower()
        if not final and i + len(head) == len(raw) and any(p.startswith(head) for p in _URL_PREFIXES):
            return None  # "ht" may become "https://"
        m = _URL.match(raw, i)
        if m is None:
            return i
        if m.end() == len(raw) and not final:
            return None
        url = m.group(0).rstrip(".,;:!?'\"")
        host = urlsplit(url if "://" in url else "http://" + url).hostname or url
        self._emit(out, host.removeprefix("www."))
        return i + len(url)

    def _emit(self, out: list[str], text: str) -> None:
        out.append(text)
        stripped = text.rstrip().rstrip(ATOM_END)
        if stripped:
            self._last = stripped[-1]

    def _end_line(self, newline: bool) -> str:
        ending = ""
        if self._line_kind and self._last and self._last not in _TERMINAL:
            ending = "。" if is_cjk(self._last) else "."
        self._line_start, self._line_kind, self._last = True, "", ""
        return ending + ("\n" if newline else "")


def _inline_text(markdown: str) -> str:
    """Convert a fragment known to be complete and inside one line (a link's text)."""
    stripper = MarkdownStripper()
    stripper._line_start = False
    return stripper.feed(markdown) + stripper._convert(final=True)


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or code in (0x200D, 0xFE0F)


def speakable(markdown: str) -> str:
    """The whole text at once, atom markers removed: what a voice should read."""
    stripper = MarkdownStripper()
    text = stripper.feed(markdown) + stripper.flush()
    return text.replace(ATOM_START, "").replace(ATOM_END, "")
