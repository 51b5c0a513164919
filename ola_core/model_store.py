"""Where the model files are, getting them when they are not, and what this machine can run.

The first-run setup dialog and ``ola-assistant download`` share this module, so everything here
is plain Python (no Qt): the dialog runs :class:`Downloader` in a worker thread and shows its
:class:`DownloadProgress` reports.

Three sets of files make the assistant (see docs/ARCHITECTURE.md, "Model files"):

* ``THUdyh/Ola-7b``: config, tokenizer and the safetensors shards. The encoder ``.pt`` files the
  hub's main branch later added to this repository are skipped: they come from
* ``THUdyh/Ola_speech_encoders``: ``large-v3.pt`` (Whisper) and the BEATs checkpoint;
* ``FunAudioLLM/CosyVoice2-0.5B`` (optional): the speech-output model directory.

Files are found in a folder the user names, in a folder holding ``Ola-7b/`` and
``Ola_speech_encoders/`` side by side, or in huggingface_hub's cache. Downloads go file by file
through ``hf_hub_download``: a file already complete in the cache is never fetched again, so an
interrupted or cancelled download resumes with the first unfinished file (huggingface_hub discards
a partial file when its process stops; within one run it resumes a dropped connection itself).

Without a CUDA GPU the real model runs on the CPU, far too slowly to talk to; the setup then
offers the *interface-test model*: a tiny checkpoint with random weights written by
``ola_core.model.tiny``, which answers gibberish but exercises every part of the app. It is
marked by :data:`TEST_MODEL_MARKER` in its folder and labelled as such wherever it appears.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import huggingface_hub
import platformdirs
from tqdm.std import tqdm

from ola_core.errors import OlaError
from ola_core.settings import Quantization

log = logging.getLogger(__name__)

OLA_REPO = "THUdyh/Ola-7b"
SPEECH_ENCODERS_REPO = "THUdyh/Ola_speech_encoders"
COSYVOICE_REPO = "FunAudioLLM/CosyVoice2-0.5B"
WHISPER_FILE = "large-v3.pt"
BEATS_FILE = "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
SPEECH_ENCODER_FILES = (WHISPER_FILE, BEATS_FILE)
COSYVOICE_CONFIG = "cosyvoice2.yaml"  # its presence marks a CosyVoice2 snapshot in the HF cache
TEST_MODEL_MARKER = "OLA_INTERFACE_TEST_MODEL.txt"
TEST_MODEL_LABEL = "Interface-test model (tiny, random weights — answers are gibberish)"

# Files of the Ola-7b repository the app needs; the rest (the encoder copies, speech_projector.bin
# used only by the authors' model_base path, READMEs) is left on the hub.
_OLA_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".py")
_OLA_SKIP = frozenset({*SPEECH_ENCODER_FILES, "speech_projector.bin"})

Source = Literal["folder", "hf-cache", "test-model"]


class DownloadCancelled(OlaError):
    """The user cancelled the download; finished files are kept and the next run resumes."""


class DownloadError(OlaError):
    """The hub could not be reached or refused a file; the message says what to try."""


# --- finding files -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelFiles:
    """A complete set of files the engine can load."""

    ola_dir: Path  # config.json, tokenizer, safetensors
    speech_encoders_dir: Path  # large-v3.pt and the BEATs checkpoint
    cosyvoice_dir: Path | None  # None: the app speaks with the offline fallback voice
    source: Source
    is_test_model: bool = False

    @property
    def label(self) -> str:
        """How the UI names this model (the test model is never shown as the real one)."""
        return TEST_MODEL_LABEL if self.is_test_model else f"Ola-7B ({self.ola_dir})"


def ola_dir_problems(path: Path) -> list[str]:
    """What is missing from an Ola checkpoint folder (empty list: complete).

    Checks presence only (not contents): the loader validates the tensors themselves. Sharded
    checkpoints must have every shard the index names, which catches a half-finished download.
    """
    if not path.is_dir():
        return [f"{path} is not a folder"]
    problems = []
    if not (path / "config.json").is_file():
        problems.append("config.json")
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError, TypeError):
            problems.append(f"{index.name} (unreadable)")
            shards = set()
        problems += sorted(s for s in shards if not (path / s).is_file())
    elif not (path / "model.safetensors").is_file():
        problems.append("model.safetensors (or a sharded index)")
    has_tokenizer = (path / "tokenizer.json").is_file() or (
        (path / "vocab.json").is_file() and (path / "merges.txt").is_file()
    )
    if not has_tokenizer:
        problems.append("tokenizer.json")
    return problems


def _has_speech_encoders(path: Path) -> bool:
    return all((path / name).is_file() for name in SPEECH_ENCODER_FILES)


def _has_cosyvoice(path: Path) -> bool:
    from ola_core.speech.cosyvoice.loading import missing_files  # torch: only when asked

    return path.is_dir() and not missing_files(path)


def is_test_model(path: Path) -> bool:
    return (path / TEST_MODEL_MARKER).is_file()


def find_in_folder(folder: Path) -> ModelFiles | None:
    """A complete set under ``folder``: the Ola folder itself, or ``Ola-7b/`` + ``Ola_speech_encoders/`` in it."""
    folder = folder.expanduser()
    layouts = [
        (folder, folder, folder / "CosyVoice2-0.5B"),
        (folder / "Ola-7b", folder / "Ola_speech_encoders", folder / "CosyVoice2-0.5B"),
        (folder, folder.parent / "Ola_speech_encoders", folder.parent / "CosyVoice2-0.5B"),
    ]
    for ola, speech, cosy in layouts:
        if not ola_dir_problems(ola) and _has_speech_encoders(speech):
            return ModelFiles(
                ola_dir=ola,
                speech_encoders_dir=speech,
                cosyvoice_dir=cosy if _has_cosyvoice(cosy) else None,
                source="folder",
                is_test_model=is_test_model(ola),
            )
    return None


def _cached_snapshot(repo_id: str, probe: str, cache_dir: Path | None) -> Path | None:
    """The snapshot folder of ``repo_id`` in the HF cache that holds ``probe``, if any (no network)."""
    found = huggingface_hub.try_to_load_from_cache(repo_id, probe, cache_dir=cache_dir)
    return Path(found).parent if isinstance(found, str) else None


def find_in_hf_cache(cache_dir: Path | None = None) -> ModelFiles | None:
    """A complete set in huggingface_hub's cache (the default cache unless ``cache_dir``)."""
    ola = _cached_snapshot(OLA_REPO, "config.json", cache_dir)
    speech = _cached_snapshot(SPEECH_ENCODERS_REPO, WHISPER_FILE, cache_dir)
    if ola is None or speech is None or ola_dir_problems(ola) or not _has_speech_encoders(speech):
        return None
    cosy = _cached_snapshot(COSYVOICE_REPO, COSYVOICE_CONFIG, cache_dir)
    return ModelFiles(
        ola_dir=ola,
        speech_encoders_dir=speech,
        cosyvoice_dir=cosy if cosy is not None and _has_cosyvoice(cosy) else None,
        source="hf-cache",
    )


