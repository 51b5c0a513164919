"""Run `ola-assistant bench engine` across configurations and print a Markdown table for RESULTS.md.

    python benchmarks/bench_engine.py            # CPU: the tiny checkpoint in fp32, bf16, nf4, int8
    python benchmarks/bench_engine.py --gpu      # adds CUDA: tiny bf16, full-size random weights nf4 / int8 / bf16

Each configuration runs in its own process (clean memory peaks). The goal of issue 7 is a
second-turn time to first token of at most 0.5x the re-encoding path ("ratio" column).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

CPU_CONFIGS: list[list[str]] = [
    ["--tiny", "--device", "cpu", "--dtype", "fp32"],
    ["--tiny", "--device", "cpu", "--dtype", "bf16"],
    ["--tiny", "--device", "cpu", "--quantization", "nf4"],
    ["--tiny", "--device", "cpu", "--quantization", "int8"],
]
GPU_CONFIGS: list[list[str]] = [
    ["--tiny", "--device", "cuda", "--dtype", "bf16"],
    ["--tiny", "--full-size", "--device", "cuda", "--quantization", "nf4"],
    ["--tiny", "--full-size", "--device", "cuda", "--quantization", "int8"],
    ["--tiny", "--full-size", "--device", "cuda", "--dtype", "bf16"],
]


def measure(config: list[str], extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "ola_core.cli", "bench", "engine", *config, *extra, "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def row(report: dict[str, Any]) -> str:
    def ms(section: str) -> str:
        value = report[section]["ttft_s"]
        return "–" if value is None else f"{value * 1000:.0f}"

    peak = report["peak_memory_bytes"]
    precision = report["quantization"] if report["quantization"] != "none" else report["dtype"]
    return (
        f"| {report['model']} | {precision} | {report['device']} | {report['turn1']['prompt_tokens']} | {ms('turn1')} "
        f"| {report['turn2_reuse']['prompt_tokens']} | {ms('turn2_reuse')} | {report['turn2_reencode']['prompt_tokens']} "
        f"| {ms('turn2_reencode')} | {report['turn2_ttft_ratio']} | {'yes' if report['turn2_same_tokens'] else 'no'} "
        f"| {report['decode_tokens_per_s']:.1f} "
        f"| {peak / 2**20:.0f} MiB {report['memory_kind']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gpu", action="store_true", help="also the CUDA configurations")
    parser.add_argument("--repeats", default="3")
    args = parser.parse_args()
    configs = CPU_CONFIGS + (GPU_CONFIGS if args.gpu else [])
    print(
        "| model | weights | device | turn 1 prompt | turn 1 TTFT ms | turn 2 prompt (reuse) | turn 2 TTFT ms (reuse) "
        "| turn 2 prompt (re-encode) | turn 2 TTFT ms (re-encode) | ratio | same tokens | decode tok/s | peak memory |"
    )
    print("|" + "---|" * 13)
    for config in configs:
        report = measure(config, ["--repeats", args.repeats])
        print(row(report), flush=True)
    print(f"\nmachine: {report['machine']}")


if __name__ == "__main__":
    main()
