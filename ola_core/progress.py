"""One line of download progress, shared by the CLI's refreshed stderr line and the setup dialog.

A base module: it imports nothing of ours, so the GUI can format progress without importing
the CLI. It reads the report through :class:`DownloadReport`, the shape of
:class:`ola_core.model_store.DownloadProgress`, instead of importing the model store.
"""

from __future__ import annotations

from typing import Protocol


class DownloadReport(Protocol):
    """What :func:`format_progress` reads from a download progress report."""

    @property
    def done_bytes(self) -> int: ...
    @property
    def total_bytes(self) -> int: ...
    @property
    def file(self) -> str: ...
    @property
    def files_done(self) -> int: ...
    @property
    def files_total(self) -> int: ...
    @property
    def bytes_per_s(self) -> float: ...
    @property
    def fraction(self) -> float: ...
    @property
    def eta_s(self) -> float | None: ...


def _human_bytes(n: float) -> str:
    """``999 B``, ``1.5 kB``, ``21.3 GB``: decimal units, as download sizes are usually given."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def format_progress(p: DownloadReport) -> str:
    """One status line: percentage, bytes, speed, ETA and the file in flight."""
    eta = f", {p.eta_s / 60:.0f} min left" if p.eta_s is not None and p.done_bytes < p.total_bytes else ""
    speed = f" at {_human_bytes(p.bytes_per_s)}/s" if p.bytes_per_s > 0 else ""
    return (
        f"{p.fraction:6.1%}  {_human_bytes(p.done_bytes)} of {_human_bytes(p.total_bytes)}{speed}{eta}"
        f"  [{p.files_done}/{p.files_total}] {p.file}"
    )
