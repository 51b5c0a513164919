"""CosyVoice2 runtime speed on random weights: tiny or the release's full size, CPU or CUDA.

    python benchmarks/bench_cosyvoice.py                        # tiny, CPU
    python benchmarks/bench_cosyvoice.py --full-size            # 0.5B shapes (writes ~2.5 GB once), CPU
    python benchmarks/bench_cosyvoice.py --full-size --device cuda [--dtype fp16|bf16|fp32]

Per sentence: first streamed chunk (text in → first PCM out), total time, audio length, RTF;
plus load time, peak CPU RSS and (CUDA) peak VRAM. The folder is kept under --folder so a second
run skips writing it. Random weights: the figures time the code, not a voice (the LM's sequence
lengths are whatever random weights produce, bounded by 2–20 tokens per text token).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ola_core.speech.cosyvoice.synthesizer import CosyVoiceSynthesizer
from ola_core.speech.cosyvoice.tiny import write_tiny_cosyvoice

SENTENCES = ("Sure.", "The red mug on your desk is half full.", "你桌上的红色杯子里还有一半水。")
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


def run(folder: Path, device: str, dtype: torch.dtype | None) -> dict[str, Any]:
    synthesizer = CosyVoiceSynthesizer(folder, device, dtype)
    start = time.perf_counter()
    runtime = synthesizer.runtime
    load_s = time.perf_counter() - start
    synthesizer.warm_up()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rows = []
    for sentence in SENTENCES:
        start = time.perf_counter()
        first = None
        lengths = []
        for pcm in synthesizer.synthesize(sentence):
            first = first if first is not None else time.perf_counter() - start
            lengths.append(len(pcm))
        total = time.perf_counter() - start
        audio = sum(lengths) / synthesizer.sample_rate
        rows.append(
            {
                "sentence": sentence,
                "first_chunk_ms": round(1000 * (first or total), 1),
                "chunks": len(lengths),
                "audio_s": round(audio, 2),
                "synth_s": round(total, 2),
                "rtf": round(total / audio, 3) if audio else None,
            }
        )
    report: dict[str, Any] = {
        "device": device,
        "dtype": str(runtime.model.dtype).removeprefix("torch."),
        "load_s": round(load_s, 2),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "sentences": rows,
    }
    if device == "cuda":
        report["peak_vram_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        report["gpu"] = torch.cuda.get_device_name()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full-size", action="store_true")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="default: fp16 on CUDA, fp32 on the CPU")
    parser.add_argument("--folder", type=Path, help="where the random model folder is kept")
    args = parser.parse_args()
    name = "cosyvoice-full" if args.full_size else "cosyvoice-tiny"
    folder = args.folder or Path(tempfile.gettempdir()) / f"ola-bench-{name}"
    if not (folder / "hift.pt").is_file():
        write_tiny_cosyvoice(folder, onnx_stand_ins=False, full_size=args.full_size)
    report = run(folder, args.device, DTYPES[args.dtype] if args.dtype else None)
    print(json.dumps({"model": name, **report}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
