"""Load time, peak memory and per-stage forward times of the Ola network (ola_core.model).

One realistic assistant turn is timed stage by stage: an image (640×480: low-res 416×320 +
high-res 640×480 views), a 4-frame camera clip (640×320 frames), 5 s of speech (one 30 s chunk
for Whisper + BEATs), the LLM prefill of the spliced prompt, and greedy decoding (tokens/s).

    # CPU, tiny random checkpoint (what the unit-test machine can run)
    python benchmarks/bench_model.py
    # GPU, full-size Ola-7B architecture with random weights, every quantization
    python benchmarks/bench_model.py --device cuda --full-size --model-root /data/ola-random \\
        --quantization none int8 nf4
    # GPU, the real checkpoint
    python benchmarks/bench_model.py --device cuda --model-dir ~/models/Ola-7b --quantization nf4

The target of issue 3: the omni stack in NF4 under 8.5 GB of weights + activations for the
5 s audio + 4 frame turn; on CUDA the script reports peak allocated VRAM per configuration.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ola_core.engine.memory import current_rss_bytes  # noqa: E402
from ola_core.model.loading import LoadedOla, load_ola  # noqa: E402
from ola_core.model.tiny import write_tiny_checkpoint  # noqa: E402
from ola_core.processing.inputs import (  # noqa: E402
    ImageInput,
    PromptInputs,
    SpeechInput,
    VideoInput,
)
from ola_core.processing.tokens import IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def timed(results: dict[str, Any], name: str, device: torch.device) -> Iterator[None]:
    sync(device)
    start = time.perf_counter()
    yield
    sync(device)
    results[f"{name}_s"] = round(time.perf_counter() - start, 4)


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    rss = current_rss_bytes() or 0
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return max(rss, lifetime) / 2**30


def turn_media(dtype: torch.dtype = torch.float32) -> tuple[ImageInput, VideoInput, SpeechInput]:
    g = torch.Generator().manual_seed(0)
    image = ImageInput(
        torch.rand(3, 320, 416, generator=g) * 2 - 1, torch.rand(3, 480, 640, generator=g) * 2 - 1
    )
    video = VideoInput(torch.rand(4, 3, 320, 640, generator=g) * 2 - 1)
    wavs = torch.zeros(1, 480000)
    wavs[0, : 5 * 16000] = torch.randn(5 * 16000, generator=g) * 0.1
    speech = SpeechInput(torch.randn(1, 3000, 128, generator=g) * 0.5, wavs)
    return image, video, speech


def measure(loaded: LoadedOla, decode_tokens: int) -> dict[str, Any]:
    """Stage times of one video + speech turn, plus an image encode; peak memory after all."""
    model, device = loaded.model, loaded.device
    image, video, speech = turn_media()
    ids = loaded.tokenizer("<|im_start|>user\n").input_ids
    tail = loaded.tokenizer("\nWhat is happening here?<|im_end|>\n<|im_start|>assistant\n").input_ids
    results: dict[str, Any] = {}
    with torch.inference_mode():
        model.encode_images([image])  # warm-up (allocator, kernels)
        with timed(results, "vision_image", device):
            model.encode_images([image])
        with timed(results, "vision_video_4_frames", device):
            model.encode_video(video)
        with timed(results, "audio_5s", device):
            model.encode_speech(speech)
        prompt = PromptInputs([*ids, IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX, *tail], [video], [speech])
        with timed(results, "embed_prompt_total", device):
            embeds = model.embed_prompt(prompt)
        results["prompt_tokens"] = int(embeds.shape[1])
        with timed(results, "prefill", device):
            out = model(inputs_embeds=embeds, use_cache=True)
        cache = out.past_key_values
        token = out.logits[:, -1:].argmax(-1)
        mask_len = embeds.shape[1]
        with timed(results, "decode", device):
            for _ in range(decode_tokens):
                mask_len += 1
                step = model(
                    input_ids=token,
                    past_key_values=cache,
                    use_cache=True,
                    attention_mask=torch.ones(1, mask_len, dtype=torch.long, device=device),
                )
                cache, token = step.past_key_values, step.logits[:, -1:].argmax(-1)
        results["decode_tok_per_s"] = round(decode_tokens / results["decode_s"], 2)
    results["peak_memory_gb"] = round(peak_memory_gb(device), 3)
    return results


def run(
    model_dir: Path, quantization: str, device: str, dtype: torch.dtype | None, decode_tokens: int
) -> dict[str, Any]:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    loaded = load_ola(model_dir, quantization=quantization, device=device, dtype=dtype)  # type: ignore[arg-type]
    sync(loaded.device)
    results: dict[str, Any] = {
        "quantization": quantization,
        "device": str(loaded.device),
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "load_s": round(time.perf_counter() - start, 3),
        "memory_after_load_gb": round(peak_memory_gb(loaded.device), 3),
    }
    results |= measure(loaded, decode_tokens)
    del loaded
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, help="an Ola-7b folder (default: write a random one)")
    parser.add_argument(
        "--model-root", type=Path, help="where to write the random checkpoint (default: a temp dir)"
    )
    parser.add_argument(
        "--full-size", action="store_true", help="random checkpoint at Ola-7B's real size (GPU)"
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--dtype", choices=("bf16", "fp32"), help="default: bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--quantization", nargs="+", default=["none"], choices=("none", "nf4", "int8"))
    parser.add_argument("--decode-tokens", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32, None: None}[args.dtype]

    model_dir: Path | None = args.model_dir
    temp: tempfile.TemporaryDirectory[str] | None = None
    if model_dir is None:
        root = args.model_root
        if root is None:
            temp = tempfile.TemporaryDirectory(prefix="ola-bench-")
            root = Path(temp.name)
        model_dir = root / "Ola-7b"
        if not (model_dir / "model.safetensors.index.json").is_file():
            start = time.perf_counter()
            write_tiny_checkpoint(root, seed=0, full_size=args.full_size)
            print(f"wrote random checkpoint in {time.perf_counter() - start:.1f} s", file=sys.stderr)

    report: Callable[[dict[str, Any]], None] = lambda r: print(json.dumps(r), flush=True)  # noqa: E731
    all_results = []
    for quantization in args.quantization:
        result = {
            "model": "full-size" if args.full_size or args.model_dir else "tiny",
            **run(model_dir, quantization, args.device, dtype, args.decode_tokens),
        }
        all_results.append(result)
        report(result)
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=2))
    if temp is not None:
        temp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
