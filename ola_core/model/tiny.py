"""Write random Ola checkpoints in exactly the official file layout: tiny (tests) or full size.

Every loading path of the app is exercised on these files instead of the 20 GB real ones:

    OUT_DIR/Ola-7b/                 config.json (the official keys), generation_config.json,
                                    model-0000i-of-0000n.safetensors + model.safetensors.index.json,
                                    vocab.json, merges.txt, tokenizer.json, tokenizer_config.json, …
    OUT_DIR/Ola_speech_encoders/    large-v3.pt (openai-whisper format, fp16), whisper-tokenizer.json,
                                    BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt ({'cfg','model'}, fp32)

as the two Hugging Face repositories (THUdyh/Ola-7b, THUdyh/Ola_speech_encoders) download. The
``config.json`` is written the way transformers 4.43.4 wrote the official one, with the authors'
encoder paths (which the loader must never trust) and exactly the official keys — plus, at tiny
size only, ``vision_num_layers`` / ``vision_num_heads``, because the official code hard-codes the
ViT's size — so the official code can load it too; that is how the fidelity reference numbers
were made. Values are random but with sensible scales
(activations stay O(1)), and everything is seeded. ``wide_margins=True`` makes the lm_head
favour one successor per token, so that greedy decoding has the same ids on every CPU.

The full-size build (``full_size=True``) has Ola-7B's real shapes (about 18 GB of bf16
safetensors plus 3.2 GB of encoder files): for memory and speed measurements on a GPU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from ola_core.model.beats import BEATS_AS2M_CPT2_CFG, Beats
from ola_core.model.configuration import OLA_MODEL_TYPE, OLA_ROPE_THETA, OlaConfig
from ola_core.model.encoder_files import load_beats_state, load_whisper_encoder_state
from ola_core.model.locator import (
    BEATS_FILE_NAME,
    ENCODERS_DIR_NAME,
    INDEX_NAME,
    OLA_DIR_NAME,
    OLA_REPO,
    WHISPER_FILE_NAME,
    WHISPER_TOKENIZER_NAME,
)
from ola_core.model.modeling import OlaForCausalLM
from ola_core.model.tokenizer_files import write_tokenizer_files
from ola_core.model.whisper import WHISPER_LARGE_V3_DIMS, WhisperEncoder, sinusoids
from ola_core.model.whisper_text import write_tiny_whisper_tokenizer
from ola_core.processing.tokens import ENDOFTEXT, IM_END, QWEN_ENDOFTEXT_ID

# A toy Whisper with the real mel count and context (the encoder needs exactly 3000 mel frames).
TINY_WHISPER_DIMS: dict[str, int] = {
    "n_mels": 128,
    "n_audio_ctx": 1500,
    "n_audio_state": 64,
    "n_audio_head": 4,
    "n_audio_layer": 2,
    "n_vocab": 51866,
    "n_text_ctx": 8,
    "n_text_state": 64,
    "n_text_head": 4,
    "n_text_layer": 1,
}

TINY_BEATS_CFG: dict[str, Any] = {
    **BEATS_AS2M_CPT2_CFG,
    "embed_dim": 16,
    "encoder_layers": 2,
    "encoder_embed_dim": 32,
    "encoder_ffn_embed_dim": 64,
    "encoder_attention_heads": 2,
}

TINY_VOCAB_SIZE = 384  # > len(tiny tokenizer), so loading exercises the official vocab shrink
TINY_SHARDS = 2
# How strongly the tiny lm_head prefers the successor of the current token (see _successor_readout).
SUCCESSOR_GAIN = 150.0
FULL_SHARD_BYTES = 5 * 10**9

TINY_LLM: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
TINY_VISION: dict[str, Any] = {"mm_hidden_size": 32, "vision_num_layers": 2, "vision_num_heads": 2}

# The official generation_config.json (its token ids are remapped to the tokenizer written).
OFFICIAL_GENERATION = {
    "attn_implementation": "flash_attention_2",
    "do_sample": True,
    "repetition_penalty": 1.05,
    "temperature": 0.7,
    "top_k": 20,
    "top_p": 0.8,
}
# Training-script leftovers that the official config.json carries (ignored at inference).
_TRAINING_FIELDS: dict[str, Any] = {
    "freeze_mm_mlp_adapter": False,
    "freeze_mm_vision_resampler": False,
    "freeze_speech_adapter": False,
    "mm_projector_lr": None,
    "mm_speech_encoder_lr": None,
    "mm_vision_tower_lr": None,
    "speech_projector_lr": None,
    "tune_mm_mlp_adapter": False,
    "tune_mm_vision_resampler": False,
    "tune_speech_adapter": False,
    "unfreeze_mm_vision_tower": False,
    "use_cache": True,
}


@dataclass(frozen=True)
class TinyCheckpoint:
    """Where :func:`write_tiny_checkpoint` put the model folder and the two encoder files."""

    model_dir: Path
    speech_encoder_path: Path
    music_encoder_path: Path


def write_tiny_checkpoint(
    out_dir: Path, seed: int = 0, full_size: bool = False, wide_margins: bool = False
) -> TinyCheckpoint:
    """Write a random Ola checkpoint (model folder + encoder folder) under ``out_dir``.

    ``wide_margins`` (tiny only) shapes lm_head so that greedy decoding has wide top-1 margins
    (see :func:`_successor_readout`): the checkpoint of the fidelity fixtures, whose greedy ids
    must be the same on every CPU. Without it the answers are plain random gibberish, which is
    what the app's own tests (sampling, speaking, stopping) want.
    """
    if wide_margins and full_size:
        raise ValueError("wide_margins shapes the tiny checkpoint only")
    out_dir = Path(out_dir)
    model_dir, encoders_dir = out_dir / OLA_DIR_NAME, out_dir / ENCODERS_DIR_NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    whisper_dims = WHISPER_LARGE_V3_DIMS if full_size else TINY_WHISPER_DIMS
    beats_cfg = BEATS_AS2M_CPT2_CFG if full_size else TINY_BEATS_CFG
    whisper_path = write_tiny_whisper_file(encoders_dir / WHISPER_FILE_NAME, seed=seed, dims=whisper_dims)
    write_tiny_whisper_tokenizer(encoders_dir / WHISPER_TOKENIZER_NAME)  # captions read its words
    beats_path = write_tiny_beats_file(encoders_dir / BEATS_FILE_NAME, seed=seed + 1, cfg=beats_cfg)

    special_ids = write_tokenizer_files(
        model_dir,
        model_max_length=16384,
        first_special_id=QWEN_ENDOFTEXT_ID if full_size else None,
    )
    config = tiny_config(special_ids, whisper_dims, beats_cfg) if not full_size else full_config(special_ids)
    (model_dir / "config.json").write_text(json.dumps(official_config_dict(config), indent=2))
    generation = {
        **OFFICIAL_GENERATION,
        "bos_token_id": special_ids[ENDOFTEXT],
        "eos_token_id": [special_ids[IM_END], special_ids[ENDOFTEXT]],
        "pad_token_id": special_ids[ENDOFTEXT],
        "transformers_version": "4.43.4",
    }
    (model_dir / "generation_config.json").write_text(json.dumps(generation, indent=2))

    tensors = random_state_dict(config, seed, whisper_path, beats_path, wide_margins)
    if full_size:
        _write_shards(model_dir, tensors, FULL_SHARD_BYTES)
    else:  # small enough to hold: split evenly, so that loading goes through the sharded path
        items = list(tensors)
        total = sum(t.numel() * t.element_size() for _, t in items)
        _write_shards(model_dir, iter(items), math.ceil(total / TINY_SHARDS))
    return TinyCheckpoint(model_dir, whisper_path, beats_path)


def tiny_config(
    special_ids: dict[str, int], whisper_dims: dict[str, int], beats_cfg: dict[str, Any]
) -> OlaConfig:
    """Ola's configuration at toy size: the LLM, ViT and encoders shrunk, all Ola fields kept."""
    return OlaConfig(
        **TINY_LLM,
        **TINY_VISION,
        vocab_size=TINY_VOCAB_SIZE,
        bos_token_id=special_ids[ENDOFTEXT],
        eos_token_id=special_ids[IM_END],
        speech_encoder_hidden_size=whisper_dims["n_audio_state"] + beats_cfg["encoder_embed_dim"],
        speech_whisper_dims=dict(whisper_dims),
        speech_beats_cfg=dict(beats_cfg),
    )


