"""`ola-assistant bench engine`: time to first token with and without KV-cache reuse, decode speed, memory.

The conversation measured is the assistant's typical one: turn 1 is a spoken question over camera
frames (video + its soundtrack, the heavy prefill), turn 2 a short typed follow-up. Turn 2 is
answered twice on the same history: by an engine that reuses turn 1's KV cache (prefills only
its own tokens) and by one that re-encodes the whole conversation, media included, as the
official code would. Greedy decoding, so both paths should give the same tokens (reported). One warm-up round,
then the median of ``--repeats`` rounds.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ola_core.engine import Turn, TurnStats
    from ola_core.model.loading import LoadedOla

DTYPES = {"auto": None, "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def register(topics: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = topics.add_parser(
        "engine",
        help="time to first token (turn 1, turn 2 with KV reuse vs re-encoding), decode tok/s, memory",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, metavar="DIR", help="the Ola-7b folder")
    source.add_argument("--tiny", action="store_true", help="a tiny random checkpoint written on the fly")
    parser.add_argument(
        "--full-size",
        action="store_true",
        help="with --tiny: Ola-7B's real sizes, random weights (needs ~16 GB disk)",
    )
    parser.add_argument("--quantization", choices=("none", "nf4", "int8"), default="none")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--dtype", choices=tuple(DTYPES), default="auto", help="auto: bf16 (the official dtype)"
    )
    parser.add_argument("--frames", type=int, default=8, help="camera frames in turn 1 (default 8)")
    parser.add_argument(
        "--speech-seconds", type=float, default=5.0, help="length of turn 1's question (default 5)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument(
        "--repeats", type=int, default=3, help="measured rounds after one warm-up (default 3)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (the default prints it indented)"
    )
    parser.set_defaults(handler=_handle)


@contextmanager
def _model_dir(args: argparse.Namespace) -> Iterator[Path]:
    if args.model is not None:
        yield args.model
        return
    from ola_core.model.tiny import write_tiny_checkpoint

    with tempfile.TemporaryDirectory(prefix="ola-bench-") as folder:
        yield write_tiny_checkpoint(Path(folder), seed=0, full_size=args.full_size).model_dir


def benchmark_turns(frames: int, speech_seconds: float) -> tuple[Turn, Turn]:
    """Turn 1: a spoken question over camera frames; turn 2: a typed follow-up. Deterministic content."""
    import numpy as np

    from ola_core.engine import Turn
    from ola_core.media_types import TimedFrame

    rng = np.random.default_rng(0)
    video = [TimedFrame(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), i * 0.5) for i in range(frames)]
    t = np.arange(int(16000 * speech_seconds)) / 16000
    speech = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    return (
        Turn(speech=speech, frames=video, voice=True),
        Turn(text="And what colour is the thing on the left?", voice=True),
    )


def run(loaded: LoadedOla, turns: tuple[Turn, Turn], max_new_tokens: int, repeats: int) -> dict[str, Any]:
    """The figures of ``repeats`` measured rounds (after a warm-up), as medians."""
    from ola_core.engine import GenerationSettings, OlaEngine

    settings = GenerationSettings(greedy=True, max_new_tokens=max_new_tokens)
    rounds: list[dict[str, TurnStats]] = []
    for _ in range(repeats + 1):
        reusing = OlaEngine.from_loaded(loaded, settings=settings)
        reencoding = OlaEngine.from_loaded(loaded, settings=settings, reuse_cache=False)
        first = reusing.generate(turns[0])
        reencoding.generate(turns[0])
        rounds.append(
            {
                "turn1": first,
                "turn2_reuse": reusing.generate(turns[1]),
                "turn2_reencode": reencoding.generate(turns[1]),
            }
        )
    measured = rounds[1:]

    def median(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return round(statistics.median(present), 5) if present else None

    report: dict[str, Any] = {}
    for name in ("turn1", "turn2_reuse", "turn2_reencode"):
        stats = [r[name] for r in measured]
        report[name] = {
            "prompt_tokens": stats[0].prompt_tokens,
            "new_tokens": stats[0].new_tokens,
            "ttft_s": median([s.ttft_s for s in stats]),
            "encoders_s": median([(s.t_encoders_done or s.t_start) - s.t_start for s in stats]),
            "decode_tokens_per_s": median([s.tokens_per_s for s in stats]),
        }
    reuse, reencode = report["turn2_reuse"]["ttft_s"], report["turn2_reencode"]["ttft_s"]
    report["turn2_ttft_ratio"] = round(reuse / reencode, 4) if reuse and reencode else None
    # Equal in exact arithmetic; int8 (outliers picked per input) or bf16 rounding may flip a near tie.
    report["turn2_same_tokens"] = all(
        r["turn2_reuse"].token_ids == r["turn2_reencode"].token_ids for r in measured
    )
    report["decode_tokens_per_s"] = median([r["turn1"].tokens_per_s for r in measured])
    peaks = [s.peak_memory_bytes for r in rounds for s in r.values() if s.peak_memory_bytes is not None]
    report["peak_memory_bytes"] = max(peaks) if peaks else None
    report["memory_kind"] = measured[0]["turn1"].memory_kind
    return report


def machine() -> str:
    import os

    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, {platform.machine()} {os.cpu_count()} CPUs"
    return f"{platform.machine()} {os.cpu_count()}-CPU, no GPU, torch {torch.__version__}"


def _handle(args: argparse.Namespace) -> int:
    import torch

    from ola_core.model.loading import load_ola

    dtype_name = DTYPES[args.dtype]
    dtype = getattr(torch, dtype_name) if dtype_name else None
    with _model_dir(args) as model_dir:
        t0 = time.monotonic()
        loaded = load_ola(model_dir, quantization=args.quantization, device=args.device, dtype=dtype)
        load_s = time.monotonic() - t0
        report = {
            "model": "tiny random" + (" (full size)" if args.full_size else "")
            if args.tiny
            else str(model_dir),
            "quantization": args.quantization,
            "device": str(loaded.device),
            "dtype": str(loaded.dtype).removeprefix("torch."),
            "machine": machine(),
            "load_s": round(load_s, 3),
            "frames": args.frames,
            "speech_seconds": args.speech_seconds,
            **run(
                loaded, benchmark_turns(args.frames, args.speech_seconds), args.max_new_tokens, args.repeats
            ),
        }
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0
