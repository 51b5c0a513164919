"""`ola-assistant bench gpu --tiny --device cpu` (issue 15): the GPU kit's code path, in CI, on a bare install."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

# What a bare CUDA machine lacks (the kit gets only torch, transformers, bitsandbytes and friends).
BLOCKED = ("PySide6", "sounddevice", "soxr", "av", "livekit", "hibari", "soundfile", "webrtcvad")
RUNNER = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # import fails, importlib.util.find_spec says "not installed"
from ola_core.cli import main
code = main(sys.argv[1:])
assert not any(name in sys.modules and sys.modules[name] is not None for name in {BLOCKED!r})
sys.exit(code)
"""


def _numbers(value: object) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


@pytest.mark.slow
def test_bench_gpu_tiny_runs_without_gui_or_audio_libraries(tmp_path: Path) -> None:
    args = ["bench", "gpu", "--tiny", "--device", "cpu", "--out", str(tmp_path), "--max-new-tokens", "6"]
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "bench_gpu_tiny.json").read_text())
    assert (tmp_path / "bench_gpu_tiny.md").read_text().count("\n| ") == 5  # header + 3 profiles + official
    assert set(report["profiles"]) == {"8gb", "12gb", "24gb"} and set(report["ratios"]) == set(
        report["profiles"]
    )
    for figures in [*report["profiles"].values(), report["official"]]:
        for key in ("load_s", "weights_gpu_bytes", "context_limit_tokens", "endpoint_to_first_audio_s"):
            assert key in figures
        assert (
            {"ttft_s", "decode_tokens_per_s", "encoders_s"}
            <= set(figures["turn1"])
            <= set(figures["followup"])
        )
        assert {"first_chunk_s", "rtf"} <= set(figures["tts"])
        assert figures["turn1"]["ttft_s"] > 0 and figures["tts"]["audio_s"] > 0
    assert "embed_tokens" in report["profiles"]["8gb"]["weights_cpu_bytes"]
    # Turn 2 of the official way re-encodes turn 1's media; the profiles reuse the cache.
    assert (
        report["profiles"]["8gb"]["followup"]["prompt_tokens"]
        < report["official"]["followup"]["prompt_tokens"]
    )
    numbers = _numbers(report)
    assert numbers and all(math.isfinite(n) for n in numbers)


def test_bench_gpu_rejects_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    from ola_core.cli import main

    assert main(["bench", "gpu", "--tiny", "--profiles", "6gb"]) == 2
    assert "--profiles takes" in capsys.readouterr().err
