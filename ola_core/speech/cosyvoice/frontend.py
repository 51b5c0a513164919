"""Text normalisation for CosyVoice2: a small rule set of our own, no downloads, no FSTs.

Upstream normalises with ``wetext`` (44 MB of FSTs) plus ``inflect``; the model reads what a
person would say, so digits must become words. We cover what an assistant's answers contain:
integers, decimals and percentages in English and Chinese, a few symbols, Chinese full stops,
and pieces short enough for the LM (it was trained on ≤ ~80-token pieces; the sentence splitter
of the speech pipeline usually hands over single sentences already).

Text that arrives in pieces (words as the model writes them, :func:`normalize_pieces`) gets the
same rules piece by piece, the language decided once for the whole stream; a trailing word with a
digit waits for the next piece, because "3" may still become "3.14" or "3%".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["chinese_number", "english_number", "normalize_pieces", "normalize_text"]

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ZH_DIGITS = "零一二三四五六七八九"
_CJK = re.compile(r"[\u3400-\u9fff]")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(\d+(?:,\d{3})*)(?:\.(\d+))?(%?)")
_MAX_PIECE_CHARS = {"en": 240, "zh": 80}
_BREAKS = re.compile(r"(?<=[.!?;。！？；])\s*")
_TRAILING_NUMBER = re.compile(r"\s*\S*\d\S*$")  # the last word (and its space), if it holds a digit


def english_number(integer: int) -> str:
    """0 -> "zero", 1234 -> "one thousand two hundred thirty-four"."""
    if integer < 20:
        return _ONES[integer]
    if integer < 100:
        tens, ones = divmod(integer, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if integer < 1000:
        hundreds, rest = divmod(integer, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {english_number(rest)}" if rest else "")
    for scale, word in _SCALES:
        if integer >= scale:
            high, rest = divmod(integer, scale)
            return f"{english_number(high)} {word}" + (f" {english_number(rest)}" if rest else "")
    raise AssertionError("unreachable")


def chinese_number(integer: int) -> str:
    """Values below 10^12 read as numbers (1205 -> 一千二百零五), longer ones digit by digit."""
    if integer >= 10**12:
        return "".join(_ZH_DIGITS[int(d)] for d in str(integer))
    if integer == 0:
        return "零"
    groups = []
    for unit in ("亿", "万", ""):
        size = {"亿": 10**8, "万": 10**4, "": 1}[unit]
        value, integer = divmod(integer, size)
        groups.append((value, unit))
    out, pending_zero = "", False
    for value, unit in groups:
        if value == 0:
            pending_zero = bool(out)
            continue
        text = _chinese_below_10000(value)
        if out and (pending_zero or value < 1000):
            out += "零"
        out += text + unit
        pending_zero = False
    return "十" + out[2:] if out.startswith("一十") and len(out) <= 3 else out  # 15 -> 十五, not 一十五


def _chinese_below_10000(value: int) -> str:
    out, zero = "", False
    for size, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, value = divmod(value, size)
        if digit:
            out += ("零" if zero and out else "") + _ZH_DIGITS[digit] + unit
            zero = False
        else:
            zero = True
    return out


def _numbers(text: str, chinese: bool) -> str:
    def spell(match: re.Match[str]) -> str:
        integer = int(match.group(1).replace(",", ""))
        decimals, percent = match.group(2), match.group(3)
        if chinese:
            words = chinese_number(integer)
            if decimals:
                words += "点" + "".join(_ZH_DIGITS[int(d)] for d in decimals)
            return ("百分之" + words) if percent else words
        words = english_number(integer)
        if decimals:
            words += " point " + " ".join(_ONES[int(d)] for d in decimals)
        return words + (" percent" if percent else "")

    return _NUMBER.sub(spell, text)


def normalize_text(text: str, chinese: bool | None = None) -> list[str]:
    """Pieces ready for the tokenizer; empty when nothing speakable is left. ``chinese``: read
    numbers and punctuation as Chinese (None: when the text has a Han character)."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    chinese = bool(_CJK.search(text)) if chinese is None else chinese
    text = _numbers(text, chinese)
    if chinese:
        text = re.sub(r"(?<=[\u3400-\u9fff])\.", "。", text)
        text = re.sub(r"[()（）【】\[\]「」《》]", "", text)
        text = text.replace(" ", "") if not re.search(r"[A-Za-z]", text) else text
    else:
        text = text.replace("&", " and ").replace("+", " plus ").replace("=", " equals ")
        text = re.sub(r"\s+", " ", text).strip()
    limit = _MAX_PIECE_CHARS["zh" if chinese else "en"]
    pieces: list[str] = []
    for sentence in (s for s in _BREAKS.split(text) if s.strip()):
        if pieces and len(pieces[-1]) + len(sentence) < limit:
            pieces[-1] = f"{pieces[-1]} {sentence}" if not chinese else pieces[-1] + sentence
        else:
            pieces.append(sentence)
    return [p.strip() for p in pieces if re.search(r"\w", p)]


def normalize_pieces(pieces: Iterable[str]) -> Iterator[str]:
    """Streamed text (pieces with their leading white space) -> normalised pieces for the LM.

    A piece's words keep their leading space (the tokenizer reads " word" as upstream's LLM
    deltas give it); a trailing word that holds a digit is kept back until the next piece.
    """
    held = ""
    chinese: bool | None = None
    for piece in pieces:
        text = held + piece
        number = _TRAILING_NUMBER.search(text)
        cut = number.start() if number else len(text)
        ready, held = text[:cut], text[cut:]
        chinese = chinese or bool(_CJK.search(ready)) or None
        if out := _normalize_piece(ready, bool(chinese)):
            yield out
    if out := _normalize_piece(held, bool(chinese or _CJK.search(held))):
        yield out


def _normalize_piece(text: str, chinese: bool) -> str:
    joined = ("" if chinese else " ").join(normalize_text(text, chinese))
    return " " + joined if joined and text[:1].isspace() and not chinese else joined