def full_config(special_ids: dict[str, int]) -> OlaConfig:
    """Ola-7B's configuration (all defaults), with the tokenizer's special ids."""
    return OlaConfig(bos_token_id=special_ids[ENDOFTEXT], eos_token_id=special_ids[IM_END])


def official_config_dict(config: OlaConfig) -> dict[str, Any]:
    """``config`` as transformers 4.43.4 wrote Ola's config.json (``rope_theta``, ``torch_dtype``…)."""
    ours = config.to_dict()
    rope = ours.pop("rope_parameters", None) or {}
    data: dict[str, Any] = {
        "_name_or_path": OLA_REPO,
        "architectures": ["OmniSpeechVisionQwenForCausalLM"],
        "attention_dropout": 0.0,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "max_position_embeddings": config.max_position_embeddings,
        "max_window_layers": config.max_window_layers,
        "model_type": OLA_MODEL_TYPE,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_scaling": None,
        "rope_theta": rope.get("rope_theta", OLA_ROPE_THETA),
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.43.4",
        "use_sliding_window": False,
        **_TRAINING_FIELDS,
    }
    keep = [
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "bos_token_id",
        "eos_token_id",
        "mm_vision_tower",
        "mm_vision_select_layer",
        "mm_vision_select_feature",
        "mm_projector_type",
        "mm_hidden_size",
        "mm_resampler_type",
        "mm_use_im_start_end",
        "mm_use_im_patch_token",
        "use_mm_proj",
        "speech_encoder",
        "music_encoder",
        "speech_encoder_type",
        "speech_projector_type",
        "speech_encoder_ds_rate",
        "speech_encoder_hidden_size",
        "tokenizer_model_max_length",
        "tokenizer_padding_side",
    ]
    data.update({key: ours[key] for key in keep})
    # The official key set exactly; the one addition is the ViT's size where it is not full size
    # (the official code hard-codes it). The encoders' sizes are in their files, never here.
    default = OlaConfig()
    for key in ("vision_num_layers", "vision_num_heads"):
        if ours[key] != getattr(default, key):
            data[key] = ours[key]
    return dict(sorted(data.items()))


