"""The one place where logging is configured (CLI and GUI call :func:`configure_logging`)."""

from __future__ import annotations

import logging

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
