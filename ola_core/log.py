"""The one place where logging is configured (CLI and GUI call :func:`configure_logging`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Any

LEVELS = ("debug", "info", "warning", "error")

# Libraries that log per call at INFO/WARNING and drown our own messages.
_NOISY = {"bitsandbytes": logging.ERROR, "httpx": logging.WARNING, "urllib3": logging.WARNING}


def configure_logging(level: str = "warning") -> None:
    """Configure the root logger once; later calls only change the level."""
    numeric = getattr(logging, level.upper(), None)
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; choose one of {', '.join(LEVELS)}")
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(numeric)
    for name, floor in _NOISY.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    route_alsa_messages()


# ALSA's error handler: void (*)(const char *file, int line, const char *function, int err,
# const char *fmt, ...). The variadic tail is not read (the format is logged unexpanded).
_ALSA_HANDLER = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)
_alsa_handler: Any = None  # kept alive: ALSA holds only the C pointer


def _alsa_message(file: bytes | None, line: int, function: bytes | None, err: int, fmt: bytes | None) -> None:
    logging.getLogger("alsa").debug(
        "%s:%d %s: %s (%d)",
        (file or b"").decode(errors="replace"),
        line,
        (function or b"").decode(errors="replace"),
        (fmt or b"").decode(errors="replace"),
        err,
    )


def route_alsa_messages() -> None:
    """Send libasound's messages ("underrun occurred", …) to the log instead of the terminal.

    ALSA writes them straight to stderr, where they broke into answers ``chat`` was printing;
    at debug level they are still there for whoever looks for them.
    """
    global _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    try:
        library = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
    except OSError:
        return  # no ALSA on this system: nothing to quiet
    _alsa_handler = _ALSA_HANDLER(_alsa_message)
    library.snd_lib_error_set_handler(_alsa_handler)