# --- weights ---------------------------------------------------------------------------------------


def random_state_dict(
    config: OlaConfig, seed: int, whisper_path: Path, beats_path: Path, wide_margins: bool = False
) -> Iterator[tuple[str, Tensor]]:
    """Every checkpoint tensor, in module order, as stored officially (bf16; BEATs fp32).

    The speech encoder's copy inside the safetensors holds the encoder files' values (the
    official shards carry such a copy; the loader takes the files' values regardless).
    """
    with torch.device("meta"):
        skeleton = OlaForCausalLM(config)
    _, whisper_state = load_whisper_encoder_state(whisper_path)
    _, beats_state = load_beats_state(beats_path)
    copies = {
        f"model.speech_encoder.whisper_model.{k}": v.to(torch.bfloat16) for k, v in whisper_state.items()
    }
    copies |= {f"model.speech_encoder.beats_model.{k}": v.float() for k, v in beats_state.items()}
    generator = torch.Generator().manual_seed(seed)
    owners = {
        f"{name}.{p}" if name else p: m
        for name, m in skeleton.named_modules()
        for p, _ in m.named_parameters(recurse=False)
    }
    embed: Tensor | None = None
    for key, meta in skeleton.state_dict().items():
        if key in copies:
            yield key, copies[key].clone().contiguous()
            continue
        value = _random_tensor(key, meta, owners.get(key), generator)
        if key == "model.embed_tokens.weight":
            embed = value
        elif key == "lm_head.weight" and embed is not None and wide_margins:
            value = value + _successor_readout(embed, generator)
        yield key, value.to(torch.bfloat16)


