"""Whisper's vocabulary: caption ids → text, and the ids of non-speech symbols to suppress.

``large-v3.pt`` holds no vocabulary. The official ``tokenizer.json`` of ``openai/whisper-large-v3``
(downloaded with the model, see :mod:`ola_core.model.locator`) is Whisper's multilingual
byte-level BPE with the same ids as openai-whisper's tiktoken file, and loads with the
``tokenizers`` library offline. Special tokens (ids ≥ 50257) are computed from the checkpoint's
``n_vocab`` (:class:`~ola_core.model.whisper_decoder.WhisperSpecials`), never read from here.
:func:`write_tiny_whisper_tokenizer` writes a full-size, made-up vocabulary for tests.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from ola_core.errors import CorruptModelFileError
from ola_core.model.tokenizer_files import _bytes_to_unicode
from ola_core.model.whisper_decoder import TEXT_VOCAB

# openai-whisper's non-speech symbols (speaker tags, music notes, brackets): suppressed when they
# are one token, alone or after a space; the music symbols' first token in any case.
_SYMBOLS = [
    *'"#()*+/:;<=>@[\\]^_`{|}~「」『』',
    *[
        "<<",
        ">>",
        "<<<",
        ">>>",
        "--",
        "---",
        "-(",
        "-[",
        "('",
        '("',
        "((",
        "))",
        "(((",
        ")))",
        "[[",
        "]]",
        "{{",
        "}}",
        "♪♪",
        "♪♪♪",
    ],
]
_MUSIC = "♩♪♫♬♭♮♯"


class WhisperText:
    """Decodes caption ids with Whisper's ``tokenizer.json``."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer

    @classmethod
    def from_file(cls, path: Path) -> WhisperText:
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as error:  # tokenizers raises a bare Exception for bad JSON
            raise CorruptModelFileError(
                f"Whisper's tokenizer {path} cannot be read ({str(error)[:200]}): download it again."
            ) from error

    def decode(self, ids: tuple[int, ...] | list[int]) -> str:
        """The text of ``ids``; special and timestamp tokens (≥ 50257) are dropped."""
        return self._tokenizer.decode([i for i in ids if i < TEXT_VOCAB], skip_special_tokens=True).strip()

    def _encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def non_speech_ids(self) -> tuple[int, ...]:
        """openai-whisper's ``suppress_tokens="-1"`` set for this vocabulary (" -" and " '" included)."""
        result = {self._encode(" -")[0], self._encode(" '")[0]}
        for symbol in [*_SYMBOLS, *_MUSIC]:
            for ids in (self._encode(symbol), self._encode(" " + symbol)):
                if len(ids) == 1 or (ids and symbol in _MUSIC):
                    result.add(ids[0])
        return tuple(sorted(i for i in result if i < TEXT_VOCAB))


def _made_up_word(k: int) -> str:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    n = len(syllables)
    return syllables[k // (n * n) % n] + syllables[k // n % n] + syllables[k % n]


def write_tiny_whisper_tokenizer(path: Path) -> Path:
    """A ``tokenizer.json`` with Whisper's 50257 text ids: the 256 bytes, then made-up words.

    Captions of a random tiny Whisper then read as words ("bakuto fenira"), and every id a
    decoder can sample has a text; there are no merges, so encoding spells text byte by byte.
    """
    byte_chars = list(_bytes_to_unicode().values())
    vocab = {ch: i for i, ch in enumerate(byte_chars)}
    for i in range(len(byte_chars), TEXT_VOCAB):
        vocab["Ġ" + _made_up_word(i)] = i
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path
