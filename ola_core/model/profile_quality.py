"""What a profile's levers cost in outputs: its model against the unquantized one, same weights.

Measured on the tiny checkpoint (bitsandbytes' CPU backend quantizes like its CUDA one, block
for block), so the figures come without a GPU: the LLM's logits teacher-forced over a reference
greedy continuation (max and mean absolute delta, top-1 agreement), the candidate's own greedy
run (how many steps before it first departs), and the encoders' outputs (relative error).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


@torch.no_grad()
def logit_agreement(
    reference: nn.Module, candidate: nn.Module, prompt: Tensor, steps: int
) -> dict[str, float]:
    """Greedy ``steps`` tokens of ``reference`` from ``prompt`` (1, L); both models scored on them."""
    ref_ids = _greedy(reference, prompt, steps)
    ref_logits = _logits(reference, ref_ids)[:, prompt.shape[1] - 1 : -1]
    cand_logits = _logits(candidate, ref_ids)[:, prompt.shape[1] - 1 : -1]
    delta = (cand_logits - ref_logits).abs()
    cand_ids = _greedy(candidate, prompt, steps)
    new_ref, new_cand = ref_ids[0, prompt.shape[1] :], cand_ids[0, prompt.shape[1] :]
    departed = (new_ref != new_cand).nonzero()
    return {
        "steps": float(steps),
        "logit_max_abs_delta": float(delta.max()),
        "logit_mean_abs_delta": float(delta.mean()),
        "logit_scale": float(ref_logits.std()),
        "teacher_forced_top1_agreement": float(
            (cand_logits.argmax(-1) == ref_logits.argmax(-1)).float().mean()
        ),
        "free_run_agreement": float((new_ref == new_cand).float().mean()),
        "free_run_first_departure": float(departed[0, 0]) if len(departed) else float(steps),
    }


@torch.no_grad()
def encoder_errors(reference: nn.Module, candidate: nn.Module, seed: int = 0) -> dict[str, float]:
    """Relative error (‖Δ‖/‖ref‖) of the speech encoder (Whisper + BEATs) and the ViT outputs."""
    generator = torch.Generator().manual_seed(seed)
    speech: Any = reference.get_submodule("model.speech_encoder")
    whisper = speech.whisper_model
    mels = torch.randn(
        1, 2 * whisper.positional_embedding.shape[0], whisper.conv1.in_channels, generator=generator
    )
    wavs = torch.zeros(1, 480000)
    wavs[0, :80000] = 0.1 * torch.randn(80000, generator=generator)
    pixels = torch.rand(2, 3, 64, 96, generator=generator) * 2 - 1
    errors: dict[str, float] = {}
    for name, run in (
        ("speech_encoder", lambda m: m.get_submodule("model.speech_encoder")(mels, wavs)),
        ("vision", lambda m: m.get_submodule("model.vision_tower").forward_batch(pixels)[0]),
    ):
        ref, cand = run(reference).float(), run(candidate).float()
        errors[f"{name}_relative_error"] = float((cand - ref).norm() / ref.norm().clamp_min(1e-12))
    return errors


def _logits(model: Any, ids: Tensor) -> Tensor:
    out: Any = model(input_ids=ids.to(model.device))
    return out.logits.float().cpu()


def _greedy(model: Any, prompt: Tensor, steps: int) -> Tensor:
    """Greedy continuation with a KV cache (no EOS stop: a fixed number of compared steps)."""
    ids = prompt.to(model.device)
    out: Any = model(input_ids=ids, use_cache=True)
    tokens = [ids]
    for _ in range(steps):
        next_id = out.logits[:, -1].argmax(-1, keepdim=True)
        tokens.append(next_id)
        out = model(input_ids=next_id, past_key_values=out.past_key_values, use_cache=True)
    return torch.cat(tokens, dim=1).cpu()
