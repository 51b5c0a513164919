"""Memory profiles (8 GB / 12 GB / 24 GB+): which levers each turns on, and what each part then weighs.

A profile is picked from the card's free memory (:func:`pick_profile`, overridable in Settings →
Model and with ``--profile``). Its levers are applied to the loaded model by :func:`apply_profile`
(module swaps of :mod:`ola_core.model.levers`), and the same swaps on the meta device give the
bytes of every part (:func:`account_ola`), so the figures the setup shows and the loader checks
are those of the real module types, not a hand formula.

- **8 GB**: NF4 LLM layers, lm_head int8, embed_tokens on the CPU, Whisper and OryxViT int8,
  BEATs bf16, CosyVoice2's LM bf16 and flow fp16, prompts prefilled 512 tokens at a time and
  the ViT run over 2 frames at a time; the KV cache gets what is left (8k tokens targeted).
- **12 GB**: NF4 LLM layers and embed_tokens on the CPU (exact, so free of quality cost);
  everything else in bf16 (BEATs fp32, as officially).
- **24 GB+**: bf16 throughout, the official dtype.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from ola_core.model.configuration import OlaConfig
from ola_core.model.levers import (
    CpuEmbedding,
    keep_embeddings_on_cpu,
    parameter_bytes,
    quantize_linears,
)

ProfileName = Literal["8gb", "12gb", "24gb"]
PROFILE_NAMES: tuple[ProfileName, ...] = ("8gb", "12gb", "24gb")
GIB = 2**30

# Where each part of Ola lives in the module tree (first match wins).
OLA_PARTS: tuple[tuple[str, str], ...] = (
    ("llm_layers", "model.layers"),
    ("embed_tokens", "model.embed_tokens"),
    ("lm_head", "lm_head"),
    ("whisper", "model.speech_encoder.whisper_model"),
    ("beats", "model.speech_encoder.beats_model"),
    ("vision", "model.vision_tower"),
    ("projectors", "model.mm_projector"),
    ("projectors", "model.speech_projector"),
    ("norm", "model.norm"),
)


@dataclass(frozen=True)
class Profile:
    """The levers of one memory profile. ``peak_gib``: the CUDA peak it is built to stay under."""

    name: str  # a ProfileName, or "custom" for the loader's plain quantization choices
    label: str
    peak_gib: float
    llm_layers: Literal["none", "nf4", "int8"]
    lm_head_int8: bool
    embed_on_cpu: bool
    encoders: Literal["none", "int8", "nf4"]  # Whisper and OryxViT
    beats_dtype: torch.dtype
    cosyvoice_lm_dtype: torch.dtype
    cosyvoice_flow_dtype: torch.dtype
    prefill_chunk: int | None  # tokens per prefill step; None: the whole prompt at once
    vit_frames_per_step: int | None  # camera frames per ViT call; None: all at once
    target_context: int  # tokens of KV cache the profile is sized for


PROFILES: dict[ProfileName, Profile] = {
    "8gb": Profile(
        "8gb", "8 GB", 7.3, "nf4", True, True, "int8", torch.bfloat16, torch.bfloat16, torch.float16,
        512, 2, 8192,
    ),
    "12gb": Profile(
        "12gb", "12 GB", 10.0, "nf4", False, True, "none", torch.float32, torch.bfloat16, torch.float16,
        2048, None, 16384,
    ),
    "24gb": Profile(
        "24gb", "24 GB+", 22.0, "none", False, False, "none", torch.float32, torch.float16, torch.float16,
        None, None, 32768,
    ),
}  # fmt: skip

# Beside the parts' weights on the GPU while a turn runs: encoder and prefill activations with the
# profile's chunking (measured by `bench gpu`), and the allocator's slack.
ACTIVATION_BYTES: dict[str, int] = {
    "8gb": int(0.45 * GIB), "12gb": int(0.6 * GIB), "24gb": int(1.0 * GIB), "custom": int(0.75 * GIB),
}  # fmt: skip


def custom_profile(quantization: Literal["none", "nf4", "int8"]) -> Profile:
    """No lever but the LLM layers' quantization: what ``load_ola(quantization=...)`` alone loads."""
    base = PROFILES["24gb"]
    return Profile(
        "custom", quantization, base.peak_gib, quantization, False, False, "none", torch.float32,
        base.cosyvoice_lm_dtype, base.cosyvoice_flow_dtype, base.prefill_chunk, None, base.target_context,
    )  # fmt: skip