def cached_repos(cache_dir: Path | None = None) -> dict[str, int]:
    """Bytes on disk per known repository in the HF cache (for the About dialog and the setup)."""
    try:
        info = huggingface_hub.scan_cache_dir(cache_dir)
    except huggingface_hub.CacheNotFound:
        return {}
    known = {OLA_REPO, SPEECH_ENCODERS_REPO, COSYVOICE_REPO}
    return {r.repo_id: r.size_on_disk for r in info.repos if r.repo_id in known}


def default_test_model_dir() -> Path:
    return Path(platformdirs.user_data_dir("ola-assistant", "Ola")) / "interface-test-model"


def find_model_files(folder: Path | None = None, cache_dir: Path | None = None) -> ModelFiles | None:
    """The model to use: the user's folder first, then the HF cache; None when nothing is complete.

    Without ``folder``, the folder the settings name is used: the model the first-run setup
    installed, the interface-test model included, so ``ask`` finds what the GUI uses. The
    interface-test model is found only when a folder points at it: it is never picked
    behind the user's back.
    """
    if folder is None:
        from ola_core.settings import load_settings

        configured = load_settings()[0].model.model_dir
        folder = Path(configured) if configured else None
    if folder is not None and (found := find_in_folder(folder)) is not None:
        return replace(found, source="test-model") if found.is_test_model else found
    return find_in_hf_cache(cache_dir)


def refuse_non_empty(folder: Path, force: bool) -> None:
    """An :class:`OlaError` when ``folder`` holds anything and ``force`` is off.

    Writing a test model over a folder replaces its weights: a real model would be lost.
    """
    folder = folder.expanduser()
    if force or not folder.exists():
        return
    if not folder.is_dir():
        raise OlaError(f"{folder} is a file, not a folder. Choose another place.")
    if any(folder.iterdir()):
        raise OlaError(
            f"{folder} is not empty; writing there would replace its files. Add --force to do it anyway."
        )


def write_test_model(folder: Path | None = None) -> ModelFiles:
    """Write the interface-test model (tiny random weights) and return it, marked and labelled."""
    from ola_core.model.tiny import write_tiny_checkpoint

    folder = (folder or default_test_model_dir()).expanduser()
    found = find_in_folder(folder)
    if found is None or not found.is_test_model:
        checkpoint = write_tiny_checkpoint(folder)
        (checkpoint.model_dir / TEST_MODEL_MARKER).write_text(
            "This folder holds the Ola Assistant interface-test model: a tiny network with random\n"
            "weights. It lets the app run on any machine; its answers are meaningless.\n"
        )
    found = find_in_folder(folder)
    if found is None:
        raise OlaError(f"The interface-test model in {folder} is incomplete; delete the folder and retry.")
    return replace(found, source="test-model", is_test_model=True)


