"""`ola-assistant bench gpu`: the whole memory-and-speed proof of issue 15 in one run.

Writes a random Ola-7B (with its Whisper/BEATs files) and CosyVoice2-0.5B in the official
layouts (``--tiny``: the tiny ones), then for each memory profile: loads it, answers one spoken
turn (5 s of speech + 4 camera frames) and a typed follow-up through the real engine, and speaks
the first answer with CosyVoice2. The same turns are then answered "the official way" (bf16,
no lever, the whole conversation re-encoded every turn, the whole answer to TTS at once) for the
ratios. One JSON and one Markdown table land in ``--out``.

It imports only what a bare CUDA machine has (torch, transformers, bitsandbytes, tokenizers,
safetensors, numpy, pillow, opencv): no Qt, audio I/O, resampling or container libraries.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from ola_core.commands.bench_engine import benchmark_turns, machine

PROFILE_CHOICES = ("8gb", "12gb", "24gb")


def register(topics: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = topics.add_parser(
        "gpu", help="per memory profile: VRAM per part, TTFT, tok/s, first audio (issue 15)"
    )
    parser.add_argument(
        "--tiny", action="store_true", help="tiny random models (CI) instead of full-size ones"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--profiles", default=",".join(PROFILE_CHOICES), help="comma-separated (default all)")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results"), help="folder for the JSON and table"
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the written models (default: temporary)"
    )
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--speech-seconds", type=float, default=5.0)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    import sys

    names = [n.strip() for n in args.profiles.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROFILE_CHOICES]
    if unknown or not names:
        print(f"error: --profiles takes {', '.join(PROFILE_CHOICES)}, not {args.profiles!r}", file=sys.stderr)
        return 2
    if args.work is not None:
        report = run_kit(args.work, names, args)
    else:
        with tempfile.TemporaryDirectory(prefix="ola-bench-gpu-") as folder:
            report = run_kit(Path(folder), names, args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "bench_gpu_tiny" if args.tiny else "bench_gpu"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (args.out / f"{stem}.md").write_text(markdown_table(report), encoding="utf-8")
    print(markdown_table(report))
    print(f"wrote {args.out / (stem + '.json')} and {stem}.md")
    return 0


def run_kit(work: Path, names: list[str], args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from ola_core.model.loading import resolve_device
    from ola_core.model.tiny import write_tiny_checkpoint
    from ola_core.speech.cosyvoice.tiny import write_tiny_cosyvoice

    device = resolve_device(args.device)
    t0 = time.monotonic()
    ola_dir = work / "ola"
    if not (ola_dir / "Ola-7b" / "config.json").is_file():
        ola_dir = write_tiny_checkpoint(ola_dir, seed=0, full_size=not args.tiny).model_dir
    else:
        ola_dir = ola_dir / "Ola-7b"
    voice_dir = work / "cosyvoice"
    if not (voice_dir / "llm.pt").is_file():
        write_tiny_cosyvoice(voice_dir, seed=0, onnx_stand_ins=False, full_size=not args.tiny)
    report: dict[str, Any] = {
        "machine": machine(),
        "device": str(device),
        "models": "tiny random" if args.tiny else "full-size random Ola-7B + CosyVoice2-0.5B",
        "torch": torch.__version__,
        "write_models_s": round(time.monotonic() - t0, 2),
        "turn": {
            "speech_seconds": args.speech_seconds,
            "frames": args.frames,
            "max_new_tokens": args.max_new_tokens,
        },
        "profiles": {},
    }
    turns = benchmark_turns(args.frames, args.speech_seconds)
    for name in names:
        report["profiles"][name] = run_profile(ola_dir, voice_dir, name, device, turns, args.max_new_tokens)
    report["official"] = run_profile(ola_dir, voice_dir, None, device, turns, args.max_new_tokens)
    report["ratios"] = ratios(report)
    return report


def run_profile(
    ola_dir: Path, voice_dir: Path, name: str | None, device: Any, turns: Any, max_new_tokens: int
) -> dict[str, Any]:
    """One profile (``None``: the official way) from load to the follow-up's answer and its audio."""
    import gc

    import torch

    from ola_core.engine import GenerationSettings, OlaEngine
    from ola_core.model.loading import load_ola
    from ola_core.model.profiles import PROFILES, part_bytes
    from ola_core.speech.cosyvoice.loading import load_cosyvoice

    cuda = device.type == "cuda"
    profile = PROFILES[name] if name is not None else None  # type: ignore[index]
    dtype = torch.bfloat16 if cuda else torch.float32
    _reset_peak(cuda)
    t0 = time.monotonic()
    loaded = load_ola(ola_dir, device=device.type, dtype=dtype, profile=profile)
    load_s = time.monotonic() - t0
    ola_allocated = _allocated(cuda)
    load_peak = _peak(cuda)
    gpu_parts, cpu_parts = part_bytes(loaded.model)
    lm_dtype = (profile.cosyvoice_lm_dtype if profile else torch.float16) if cuda else torch.float32
    flow_dtype = (profile.cosyvoice_flow_dtype if profile else torch.float16) if cuda else torch.float32
    t1 = time.monotonic()
    voice = load_cosyvoice(voice_dir, device=device, dtype=lm_dtype, flow_dtype=flow_dtype)
    voice_load_s = time.monotonic() - t1
    voice_allocated = _allocated(cuda) - ola_allocated if cuda else None

    settings = GenerationSettings(greedy=True, max_new_tokens=max_new_tokens)
    options: dict[str, Any] = {"settings": settings, "reuse_cache": profile is not None}
    if profile is not None:
        options["prefill_chunk"] = profile.prefill_chunk or 1 << 30
        if cuda:  # the KV cache gets what is left under the profile's peak
            left = int(profile.peak_gib * 2**30) - _allocated(cuda) - (1 << 29)
            options["memory_budget_bytes"] = max(left, 1 << 24)
    engine = OlaEngine.from_loaded(loaded, **options)
    engine.generate(turns[1])  # warm-up (kernels, allocator); then a fresh conversation
    engine.reset()
    _reset_peak(cuda)
    first = engine.generate(turns[0])
    turn_peak = _peak(cuda)
    follow = engine.generate(turns[1])
    tts = speak(voice, first.text or "Hello there.", stream=profile is not None)
    figures: dict[str, Any] = {
        "load_s": round(load_s, 3),
        "cosyvoice_load_s": round(voice_load_s, 3),
        "weights_gpu_bytes": gpu_parts,
        "weights_cpu_bytes": cpu_parts,
        "ola_allocated_bytes": ola_allocated if cuda else None,
        "cosyvoice_allocated_bytes": voice_allocated,
        "peak_turn_bytes": turn_peak,
        "peak_total_bytes": max(load_peak or 0, _peak(cuda) or 0) if cuda else None,
        "context_limit_tokens": engine.max_context_tokens,
        "turn1": _turn(first),
        "followup": _turn(follow),
        "tts": tts,
    }
    decode_first_sentence = _first_sentence_tokens(first) / max(first.tokens_per_s or 1e-9, 1e-9)
    figures["endpoint_to_first_audio_s"] = (
        round((first.ttft_s or 0) + decode_first_sentence + tts["first_chunk_s"], 4)
        if profile is not None  # streaming: the first sentence goes to TTS while decoding goes on
        else round((first.t_end or first.t_start) - first.t_start + tts["first_chunk_s"], 4)
    )
    del engine, loaded, voice
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return figures