def pick_profile(free_bytes: int | None) -> Profile:
    """The largest profile whose peak fits in ``free_bytes`` of GPU memory (None: no GPU → 24 GB, bf16 on CPU)."""
    if free_bytes is None:
        return PROFILES["24gb"]
    for name in ("24gb", "12gb"):
        if free_bytes >= PROFILES[name].peak_gib * GIB:
            return PROFILES[name]
    return PROFILES["8gb"]


def free_gpu_bytes() -> int | None:
    """``torch.cuda.mem_get_info``'s free bytes of the current device; None without CUDA."""
    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return int(free)


def profile_for(name: str | None, free_bytes: int | None) -> Profile:
    """``name`` ("8gb", "12gb", "24gb") when given, else the profile picked from ``free_bytes``."""
    if name in (None, "", "auto"):
        return pick_profile(free_bytes)
    if name not in PROFILES:
        raise ValueError(f"unknown memory profile {name!r}; choose one of {', '.join(PROFILE_NAMES)} or auto")
    return PROFILES[name]


def resolve_profile(name: str, quantization: Literal["none", "nf4", "int8"], device: str) -> Profile | None:
    """The profile a load uses for the setting ``name`` (Settings → Model, ``--profile``).

    "auto": picked from the GPU's free memory, and no profile on the CPU (there ``quantization``
    applies, as it always did); "custom": only ``quantization``; else that profile by name.
    """
    if name == "custom":
        return custom_profile(quantization)
    if name == "auto":
        if device == "cpu" or not torch.cuda.is_available():
            return None
        return pick_profile(free_gpu_bytes())
    return profile_for(name, None)


def describe(profile: Profile, gpu_name: str | None, total_gb: float | None) -> str:
    """The line setup, Settings and ``download`` show, e.g. "RTX 4060, 8 GB: 8 GB profile"."""
    if gpu_name is None:
        return f"no GPU: {profile.label} profile (bf16 on the CPU)"
    return f"{gpu_name}, {total_gb:.0f} GB: {profile.label} profile"


# --- applying the levers ---------------------------------------------------------------------------


def apply_profile(model: nn.Module, profile: Profile, device: torch.device, dtype: torch.dtype) -> None:
    """Apply the levers the loader does not (the LLM layers are quantized while loading).

    lm_head to int8, Whisper and OryxViT to int8/NF4, BEATs to its dtype, embed_tokens to the CPU.
    Swapped modules are moved to ``device``, which is when bitsandbytes quantizes them.
    """
    if profile.lm_head_int8:
        quantize_linears_of(model, "lm_head", "int8", dtype)
    if profile.encoders != "none":
        for path in ("model.speech_encoder.whisper_model", "model.vision_tower.vision_tower"):
            quantize_linears(model.get_submodule(path), profile.encoders, dtype)
    encoder: Any = model.get_submodule("model.speech_encoder")
    encoder.beats_dtype = profile.beats_dtype
    encoder.get_submodule("beats_model").to(profile.beats_dtype)
    if profile.vit_frames_per_step:
        chunk_vit_frames(model.get_submodule("model.vision_tower"), profile.vit_frames_per_step)
    if device.type != "meta":
        model.to(device)
    if profile.embed_on_cpu:
        keep_embeddings_on_cpu(model, device)


