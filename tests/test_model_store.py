"""Model files: finding them, the hardware advice, and the resumable download.

The hub is not reachable here, so the network boundary is replaced: ``HfApi.list_repo_tree``
(the listing) and ``huggingface_hub.hf_hub_download`` (one file) by fakes that write into a real
HF cache layout and drive the progress bar class exactly as huggingface_hub does. Everything
above that boundary — planning, skipping cached files, progress, speed, cancel, resume, finding
the result with ``try_to_load_from_cache`` — is our real code.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import huggingface_hub
import huggingface_hub.constants
import pytest

from ola_core import model_store
from ola_core.commands import download as download_cmd
from ola_core.model.locator import WHISPER_TOKENIZER_REPO

REVISION = "0123456789abcdef0123456789abcdef01234567"

# A plausible hub listing: (path, size). Sizes are small so the fake download is fast.
LISTINGS: dict[str, list[tuple[str, int]]] = {
    model_store.OLA_REPO: [
        ("config.json", 300),
        ("generation_config.json", 100),
        ("model-00001-of-00002.safetensors", 40_000),
        ("model-00002-of-00002.safetensors", 30_000),
        ("model.safetensors.index.json", 200),
        ("tokenizer.json", 5_000),
        ("tokenizer_config.json", 400),
        ("large-v3.pt", 50_000),  # the hub's later copy: must NOT be fetched from this repo
        ("speech_projector.bin", 9_000),
        ("README.md", 100),
    ],
    model_store.SPEECH_ENCODERS_REPO: [
        (model_store.WHISPER_FILE_NAME, 20_000),
        (model_store.BEATS_FILE_NAME, 10_000),
        ("README.md", 50),
    ],
    WHISPER_TOKENIZER_REPO: [  # Whisper's vocabulary, for captions: only tokenizer.json is fetched
        ("tokenizer.json", 2_000),
        ("model.safetensors", 90_000),
        ("vocab.json", 1_000),
    ],
}


class FakeHub:
    """Stands in for the two network calls; records what was fetched; can fail on demand."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.fetched: list[str] = []
        self.fail_on: str | None = None
        self.on_chunk: Any = None

    def list_repo_tree(self, repo_id: str, recursive: bool = False, **_: Any) -> list[Any]:
        return [huggingface_hub.RepoFile(path=p, size=s, oid="x", blob_id="x") for p, s in LISTINGS[repo_id]]

    def hf_hub_download(
        self, repo_id: str, filename: str, *, cache_dir: Path | None = None, tqdm_class: Any, **_: Any
    ) -> str:
        size = dict(LISTINGS[repo_id])[filename]
        root = (
            Path(cache_dir) if cache_dir else Path(huggingface_hub.constants.HF_HUB_CACHE)
        )  # the real default
        repo_dir = root / f"models--{repo_id.replace('/', '--')}"
        (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
        (repo_dir / "refs" / "main").write_text(REVISION)
        bar = tqdm_class(total=size, initial=0, desc=filename, unit="B")
        chunk = 4096
        for start in range(0, size, chunk):
            if self.fail_on == filename and start >= size // 2:
                raise ConnectionError("connection reset")
            bar.update(min(chunk, size - start))
            if self.on_chunk:
                self.on_chunk(filename)
        bar.close()
        target = repo_dir / "snapshots" / REVISION / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        if filename == "model.safetensors.index.json":
            shards = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
            target.write_text(json.dumps({"weight_map": shards}))
        else:
            target.write_bytes(b"\0" * size)
        self.fetched.append(f"{repo_id}/{filename}")
        return str(target)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    fake = FakeHub(tmp_path / "hf-cache")
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_tree", fake.list_repo_tree)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.hf_hub_download)
    return fake


def test_download_fetches_only_needed_files_with_progress(hub: FakeHub) -> None:
    reports: list[model_store.DownloadProgress] = []
    downloader = model_store.Downloader(cache_dir=hub.cache, progress=reports.append, report_every_s=0.0)
    files = downloader.run()

    assert files.source == "hf-cache" and not files.is_test_model
    assert (files.ola_dir / "config.json").is_file()
    assert (files.speech_encoders_dir / model_store.WHISPER_FILE_NAME).is_file()
    fetched = set(hub.fetched)
    assert f"{model_store.OLA_REPO}/large-v3.pt" not in fetched
    assert f"{model_store.OLA_REPO}/speech_projector.bin" not in fetched
    assert not any(f.endswith("README.md") for f in fetched)
    assert f"{model_store.SPEECH_ENCODERS_REPO}/{model_store.BEATS_FILE_NAME}" in fetched
    assert f"{WHISPER_TOKENIZER_REPO}/tokenizer.json" in fetched
    assert len(fetched) == 10

    done = [r.done_bytes for r in reports]
    assert done == sorted(done), "progress must never go backwards"
    assert (
        reports[-1].done_bytes
        == reports[-1].total_bytes
        == 40_000 + 30_000 + 300 + 100 + 200 + 5_000 + 400 + 30_000 + 2_000
    )
    assert reports[-1].files_done == reports[-1].files_total == 10
    assert model_store.find_in_hf_cache(hub.cache) == files


def test_interrupted_download_resumes_with_the_unfinished_file(hub: FakeHub) -> None:
    hub.fail_on = "model-00002-of-00002.safetensors"
    with pytest.raises(model_store.DownloadError, match=r"Could not reach huggingface\.co"):
        model_store.Downloader(cache_dir=hub.cache).run()
    first_run = list(hub.fetched)
    assert model_store.find_in_hf_cache(hub.cache) is None  # incomplete: not offered to the loader

    hub.fail_on = None
    hub.fetched.clear()
    reports: list[model_store.DownloadProgress] = []
    model_store.Downloader(cache_dir=hub.cache, progress=reports.append, report_every_s=0.0).run()
    assert not set(first_run) & set(hub.fetched), "finished files must not be fetched again"
    assert f"{model_store.OLA_REPO}/model-00002-of-00002.safetensors" in hub.fetched
    assert reports[0].done_bytes > 0, "the resumed run starts from the bytes already there"


def test_cancel_from_another_thread_stops_within_a_chunk(hub: FakeHub) -> None:
    downloader = model_store.Downloader(cache_dir=hub.cache)
    seen: list[str] = []

    def cancel_soon(name: str) -> None:
        seen.append(name)
        if len(seen) == 3:
            threading.Thread(target=downloader.cancel).start()

    hub.on_chunk = cancel_soon
    with pytest.raises(model_store.DownloadCancelled):
        downloader.run()
    assert len(seen) <= 5


def test_offline_mode_gives_a_message_that_says_what_to_do(tmp_path: Path) -> None:
    # No fake: the real HfApi under HF_HUB_OFFLINE=1 (set by conftest) refuses to go online.
    with pytest.raises(model_store.DownloadError) as info:
        model_store.Downloader(cache_dir=tmp_path).run()
    assert "Traceback" not in str(info.value)
    assert "retry" in str(info.value) or "Offline" in str(info.value)


def test_ola_dir_problems_lists_missing_shards(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "tokenizer.json").write_text("{}")
    shards = {"a": "model-1.safetensors", "b": "model-2.safetensors"}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": shards}))
    (tmp_path / "model-1.safetensors").write_bytes(b"x")
    assert model_store.ola_dir_problems(tmp_path) == ["model-2.safetensors"]
    (tmp_path / "model-2.safetensors").write_bytes(b"x")
    assert model_store.ola_dir_problems(tmp_path) == []


@pytest.mark.slow
def test_test_model_is_written_found_and_labelled(tmp_path: Path) -> None:
    files = model_store.write_test_model(tmp_path / "tiny")
    assert files.is_test_model and files.source == "test-model"
    assert "random weights" in files.label
    assert model_store.find_model_files(tmp_path / "tiny") == files
    # Found again, not rewritten (the marker says it is complete).
    stamp = (files.ola_dir / "config.json").stat().st_mtime_ns
    assert model_store.write_test_model(tmp_path / "tiny").ola_dir == files.ola_dir
    assert (files.ola_dir / "config.json").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_the_configured_model_is_found_without_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ask "Hi"` finds the test model the GUI installed (and saved in the settings)."""
    from ola_core.settings import Settings, save_settings

    monkeypatch.setenv("OLA_CONFIG_DIR", str(tmp_path / "config"))
    assert model_store.find_model_files(cache_dir=tmp_path / "empty-cache") is None
    files = model_store.write_test_model(tmp_path / "installed")
    settings = Settings()
    save_settings(settings.replace(model=settings.model.__class__(model_dir=str(files.ola_dir))))
    assert model_store.find_model_files(cache_dir=tmp_path / "empty-cache") == files


@pytest.mark.parametrize(
    ("hardware", "quantization", "fits", "test_model"),
    [
        (model_store.Hardware(cuda=False), "none", False, True),
        (model_store.Hardware(True, "RTX 4090", 25.8, 24.0), "none", True, False),
        (model_store.Hardware(True, "RTX 4070", 12.9, 12.0), "nf4", True, False),
        (model_store.Hardware(True, "RTX 4060", 8.6, 7.5), "nf4", False, True),
    ],
)
def test_recommendation_follows_free_memory(
    hardware: model_store.Hardware, quantization: str, fits: bool, test_model: bool
) -> None:
    rec = model_store.recommend(hardware)
    assert (rec.quantization, rec.fits, rec.offer_test_model) == (quantization, fits, test_model)
    if not hardware.cuda:
        assert "CPU" in rec.message and "interface-test model" in rec.message
    else:
        assert f"{rec.footprint_gb:.1f}"[:2] in rec.message or f"{rec.footprint_gb:.0f}" in rec.message


def test_footprint_is_the_loaders_estimate_and_matches_the_spec() -> None:
    """One memory estimate: the setup's advice shows what the loader checks, plus the CUDA context."""
    import torch

    from ola_core.model.configuration import OlaConfig
    from ola_core.model.memory import RUNTIME_MARGIN_BYTES, estimate_memory_bytes
    from ola_core.model_store.hardware import CUDA_CONTEXT_GB

    for quantization, spec_weights_gb in (("nf4", 8.2), ("int8", 11.5), ("none", 17.8)):  # spec §5.2
        required = estimate_memory_bytes(OlaConfig(), quantization, torch.bfloat16)
        assert model_store.footprint_gb(quantization, with_cosyvoice=False) == pytest.approx(
            required / 1e9 + CUDA_CONTEXT_GB
        )
        assert (required - RUNTIME_MARGIN_BYTES) / 1e9 == pytest.approx(spec_weights_gb, abs=0.3)
    assert model_store.footprint_gb("nf4", with_cosyvoice=False) < model_store.footprint_gb("nf4")


def test_download_command_line_shows_speed_and_eta() -> None:
    line = download_cmd.format_progress(
        model_store.DownloadProgress(
            done_bytes=2_500_000_000, total_bytes=10_000_000_000, file="x", files_done=1, files_total=4,
            bytes_per_s=50_000_000,
        )
    )  # fmt: skip
    assert "25.0%" in line and "50.0 MB/s" in line and "2 min left" in line and "[1/4]" in line


def test_download_command_end_to_end(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    from ola_core import cli

    args = cli.build_parser().parse_args(["download", "--dir", str(hub.cache)])
    assert cli.run(args) == 0
    out, err = capsys.readouterr()
    assert "Ola-7B:" in out and str(hub.cache) in out
    assert "100.0%" in err and "[10/10]" in err  # the last progress line
    assert "CPU" in err or "GB" in err  # the hardware advice comes first


def test_cosyvoice_download_skips_what_our_runtime_never_reads() -> None:
    listing = [
        ("cosyvoice2.yaml", 1),
        ("llm.pt", 1),
        ("flow.pt", 1),
        ("hift.pt", 1),
        ("campplus.onnx", 1),
        ("speech_tokenizer_v2.onnx", 1),
        ("CosyVoice-BlankEN/config.json", 1),
        ("CosyVoice-BlankEN/tokenizer_config.json", 1),
        ("CosyVoice-BlankEN/model.safetensors", 10**9),
        ("flow.decoder.estimator.fp32.onnx", 1),
        ("flow.encoder.fp32.zip", 1),
        ("README.md", 1),
    ]
    wanted = {f.filename for f in model_store.wanted_files(model_store.COSYVOICE_REPO, listing)}
    assert wanted == {
        "cosyvoice2.yaml",
        "llm.pt",
        "flow.pt",
        "hift.pt",
        "campplus.onnx",
        "speech_tokenizer_v2.onnx",
        "CosyVoice-BlankEN/config.json",
        "CosyVoice-BlankEN/tokenizer_config.json",
    }


def test_recommendation_names_the_memory_profile() -> None:
    """Setup and `download` say which profile the card gets: "RTX 4060, 9 GB: 8 GB profile"."""
    rec = model_store.recommend(model_store.Hardware(True, "RTX 4060", 8.6, 7.6))
    assert rec.profile == "8gb" and "RTX 4060, 9 GB: 8 GB profile" in rec.message
    assert model_store.recommend(model_store.Hardware(True, "RTX 4090", 25.8, 24.0)).profile == "24gb"
