"""`ola-assistant bench engine --tiny` runs end to end and reports what issue 7 asks for."""

from __future__ import annotations

import json

import pytest

from ola_core.cli import main


@pytest.mark.slow
def test_bench_engine_reports_ttft_with_and_without_kv_reuse(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "engine", "--tiny", "--device", "cpu", "--dtype", "fp32", "--frames", "2"]
    args += ["--speech-seconds", "1", "--max-new-tokens", "4", "--repeats", "1", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    turn1, reuse, reencode = report["turn1"], report["turn2_reuse"], report["turn2_reencode"]
    # Turn 2 with reuse prefills only its own tokens; re-encoding prefills turn 1's video and speech again.
    assert reuse["prompt_tokens"] < 60 < turn1["prompt_tokens"] < reencode["prompt_tokens"]
    assert all(section["ttft_s"] > 0 for section in (turn1, reuse, reencode))
    assert report["turn2_ttft_ratio"] == pytest.approx(reuse["ttft_s"] / reencode["ttft_s"], rel=1e-2)
    assert report["peak_memory_bytes"] > 0 and report["memory_kind"] == "rss"
    assert report["device"] == "cpu" and "no GPU" in report["machine"]