def speak(voice: Any, text: str, stream: bool) -> dict[str, float]:
    """CosyVoice2 with the built-in voice: time to the first chunk, real-time factor."""
    import numpy as np

    from ola_core.speech.cosyvoice.runtime import CosyVoiceRuntime, VoicePrompt

    runtime = CosyVoiceRuntime(voice, greedy=False, seed=0)
    prompt = VoicePrompt.from_entry(next(iter(voice.speakers.values())))
    t0 = time.monotonic()
    first: float | None = None
    samples = 0
    for chunk in runtime.synthesize(runtime.text_ids(text), prompt, stream=stream):
        first = first if first is not None else time.monotonic() - t0
        samples += int(np.asarray(chunk).size)
    total = time.monotonic() - t0
    seconds = samples / voice.config.hift.sample_rate
    return {"first_chunk_s": round(first or total, 4), "total_s": round(total, 4),
            "audio_s": round(seconds, 3), "rtf": round(total / seconds, 4) if seconds else math.inf}  # fmt: skip


def ratios(report: dict[str, Any]) -> dict[str, Any]:
    """Per profile: decode tok/s and follow-up TTFT against the official way's (the issue's goals)."""
    official = report["official"]
    out: dict[str, Any] = {}
    for name, figures in report["profiles"].items():
        decode, ref_decode = figures["turn1"]["decode_tokens_per_s"], official["turn1"]["decode_tokens_per_s"]
        ttft, ref_ttft = figures["followup"]["ttft_s"], official["followup"]["ttft_s"]
        out[name] = {
            "decode_speedup": round(decode / ref_decode, 3) if decode and ref_decode else None,
            "followup_ttft_ratio": round(ttft / ref_ttft, 3) if ttft and ref_ttft else None,
            "peak_gib": round(figures["peak_total_bytes"] / 2**30, 3)
            if figures["peak_total_bytes"]
            else None,
        }
    return out


