"""Cost of Ola's speech side per 30 s chunk: Whisper-large-v3 encoder + BEATs (+ fbank).

    python benchmarks/bench_speech_encoder.py [--device cpu|cuda] [--dtype bf16|fp32] [--full]

Every spoken turn pays at least one whole chunk: the official code pads a 5 s question to 30 s
for both encoders, so this is a fixed cost before the first token.

1. The tiny encoders (the test checkpoints), whole, fp32: a smoke figure for CI machines.
2. The full-size encoders. By default (made for a shared 2-core CPU) one Whisper block, the
   BEATs front end and one BEATs layer are timed and scaled by the layer counts (32 and 12);
   ``--full`` runs the whole random-weight modules instead (use it on a GPU). Whisper runs in
   ``--dtype``; BEATs always in fp32, as in the official code.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.model.beats import BEATS_AS2M_CPT2_CFG, Beats, BeatsConfig, BeatsLayer  # noqa: E402
from ola_core.model.tiny import TINY_BEATS_CFG, TINY_WHISPER_DIMS  # noqa: E402
from ola_core.model.whisper import WHISPER_LARGE_V3_DIMS, WhisperBlock, WhisperEncoder  # noqa: E402

CHUNK = 480000


def timed(fn: Callable[[], object], device: torch.device, repeat: int = 2) -> float:
    """Best wall time of ``repeat`` runs after one warm-up, seconds."""
    best = float("inf")
    with torch.inference_mode():
        fn()
        for _ in range(repeat):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    return best


def materialize(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """Random weights on ``device`` without a CPU init pass (built on meta first)."""
    module = module.to_empty(device=device)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.02)
        for b in module.buffers():
            b.zero_()
    return module.to(dtype).eval()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--full", action="store_true", help="run the whole full-size modules")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    wav = (torch.randn(1, CHUNK) * 0.1).to(device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")

    # 1. tiny, whole
    with torch.device("meta"):
        tiny_whisper, tiny_beats = WhisperEncoder.from_dims(TINY_WHISPER_DIMS), Beats.from_cfg(TINY_BEATS_CFG)
    tiny_whisper = materialize(tiny_whisper, device, torch.float32)
    tiny_beats = materialize(tiny_beats, device, torch.float32)
    mels = torch.randn(1, 128, 3000, device=device)
    print(f"tiny whisper fp32: {timed(lambda: tiny_whisper(mels), device) * 1e3:.0f} ms / chunk")
    print(f"tiny BEATs fp32 (incl. fbank): {timed(lambda: tiny_beats(wav), device) * 1e3:.0f} ms / chunk")
    print(f"kaldi fbank alone: {timed(lambda: Beats.fbank(wav), device) * 1e3:.0f} ms / chunk")

    # 2. full size
    dims, cfg = WHISPER_LARGE_V3_DIMS, BEATS_AS2M_CPT2_CFG
    if args.full:
        with torch.device("meta"):
            whisper, beats = WhisperEncoder.from_dims(dims), Beats.from_cfg(cfg)
        whisper, beats = materialize(whisper, device, dtype), materialize(beats, device, torch.float32)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t_whisper = timed(lambda: whisper(mels.to(dtype)), device)
        t_beats = timed(lambda: beats(wav), device)
        how = "measured"
    else:
        width, heads = dims["n_audio_state"], dims["n_audio_head"]
        with torch.device("meta"):
            block = WhisperBlock(width, heads)
            stem = WhisperEncoder(dims["n_mels"], dims["n_audio_ctx"], width, heads, 0)
            front = Beats.from_cfg(cfg | {"encoder_layers": 0})
            layer = BeatsLayer(BeatsConfig.from_dict(cfg))
        block, stem = materialize(block, device, dtype), materialize(stem, device, dtype)
        front, layer = materialize(front, device, torch.float32), materialize(layer, device, torch.float32)
        x = torch.randn(1, dims["n_audio_ctx"], width, device=device, dtype=dtype)
        tokens = torch.randn(1, 1496, cfg["encoder_embed_dim"], device=device)
        bias = torch.randn(cfg["encoder_attention_heads"], 1496, 1496, device=device)
        t_whisper = timed(lambda: stem(mels.to(dtype)), device) + dims["n_audio_layer"] * timed(
            lambda: block(x), device
        )
        t_beats = timed(lambda: front(wav), device) + cfg["encoder_layers"] * timed(
            lambda: layer(tokens, bias), device
        )
        how = "one layer timed × layer count"
    print(f"full Whisper-large-v3 encoder {args.dtype}: {t_whisper:.2f} s / chunk ({how})")
    print(f"full BEATs fp32: {t_beats:.2f} s / chunk ({how})")
    if device.type == "cuda":
        print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
