"""Getting the model files: file by file through ``hf_hub_download``, resumable and cancellable.

A file already complete in the cache is never fetched again, so an interrupted or cancelled
download resumes with the first unfinished file (huggingface_hub discards a partial file when its
process stops; within one run it resumes a dropped connection itself). The first-run setup dialog
runs :class:`Downloader` in a worker thread and shows its :class:`DownloadProgress` reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import huggingface_hub
from tqdm.std import tqdm

from ola_core.errors import OlaError
from ola_core.model.locator import (
    OLA_REPO,
    SPEECH_ENCODER_FILES,
    SPEECH_ENCODERS_REPO,
    WHISPER_TOKENIZER_FILE,
    WHISPER_TOKENIZER_REPO,
)
from ola_core.model_store.locating import ModelFiles, find_in_hf_cache
from ola_core.speech.cosyvoice.files import COSYVOICE_REPO, is_needed_file

log = logging.getLogger(__name__)

# Files of the Ola-7b repository the app needs; the rest (the encoder copies, speech_projector.bin
# used only by the authors' model_base path, READMEs) is left on the hub.
_OLA_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".py")
_OLA_SKIP = frozenset({*SPEECH_ENCODER_FILES, "speech_projector.bin"})


class DownloadCancelled(OlaError):
    """The user cancelled the download; finished files are kept and the next run resumes."""


class DownloadError(OlaError):
    """The hub could not be reached or refused a file; the message says what to try."""


@dataclass(frozen=True)
class RemoteFile:
    repo_id: str
    filename: str
    size: int  # bytes; 0 when the hub did not say


@dataclass(frozen=True)
class DownloadProgress:
    """One report: overall bytes, the file in flight, and the speed over the last seconds."""

    done_bytes: int
    total_bytes: int
    file: str
    files_done: int
    files_total: int
    bytes_per_s: float

    @property
    def fraction(self) -> float:
        return self.done_bytes / self.total_bytes if self.total_bytes else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.bytes_per_s <= 0:
            return None
        return max(0.0, (self.total_bytes - self.done_bytes) / self.bytes_per_s)


def wanted_files(repo_id: str, names: Iterable[tuple[str, int]]) -> list[RemoteFile]:
    """The files of ``repo_id`` the app needs, from the hub's listing ``(path, size)``."""
    out = []
    for name, size in names:
        if repo_id == OLA_REPO and (name in _OLA_SKIP or not name.endswith(_OLA_SUFFIXES)):
            continue
        if repo_id == SPEECH_ENCODERS_REPO and name not in SPEECH_ENCODER_FILES:
            continue
        if repo_id == WHISPER_TOKENIZER_REPO and name != WHISPER_TOKENIZER_FILE:  # captions' vocabulary only
            continue
        if repo_id == COSYVOICE_REPO and not is_needed_file(name):  # ≈1 GB of it is never read
            continue
        out.append(RemoteFile(repo_id, name, size))
    return out


@dataclass
class _Meter:
    """Bytes of the file in flight (several bars may report the same file) and a speed window."""

    base: int = 0  # bytes of finished files
    current: dict[int, int] = field(default_factory=dict)  # bar id -> bytes seen
    window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=50))

    def done(self) -> int:
        return self.base + max(self.current.values(), default=0)

    def speed(self, now: float) -> float:
        self.window.append((now, self.done()))
        t0, b0 = self.window[0]
        return (self.window[-1][1] - b0) / (now - t0) if now - t0 > 0.2 else 0.0


