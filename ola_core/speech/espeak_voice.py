"""The any-language fallback voice: the espeak-ng program, run as a subprocess.

Why: Ola answers in Chinese as readily as in English, and no Chinese neural voice is available
without a model download. espeak-ng (GPL-3.0, Debian ``espeak-ng``; also packaged for macOS and
Windows) speaks ~100 languages including Mandarin (``cmn``), needs no model files, and is far
faster than real time even counting process start (benchmarks/RESULTS.md "Speech"). It sounds
robotic, so it is used only for languages the better voices lack.

A subprocess instead of libespeak-ng via ctypes: the library keeps global state (one voice at a
time, a callback API that must not be re-entered), the program is a clean unit we can kill on
barge-in, and its raw output streams while it is still synthesizing.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import numpy as np

from ola_core.cancel import CancelToken
from ola_core.errors import SynthesisError
from ola_core.platform_info import windows_program_dirs
from ola_core.speech.language import detect_language
from ola_core.speech.synthesizer import Synthesizer

__all__ = ["EspeakSynthesizer"]

# Our language codes -> espeak-ng voice names (espeak-ng --voices lists them all).
LANGUAGE_VOICES: dict[str, str] = {
    "en": "en-us",
    "zh": "cmn",
    "yue": "yue",
    "ja": "ja",
    "ko": "ko",
    "ru": "ru",
    "ar": "ar",
    "el": "el",
    "hi": "hi",
    "th": "th",
    "fr": "fr",
    "de": "de",
    "es": "es",
    "it": "it",
    "pt": "pt",
}
_HEADER_BYTES = 44  # canonical RIFF/WAVE header of `espeak-ng --stdout`
_READ_BYTES = 4096  # ~93 ms of 22.05 kHz int16: small enough to start playback early


# Where installers put the program when it is not on PATH: the Windows MSI (per bitness) and
# Homebrew, whose bin folders an app started from Finder or the Dock does not have on its PATH.
_WINDOWS_FOLDER = "eSpeak NG"
_MACOS_DIRS = ("/opt/homebrew/bin", "/usr/local/bin", "/opt/local/bin")
_NO_CONSOLE = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # Windows: no console window flashes up
INSTALL_HINTS: dict[str, str] = {
    "win32": "install espeak-ng-X64.msi from https://github.com/espeak-ng/espeak-ng/releases "
    r"(it goes into C:\Program Files\eSpeak NG)",
    "darwin": "install it with Homebrew: brew install espeak-ng",
    "linux": "Debian/Ubuntu: apt install espeak-ng; Fedora: dnf install espeak-ng",
}


def _program() -> str | None:
    """The espeak-ng program: on PATH, else in its platform's install folder."""
    found = shutil.which("espeak-ng") or shutil.which("espeak")
    if found:
        return found
    candidates: list[Path] = []
    if sys.platform == "win32":
        candidates = [d / _WINDOWS_FOLDER / "espeak-ng.exe" for d in windows_program_dirs()]
    elif sys.platform == "darwin":
        candidates = [Path(d) / "espeak-ng" for d in _MACOS_DIRS]
    return next((str(c) for c in candidates if c.is_file()), None)


class EspeakSynthesizer(Synthesizer):
    """Any-language speech from espeak-ng; the voice is chosen from the sentence's language."""

    name = "espeak-ng"
    sample_rate = 22_050  # espeak-ng's fixed output rate
    languages = frozenset(LANGUAGE_VOICES)

    def __init__(self, words_per_minute: int = 165) -> None:
        self.words_per_minute = words_per_minute

    @staticmethod
    def unavailable_reason() -> str | None:
        if _program() is None:
            hint = INSTALL_HINTS.get(sys.platform, INSTALL_HINTS["linux"])
            return f"the espeak-ng program is not installed ({hint})"
        return None

    def voices(self) -> tuple[str, ...]:
        return tuple(sorted(set(LANGUAGE_VOICES.values())))

    def warm_up(self) -> None:
        for _ in self.synthesize("ok"):  # loads the program and its data into the page cache
            pass

    def synthesize(
        self, text: str, voice: str | None = None, cancel: CancelToken | None = None
    ) -> Iterator[np.ndarray]:
        """``voice``: an espeak-ng voice name; else the one for the language ``text`` is written in."""
        token = cancel or CancelToken()
        program = _program()
        if program is None:
            raise SynthesisError(f"Cannot speak: {self.unavailable_reason()}.")
        name = voice or LANGUAGE_VOICES.get(detect_language(text), "en-us")
        # -b 1: the text is UTF-8 (Windows would read the ANSI code page otherwise).
        command = [program, "--stdout", "-b", "1", "-v", name, "-s", str(self.words_per_minute)]
        # The text goes through stdin, never the command line: it cannot be mistaken for an option.
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            creationflags=_NO_CONSOLE,
        )
        stop = token.on_cancel(lambda _: process.kill())  # a barge-in kills it at once
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(text.encode("utf-8"))
            process.stdin.close()
            header = process.stdout.read(_HEADER_BYTES)
            if len(header) == _HEADER_BYTES and struct.unpack("<I", header[24:28])[0] != self.sample_rate:
                raise SynthesisError("espeak-ng produced an unexpected sample rate; reinstall espeak-ng.")
            stdout = cast(io.BufferedReader, process.stdout)
            carry = b""
            while not token.is_set():
                block = stdout.read1(_READ_BYTES)
                if not block:
                    break
                data, carry = carry + block, b""
                if len(data) % 2:  # int16 samples may straddle two reads
                    data, carry = data[:-1], data[-1:]
                yield (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0)  # (n,) 22.05 kHz
            if process.wait() != 0 and not token.is_set():
                error = process.stderr.read().decode("utf-8", "replace").strip() if process.stderr else ""
                raise SynthesisError(f"espeak-ng failed with voice {name!r}: {error or 'no message'}")
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
            stop()
