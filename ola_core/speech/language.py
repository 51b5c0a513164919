"""Which language a sentence is in, from its script alone: enough to route it to a voice.

A full language identifier would need a model; routing needs less. Ola mostly answers in
English or Chinese, and the script tells those apart for free: Han characters mean Chinese
(unless kana appear, then Japanese), Hangul Korean, Cyrillic Russian, and so on. Latin script
is reported as English: the Latin-script voices we ship speak English, and a French sentence is
better read by them than not at all.
"""

from __future__ import annotations

__all__ = ["detect_language"]

# (first code point, last code point, language) for scripts that name a language by themselves.
_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x3040, 0x30FF, "ja"),  # hiragana, katakana
    (0x31F0, 0x31FF, "ja"),
    (0xAC00, 0xD7AF, "ko"),  # hangul syllables
    (0x1100, 0x11FF, "ko"),
    (0x0400, 0x04FF, "ru"),  # cyrillic
    (0x0600, 0x06FF, "ar"),
    (0x0370, 0x03FF, "el"),
    (0x0900, 0x097F, "hi"),  # devanagari
    (0x0E00, 0x0E7F, "th"),
)
_HAN = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF))


def detect_language(text: str) -> str:
    """An ISO 639-1 code: the language of the first decisive script in ``text``; "en" if none."""
    han = False
    for char in text:
        code = ord(char)
        for first, last, language in _SCRIPTS:
            if first <= code <= last:
                return language
        if any(first <= code <= last for first, last in _HAN):
            han = True
    return "zh" if han else "en"
