"""The memory levers of the profiles, as real module swaps: bitsandbytes layers and a CPU-kept embedding.

Each lever replaces modules in place with the type that holds the weights the cheaper way, so
that the same function serves the loader (on the real weights) and the accounting of
:mod:`ola_core.model.profiles` (on the meta device, where nothing is allocated):

- :func:`quantize_linears`: every ``nn.Linear`` under a module becomes bitsandbytes'
  ``Linear8bitLt`` (int8 weights + one fp32 scale per row) or ``Linear4bit`` (NF4, double-quantized
  block scales). The weights are quantized by bitsandbytes when the module is moved to a real
  device (its CPU backend does both kinds, so the tiny checkpoint measures their numerics here).
- :class:`CpuEmbedding`: the 0.5 B-parameter token table stays in RAM; a turn looks up its few
  hundred rows there and copies them to the GPU (tens of kB per turn instead of 1 GB of VRAM).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import torch
from torch import Tensor, nn

LinearQuantization = Literal["int8", "nf4"]
# bitsandbytes' defaults: 64 weights per NF4 block; double quantization packs 256 block scales per block.
NF4_BLOCKSIZE = 64
NESTED_BLOCKSIZE = 256


class CpuEmbedding(nn.Module):
    """An embedding table kept on the CPU whose lookups come out on ``output_device``.

    The table is deliberately not registered as a parameter: ``model.to(cuda)`` leaves it in RAM,
    ``model.device`` stays the GPU's (transformers builds its tensors there), and the table is not
    in the model's state dict (the loader swaps this in after the weights are loaded).
    ``weight`` and ``num_embeddings`` mirror ``nn.Embedding``'s so callers need not know.
    """

    def __init__(self, embedding: nn.Embedding, output_device: torch.device) -> None:
        super().__init__()
        object.__setattr__(
            self, "_table", embedding.to("cpu") if embedding.weight.device.type != "meta" else embedding
        )
        self.output_device = torch.device(output_device)

    @property
    def table(self) -> nn.Embedding:
        table: nn.Embedding = object.__getattribute__(self, "_table")
        return table

    @property
    def weight(self) -> Tensor:
        return self.table.weight

    @property
    def num_embeddings(self) -> int:
        return self.table.num_embeddings

    @property
    def embedding_dim(self) -> int:
        return self.table.embedding_dim

    def forward(self, ids: Tensor) -> Tensor:
        rows = self.table(ids.to(self.table.weight.device))
        return rows.to(self.output_device, non_blocking=True)

    def _apply(self, fn: Any, recurse: bool = True) -> CpuEmbedding:
        """Device and dtype moves of the whole model leave the table where it is, by design."""
        return self


def keep_embeddings_on_cpu(model: nn.Module, output_device: torch.device) -> CpuEmbedding:
    """Swap ``model.model.embed_tokens`` for a :class:`CpuEmbedding`; returns it."""
    inner = model.get_submodule("model")
    current = inner.embed_tokens
    if isinstance(current, CpuEmbedding):
        return current
    if not isinstance(current, nn.Embedding):
        raise TypeError(f"expected nn.Embedding for embed_tokens, got {type(current).__name__}")
    cpu = CpuEmbedding(current, output_device)
    inner.embed_tokens = cpu
    if output_device.type == "cuda":
        torch.cuda.empty_cache()
    return cpu


def quantize_linears(root: nn.Module, kind: LinearQuantization, compute_dtype: torch.dtype) -> int:
    """Replace every ``nn.Linear`` under ``root`` (``root`` itself included) by bitsandbytes' type.

    Returns the number replaced. The new modules hold the original weights wrapped for
    quantization and sit on the original device; a later ``.to(device)`` quantizes them (on the
    meta device they stay unquantized placeholders, which :func:`linear_weight_bytes` sizes).
    """
    import bitsandbytes as bnb

    if kind == "int8":  # on the CPU it logs a cast warning per layer and call; expected
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    if isinstance(root, nn.Linear):
        raise ValueError("quantize_linears replaces children; pass the module that holds the Linear")
    replaced = 0
    for parent in list(root.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Linear:  # exact type: bitsandbytes' layers subclass nn.Linear
                continue
            weight = child.weight.data
            new: nn.Module
            if kind == "int8":
                new = bnb.nn.Linear8bitLt(
                    child.in_features, child.out_features, bias=child.bias is not None,
                    has_fp16_weights=False, threshold=6.0, device="meta",
                )  # fmt: skip
                new.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
            else:
                new = bnb.nn.Linear4bit(
                    child.in_features, child.out_features, bias=child.bias is not None,
                    compute_dtype=compute_dtype, compress_statistics=True, quant_type="nf4", device="meta",
                )  # fmt: skip
                new.weight = bnb.nn.Params4bit(
                    weight, requires_grad=False, compress_statistics=True, quant_type="nf4",
                    blocksize=NF4_BLOCKSIZE,
                )  # fmt: skip
            if child.bias is not None:
                new.bias = nn.Parameter(child.bias.data.to(compute_dtype), requires_grad=False)
            setattr(parent, name, new)
            replaced += 1
    return replaced


def int8_bytes(out_features: int, in_features: int) -> int:
    """Bytes of an ``Int8Params`` weight: one int8 per weight and one fp32 scale (SCB) per row."""
    return out_features * in_features + 4 * out_features


def nf4_bytes(numel: int) -> int:
    """Bytes of a double-quantized NF4 ``Params4bit`` of ``numel`` weights, as bitsandbytes stores it.

    Two weights per byte; one uint8 scale per 64-weight block, whose own fp32 scales come one
    per 256 blocks, plus the 256-entry fp32 code of that second quantization, its fp32 offset and
    the 16-entry NF4 code. :func:`tests.model.test_profiles` checks this against real quantization.
    """
    blocks = math.ceil(numel / NF4_BLOCKSIZE)
    nested = math.ceil(blocks / NESTED_BLOCKSIZE)
    return math.ceil(numel / 2) + blocks + 4 * nested + 4 * 256 + 4 + 4 * 16


def parameter_bytes(module: nn.Module, seen: set[int] | None = None) -> int:
    """Bytes that ``module``'s own (non-recursive) parameters and buffers take on their device.

    Quantized bitsandbytes weights count as stored (packed data + scales); their placeholders on
    the meta device count at the size they will have once quantized. Tensors whose id is in
    ``seen`` (tied weights met before) are skipped, and the others added to it.
    """
    import bitsandbytes as bnb

    seen = set() if seen is None else seen
    total = 0
    for name, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if name == "weight" and isinstance(tensor, bnb.nn.Params4bit):
            state = tensor.quant_state
            if state is None:
                total += nf4_bytes(tensor.numel())
            else:
                total += _tensor_bytes(tensor) + sum(_tensor_bytes(t) for t in _quant_state_tensors(state))
        elif name == "weight" and isinstance(tensor, bnb.nn.Int8Params):
            if tensor.dtype == torch.int8:
                scb = getattr(tensor, "SCB", None)
                total += _tensor_bytes(tensor) + (_tensor_bytes(scb) if scb is not None else 0)
            else:
                total += int8_bytes(tensor.shape[0], tensor.shape[1])
        else:
            total += _tensor_bytes(tensor)
    return total


def _tensor_bytes(tensor: Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _quant_state_tensors(state: Any) -> list[Tensor]:
    tensors = [state.absmax, state.code]
    if getattr(state, "offset", None) is not None:
        tensors.append(state.offset)
    nested = getattr(state, "state2", None)
    if nested is not None:
        tensors += [nested.absmax, nested.code]
    return [t for t in tensors if isinstance(t, Tensor)]