def _successor_readout(embed: Tensor, generator: torch.Generator) -> Tensor:
    """An lm_head component that reads "the token after the current one" from the residual stream.

    Row ``succ[t]`` of it is token ``t``'s embedding, so the logit of the successor of the last
    token stands ``SUCCESSOR_GAIN`` random-logit deviations above the rest. Greedy decoding then
    has a wide top-1 margin at every step (far above the differences between CPU kernels, at bf16
    too), so greedy ids are comparable across machines; the random part still makes every logit
    depend on the whole context, which the logit comparisons check.
    """
    rows, width = embed.shape
    succ = torch.randperm(rows, generator=generator)
    readout = torch.empty_like(embed)
    readout[succ] = embed
    return readout * (SUCCESSOR_GAIN / width)


def _random_tensor(key: str, meta: Tensor, owner: nn.Module | None, generator: torch.Generator) -> Tensor:
    """A random value of sensible scale for one parameter, by the kind of module that owns it."""
    noise = torch.randn(meta.shape, generator=generator)
    if owner is not None and "Norm" in type(owner).__name__:  # LayerNorm / RMSNorm
        return 1.0 + 0.1 * noise if key.endswith("weight") else 0.1 * noise
    if key.endswith("pos_embed"):
        return 0.5 * noise
    if key.endswith("embed_tokens.weight"):
        return noise  # unit scale, like the normalised hidden states they join
    if meta.ndim >= 2:  # weight matrices: N(0, 1/fan_in) keeps activations O(1)
        gain = 2.0 if key == "lm_head.weight" else 1.0  # sharper logits: unambiguous greedy tokens
        return noise * (gain / math.sqrt(meta[0].numel()))
    if key.endswith("bias"):
        return 0.1 * noise
    return noise / math.sqrt(meta.numel())  # learned marker embeddings (image_newline, …)


def _write_shards(model_dir: Path, tensors: Iterator[tuple[str, Tensor]], max_shard_bytes: int) -> None:
    """Official sharding: ``model-0000i-of-0000n.safetensors`` plus the index with the weight map.

    Shards are written as they fill, so a full-size build never holds more than one in memory.
    """
    for old in model_dir.glob("model*.safetensors*"):
        old.unlink()
    temp_names: list[str] = []
    weight_maps: list[list[str]] = []
    shard: dict[str, Tensor] = {}
    size = total = 0

    def flush() -> None:
        temp_names.append(f"partial-{len(temp_names):05d}.safetensors")
        save_file(shard, str(model_dir / temp_names[-1]), metadata={"format": "pt"})
        weight_maps.append(list(shard))
        shard.clear()

    for key, tensor in tensors:
        nbytes = tensor.numel() * tensor.element_size()
        if shard and size + nbytes > max_shard_bytes:
            flush()
            size = 0
        shard[key] = tensor
        size += nbytes
        total += nbytes
    flush()
    n = len(temp_names)
    weight_map: dict[str, str] = {}
    for i, (temp, keys) in enumerate(zip(temp_names, weight_maps, strict=True)):
        name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        (model_dir / temp).rename(model_dir / name)
        weight_map.update(dict.fromkeys(keys, name))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (model_dir / INDEX_NAME).write_text(json.dumps(index, indent=2))


# --- the two encoder files --------------------------------------------------------------------