def markdown_table(report: dict[str, Any]) -> str:
    rows = [f"Machine: {report['machine']} · {report['models']}", "",
            "| run | load s | Ola GPU weights GB | peak GiB | context | TTFT s | follow-up TTFT s | decode tok/s | first audio s | TTS first chunk s | TTS RTF |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    runs = {**report["profiles"], "official": report["official"]}
    for name, f in runs.items():
        peak = f"{f['peak_total_bytes'] / 2**30:.2f}" if f["peak_total_bytes"] else "n/a (CPU)"
        weights = sum(v for k, v in f["weights_gpu_bytes"].items()) / 1e9
        rows.append(
            f"| {name} | {f['load_s']:.2f} | {weights:.3f} | {peak} | {f['context_limit_tokens']} | "
            f"{f['turn1']['ttft_s']} | {f['followup']['ttft_s']} | {f['turn1']['decode_tokens_per_s']} | "
            f"{f['endpoint_to_first_audio_s']} | {f['tts']['first_chunk_s']} | {f['tts']['rtf']} |"
        )
    rows += ["", "Ratios against the official way: " + json.dumps(report["ratios"])]
    return "\n".join(rows) + "\n"


def _turn(stats: Any) -> dict[str, Any]:
    return {
        "prompt_tokens": stats.prompt_tokens,
        "new_tokens": stats.new_tokens,
        "encoders_s": round((stats.t_encoders_done or stats.t_start) - stats.t_start, 4),
        "ttft_s": round(stats.ttft_s, 4) if stats.ttft_s is not None else None,
        "decode_tokens_per_s": round(stats.tokens_per_s, 3) if stats.tokens_per_s else None,
        "peak_memory_bytes": stats.peak_memory_bytes,
    }


def _first_sentence_tokens(stats: Any) -> int:
    """Tokens up to the first sentence end (what a streaming TTS waits for); all when none."""
    text = stats.text
    cut = min((i for i in (text.find(c) for c in ".!?\n") if i >= 0), default=len(text))
    return max(1, round(stats.new_tokens * (cut + 1) / max(len(text), 1)))


def _reset_peak(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _allocated(cuda: bool) -> int:
    import torch

    return int(torch.cuda.memory_allocated()) if cuda else 0


def _peak(cuda: bool) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated()) if cuda else None