class Downloader:
    """Fetches the missing files into the HF cache, reporting progress; cancellable from any thread.

    ``run()`` blocks (call it from a worker thread); ``progress`` is called from that thread (and
    from huggingface_hub's), at most every ``report_every_s``. ``cancel()`` makes ``run()`` raise
    :class:`DownloadCancelled` within one network chunk.
    """

    def __init__(
        self,
        *,
        with_cosyvoice: bool = False,
        cache_dir: Path | None = None,
        progress: Callable[[DownloadProgress], None] | None = None,
        report_every_s: float = 0.2,
    ) -> None:
        self.repos = [OLA_REPO, SPEECH_ENCODERS_REPO, WHISPER_TOKENIZER_REPO]
        self.repos += [COSYVOICE_REPO] if with_cosyvoice else []
        self.cache_dir = cache_dir
        self._progress = progress
        self._report_every_s = report_every_s
        self._cancel = threading.Event()
        self._meter = _Meter()
        self._last_report = 0.0
        self._file = ""
        self._files_done = 0
        self._plan: list[RemoteFile] = []

    def cancel(self) -> None:
        self._cancel.set()

    def plan(self) -> list[RemoteFile]:
        """Every needed file with its size (one listing request per repository)."""
        api = huggingface_hub.HfApi()
        files: list[RemoteFile] = []
        try:
            for repo in self.repos:
                listing = api.list_repo_tree(repo, recursive=True)
                entries = [
                    (e.path, int(getattr(e, "size", 0) or 0))
                    for e in listing
                    if isinstance(e, huggingface_hub.RepoFile)
                ]
                files += wanted_files(repo, entries)
        except Exception as error:  # httpx / hub errors of every kind: one message for people
            log.warning("listing the model repositories failed: %r", error)
            raise DownloadError(_network_message(error)) from error
        return files

    def missing(self, files: list[RemoteFile]) -> list[RemoteFile]:
        return [
            f
            for f in files
            if not isinstance(
                huggingface_hub.try_to_load_from_cache(f.repo_id, f.filename, cache_dir=self.cache_dir), str
            )
        ]

    def run(self) -> ModelFiles:
        self._plan = self.plan()
        todo = self.missing(self._plan)
        already = sum(f.size for f in self._plan if f not in todo)
        self._meter = _Meter(base=already)
        self._files_done = len(self._plan) - len(todo)
        log.info("download: %d of %d files missing", len(todo), len(self._plan))
        bar_class = self._bar_class()
        for remote in todo:
            self._check_cancel()
            self._file = f"{remote.repo_id}/{remote.filename}"
            self._meter.current.clear()
            self._report(force=True)
            try:
                huggingface_hub.hf_hub_download(
                    remote.repo_id, remote.filename, cache_dir=self.cache_dir, tqdm_class=bar_class
                )
            except DownloadCancelled:
                raise
            except Exception as error:
                log.warning("downloading %s failed: %r", remote.filename, error)
                if self._cancel.is_set():
                    raise DownloadCancelled("Download cancelled; finished files are kept.") from error
                raise DownloadError(_network_message(error, remote.filename)) from error
            self._meter.base += remote.size or max(self._meter.current.values(), default=0)
            self._meter.current.clear()
            self._files_done += 1
        self._file = ""
        self._report(force=True)
        found = find_in_hf_cache(self.cache_dir)
        if found is None:
            raise DownloadError("The download finished but the model files are incomplete; run it again.")
        return found

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise DownloadCancelled("Download cancelled; finished files are kept and the next run resumes.")

    def _on_bytes(self, bar_id: int, n: int) -> None:
        self._check_cancel()
        self._meter.current[bar_id] = n
        self._report()

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._progress is None or (not force and now - self._last_report < self._report_every_s):
            return
        self._last_report = now
        self._progress(
            DownloadProgress(
                done_bytes=self._meter.done(),
                total_bytes=sum(f.size for f in self._plan),
                file=self._file,
                files_done=self._files_done,
                files_total=len(self._plan),
                bytes_per_s=self._meter.speed(now),
            )
        )

    def _bar_class(self) -> type[Any]:
        """A silent tqdm that forwards each bar's byte count here (and raises when cancelled)."""
        downloader = self

        class _Bar(tqdm):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["disable"] = True  # draw nothing; tqdm still keeps n, total and postfix calls
                super().__init__(*args, **kwargs)
                downloader._on_bytes(id(self), int(self.n))

            def update(self, n: float | None = 1) -> bool | None:
                self.n += n or 0
                downloader._on_bytes(id(self), int(self.n))
                return True

        return _Bar


def _network_message(error: BaseException, filename: str | None = None) -> str:
    what = f" while fetching {filename}" if filename else ""
    if isinstance(error, huggingface_hub.errors.OfflineModeIsEnabled):
        return f"Offline mode is on (HF_HUB_OFFLINE){what}: unset it to download, or choose a model folder."
    if isinstance(
        error, huggingface_hub.errors.GatedRepoError | huggingface_hub.errors.RepositoryNotFoundError
    ):
        return f"The hub refused access{what}: log in with `hf auth login` and retry."
    if isinstance(error, OSError) and "space" in str(error).lower():
        return f"Not enough disk space{what}: free some space or choose another folder."
    return f"Could not reach huggingface.co{what} ({type(error).__name__}). Check the connection and retry; finished files are kept."
