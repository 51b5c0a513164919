"""The device lists the window offers (microphones, speakers, cameras, monitors).

Enumeration is capture's job (``ola_core.capture.devices``); this only turns the results into
``(value, text)`` pairs for combo boxes, and never raises: a missing audio system or display
just gives an empty list. Probing cameras can take a second each, so the window calls
:func:`collect` on a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ola_core.capture import devices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceLists:
    microphone: list[tuple[Any, str]] = field(default_factory=list)
    speaker: list[tuple[Any, str]] = field(default_factory=list)
    camera: list[tuple[Any, str]] = field(default_factory=list)
    monitor: list[tuple[Any, str]] = field(default_factory=list)
    voice: list[tuple[Any, str]] = field(default_factory=list)  # speech engines, unusable ones say why


def _safe(probe: Callable[[], list[tuple[Any, str]]], what: str) -> list[tuple[Any, str]]:
    try:
        return probe()
    except Exception as error:  # a broken driver must not stop the window
        log.warning("listing %s failed: %s", what, error)
        return []


def collect() -> DeviceLists:
    return DeviceLists(
        microphone=_safe(
            lambda: [(d.name, d.description) for d in devices.list_microphones()], "microphones"
        ),
        speaker=_safe(lambda: [(d.name, d.description) for d in devices.list_speakers()], "speakers"),
        camera=_safe(
            lambda: [(c.index, f"{c.name} ({c.width}×{c.height})") for c in devices.list_cameras()], "cameras"
        ),
        monitor=_safe(
            lambda: [
                (m.index, f"Screen {m.index} ({m.width}×{m.height})")
                for m in devices.list_monitors()
                if m.index > 0
            ],
            "monitors",
        ),
        voice=_safe(_voices, "voices"),
    )


def _voices() -> list[tuple[Any, str]]:
    from ola_core.speech.selection import list_voices

    return [
        (name, name if reason is None else f"{name} (unavailable: {reason})")
        for entry, name, reason in list_voices()
        if entry is not None
    ]