# --- the machine -------------------------------------------------------------------------------
# Weights in GB (docs/official-ola.md §5.2: LLM layers quantized, embeddings/lm_head/encoders in bf16).
WEIGHTS_GB: dict[Quantization, float] = {"nf4": 8.2, "int8": 11.5, "none": 17.8}  # none = bf16
# Beyond the weights: CUDA context, KV cache of a long turn, activations; CosyVoice2 when used.
RUNTIME_OVERHEAD_GB = 2.0
COSYVOICE_GB = 1.5


@dataclass(frozen=True)
class Hardware:
    cuda: bool
    gpu_name: str | None = None
    total_gb: float = 0.0
    free_gb: float = 0.0


@dataclass(frozen=True)
class Recommendation:
    """What setup proposes for this machine, with the reasons it shows to the user."""

    device: Literal["cuda", "cpu"]
    quantization: Quantization
    footprint_gb: float  # estimated GPU memory in use while answering
    fits: bool
    message: str
    offer_test_model: bool


def detect_hardware() -> Hardware:
    """GPU name and memory; never raises (a broken driver reads as "no GPU")."""
    try:
        import torch

        if not torch.cuda.is_available():
            return Hardware(cuda=False)
        free, total = torch.cuda.mem_get_info()
        return Hardware(True, torch.cuda.get_device_name(0), total / 1e9, free / 1e9)
    except Exception as error:  # a CUDA init failure must not stop the setup dialog
        log.warning("GPU check failed: %s", error)
        return Hardware(cuda=False)


def cpu_ram_gb() -> float:
    """RAM Ola-7B needs on the CPU (bf16): the one figure every screen and command shows.

    The voice is not counted: on the CPU the choice of voice is the user's later, and counting
    it made the command line (no CosyVoice) and the setup dialog (CosyVoice) disagree.
    """
    return footprint_gb("none", with_cosyvoice=False)


def footprint_gb(quantization: Quantization, with_cosyvoice: bool = True) -> float:
    return WEIGHTS_GB[quantization] + RUNTIME_OVERHEAD_GB + (COSYVOICE_GB if with_cosyvoice else 0.0)


def recommend(hardware: Hardware, with_cosyvoice: bool = True) -> Recommendation:
    """NF4 by default; bf16 only where it fits with room to spare (it is faster than bnb 4-bit)."""
    if not hardware.cuda:
        need = cpu_ram_gb()
        return Recommendation(
            device="cpu",
            quantization="none",
            footprint_gb=need,
            fits=False,
            message=(
                "No CUDA GPU found. Ola-7B would run on the CPU: it needs about "
                f"{need:.0f} GB of RAM and takes minutes per answer, too slow for a conversation. "
                "You can still try the whole app with the interface-test model (tiny, random weights)."
            ),
            offer_test_model=True,
        )
    gpu = f"{hardware.gpu_name} ({hardware.free_gb:.1f} of {hardware.total_gb:.1f} GB free)"
    bf16 = footprint_gb("none", with_cosyvoice)
    if hardware.free_gb >= bf16 + 2.0:
        return Recommendation(
            "cuda", "none", bf16, True, f"{gpu}: full precision (bf16) fits, ≈ {bf16:.0f} GB.", False
        )
    nf4 = footprint_gb("nf4", with_cosyvoice)
    if hardware.free_gb >= nf4:
        return Recommendation(
            "cuda", "nf4", nf4, True, f"{gpu}: 4-bit NF4 recommended, ≈ {nf4:.1f} GB.", False
        )
    return Recommendation(
        device="cuda",
        quantization="nf4",
        footprint_gb=nf4,
        fits=False,
        message=(
            f"{gpu}: even 4-bit NF4 needs ≈ {nf4:.1f} GB. Close other GPU programs, turn CosyVoice "
            "off (the fallback voice runs on the CPU) or lower the frames per turn."
        ),
        offer_test_model=True,
    )


# --- downloading -------------------------------------------------------------------------------
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


def cosyvoice_needs(name: str) -> bool:
    """Whether our CosyVoice runtime reads this file of its repository (≈1 GB of it it does not)."""
    from ola_core.speech.cosyvoice.loading import is_needed_file  # torch: only when asked

    return is_needed_file(name)


def wanted_files(repo_id: str, names: Iterable[tuple[str, int]]) -> list[RemoteFile]:
    """The files of ``repo_id`` the app needs, from the hub's listing ``(path, size)``."""
    out = []
    for name, size in names:
        if repo_id == OLA_REPO and (name in _OLA_SKIP or not name.endswith(_OLA_SUFFIXES)):
            continue
        if repo_id == SPEECH_ENCODERS_REPO and name not in SPEECH_ENCODER_FILES:
            continue
        if repo_id == COSYVOICE_REPO and not cosyvoice_needs(name):
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
        self.repos = [OLA_REPO, SPEECH_ENCODERS_REPO] + ([COSYVOICE_REPO] if with_cosyvoice else [])
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