def _randomize(
    tensors: Mapping[str, Tensor], generator: torch.Generator, dtype: torch.dtype
) -> dict[str, Tensor]:
    """Random values with sensible scales: matrices ~ N(0, 1/fan_in), norms ≈ 1, biases small.

    Sensible scales keep activations O(1) through the toy encoders, so reference comparisons test
    real arithmetic rather than saturated or vanishing values. Each tensor is cast to ``dtype``
    as soon as it is drawn, so a full-size file never needs a full fp32 copy in memory.
    """
    out = {}
    for name, t in tensors.items():
        noise = torch.randn(t.shape, generator=generator)
        if t.ndim >= 2 and not name.endswith(("weight_g", "grep_a")):
            value = noise * (t[0].numel() ** -0.5)
        elif name.endswith(("ln.weight", "layer_norm.weight", "ln_post.weight", "weight_g", "grep_a")):
            value = 1.0 + 0.1 * noise
        else:
            value = 0.1 * noise
        out[name] = value.to(dtype)
    return out


def _whisper_decoder_shapes(dims: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    """The openai-whisper decoder's tensor shapes (``decoder.*``), for complete toy checkpoints."""
    c, ctx = dims["n_text_state"], dims["n_text_ctx"]
    shapes: dict[str, tuple[int, ...]] = {
        "decoder.positional_embedding": (ctx, c),
        "decoder.token_embedding.weight": (dims["n_vocab"], c),
    }
    for i in range(dims["n_text_layer"]):
        block = f"decoder.blocks.{i}"
        for attn in ("attn", "cross_attn"):
            for proj in ("query", "key", "value", "out"):
                shapes[f"{block}.{attn}.{proj}.weight"] = (c, c)
                if proj != "key":
                    shapes[f"{block}.{attn}.{proj}.bias"] = (c,)
        for ln in ("attn_ln", "cross_attn_ln", "mlp_ln"):
            shapes[f"{block}.{ln}.weight"] = shapes[f"{block}.{ln}.bias"] = (c,)
        shapes[f"{block}.mlp.0.weight"], shapes[f"{block}.mlp.0.bias"] = (4 * c, c), (4 * c,)
        shapes[f"{block}.mlp.2.weight"], shapes[f"{block}.mlp.2.bias"] = (c, 4 * c), (c,)
    shapes["decoder.ln.weight"] = shapes["decoder.ln.bias"] = (c,)
    return shapes


def write_tiny_whisper_file(
    path: str | Path, seed: int = 0, dims: Mapping[str, int] = TINY_WHISPER_DIMS
) -> Path:
    """Write a random openai-whisper checkpoint in large-v3.pt's format (fp16, decoder included).

    ``dims=WHISPER_LARGE_V3_DIMS`` writes a full-size file (3 GB, like the real one).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        encoder = WhisperEncoder.from_dims(dims)
    params: dict[str, Tensor] = {f"encoder.{k}": v for k, v in encoder.named_parameters()}
    params |= {k: torch.empty(shape, device="meta") for k, shape in _whisper_decoder_shapes(dims).items()}
    state = _randomize(params, generator, torch.float16)
    # The encoder's position table is the fixed sinusoid table in the real file too.
    state["encoder.positional_embedding"] = sinusoids(dims["n_audio_ctx"], dims["n_audio_state"]).half()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dict(dims), "model_state_dict": state}, path)
    return path


def write_tiny_beats_file(path: str | Path, seed: int = 0, cfg: Mapping[str, Any] = TINY_BEATS_CFG) -> Path:
    """Write a random BEATs checkpoint in the official ``{'cfg', 'model'}`` format (fp32).

    ``cfg=BEATS_AS2M_CPT2_CFG`` writes a full-size file.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        beats = Beats.from_cfg(cfg)
    state = _randomize(beats.state_dict(), generator, torch.float32)
    # The relative position table is one tensor listed under every layer: keep it one tensor.
    shared = [k for k in state if k.endswith("self_attn.relative_attention_bias.weight")]
    for key in shared[1:]:
        state[key] = state[shared[0]]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"cfg": dict(cfg), "model": state}, path)
    return path