def chunk_vit_frames(tower: Any, frames_per_step: int) -> None:
    """Run the ViT over a video's frames ``frames_per_step`` at a time (frames are independent).

    Bounds the ViT's activation peak, which grows with the frames of a turn, to that of a few.
    """
    whole = tower.vision_tower.forward_batch

    def forward_batch(pixels: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        pieces = [whole(pixels[i : i + frames_per_step]) for i in range(0, len(pixels), frames_per_step)]
        return torch.cat([features for features, _ in pieces]), pieces[0][1]

    tower.forward_batch = forward_batch


def quantize_linears_of(
    model: nn.Module, name: str, kind: Literal["int8", "nf4"], dtype: torch.dtype
) -> None:
    """Quantize the single Linear ``model.<name>`` (a top-level child, e.g. lm_head)."""
    holder = nn.Module()
    holder.add_module(name, model.get_submodule(name))
    quantize_linears(holder, kind, dtype)
    setattr(model, name, holder.get_submodule(name))


# --- accounting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """Bytes per part on the GPU (``gpu``) and in RAM (``cpu``) for one profile, plus the KV budget."""

    profile: str
    gpu: dict[str, int]
    cpu: dict[str, int]
    kv_bytes_per_token: int
    activation_bytes: int

    @property
    def ola_weight_bytes(self) -> int:
        return sum(v for k, v in self.gpu.items() if not k.startswith("cosyvoice"))

    @property
    def weight_bytes(self) -> int:
        return sum(self.gpu.values())

    def context_limit(self, budget_bytes: int) -> int:
        """Tokens of KV cache that fit in ``budget_bytes`` beside the weights and activations."""
        left = budget_bytes - self.weight_bytes - self.activation_bytes
        return max(0, left // self.kv_bytes_per_token)

    def required_bytes(self, context_tokens: int) -> int:
        return self.weight_bytes + self.activation_bytes + context_tokens * self.kv_bytes_per_token


def part_bytes(
    model: nn.Module, parts: tuple[tuple[str, str], ...] = OLA_PARTS
) -> tuple[dict[str, int], dict[str, int]]:
    """(GPU bytes, CPU bytes) per part of ``model``, from its modules' actual storage types."""
    gpu: dict[str, int] = {}
    cpu: dict[str, int] = {}
    seen: set[int] = set()
    for name, module in model.named_modules():
        part = next((p for p, prefix in parts if name == prefix or name.startswith(prefix + ".")), "other")
        if isinstance(module, CpuEmbedding):
            cpu[part] = cpu.get(part, 0) + parameter_bytes(module.table, seen)
            continue
        gpu[part] = gpu.get(part, 0) + parameter_bytes(module, seen)
    return {k: v for k, v in gpu.items() if v}, cpu


def kv_bytes_per_token(config: Any, dtype: torch.dtype = torch.bfloat16) -> int:
    """Bytes the KV cache takes per position: keys and values of every layer (the one place this
    is computed: the profiles' accounting and the engine's context limit both use it)."""
    text_config = config.get_text_config()
    heads = text_config.num_key_value_heads or text_config.num_attention_heads
    head_dim = (
        getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads
    )
    element = torch.finfo(dtype).bits // 8 if dtype.is_floating_point else 2
    return 2 * text_config.num_hidden_layers * heads * head_dim * element


def ola_on_meta(config: OlaConfig, profile: Profile, dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """The model as the profile loads it, built on the meta device: every lever swapped in."""
    from ola_core.model.modeling import OlaForCausalLM

    with torch.device("meta"):
        model: Any = OlaForCausalLM(config)
        model.to(dtype)
        if profile.llm_layers != "none":
            quantize_linears(model.get_submodule("model.layers"), profile.llm_layers, dtype)
        apply_profile(model, profile, torch.device("meta"), dtype)
    return model


def account_ola(
    config: OlaConfig,
    profile: Profile,
    dtype: torch.dtype = torch.bfloat16,
    voice_bytes: Mapping[str, int] | None = None,
) -> Account:
    """Bytes of every part of Ola under ``profile``, counted on meta, plus the voice's parts on the
    GPU (``voice_bytes``, keys ``cosyvoice_*``: :func:`ola_core.speech.cosyvoice.memory.cosyvoice_bytes`
    at the profile's dtypes; the model package does not import the speech package)."""
    gpu, cpu = part_bytes(ola_on_meta(config, profile, dtype))
    gpu.update(voice_bytes or {})
    return Account(profile.name, gpu, cpu, kv_bytes_per_token(config, dtype), ACTIVATION_BYTES[profile.name])
