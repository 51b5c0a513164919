"""Decoding settings of the official checkpoint, as infer.py effectively runs them.

``THUdyh/Ola-7b/generation_config.json`` holds ``top_k 20``, ``repetition_penalty 1.05``,
``temperature 0.7``, ``top_p 0.8``, eos ``[151645, 151643]``, pad/bos 151643. infer.py then
passes ``temperature=0.2`` and ``top_p=None``; transformers 4.43 merges the two, so the effective
pipeline is repetition penalty 1.05 → temperature 0.2 → top-k 20, no nucleus filtering
(docs/official-ola.md §4.4). The official "greedy" call (``temperature=0``, as lmms-eval uses) is argmax
*after* the repetition penalty, which still applies.

transformers 5 fills every field left ``None`` in a passed ``GenerationConfig`` from the model's
own ``generation_config.json`` — which would bring back its ``top_p 0.8`` — so
:meth:`DecodingSettings.to_generation_config` sets every field explicitly (``top_p=1.0`` is
"no nucleus filtering"). Generating from ``inputs_embeds`` (as the official and our engine do),
transformers warns that the penalty applies to new tokens only: that is the official behaviour.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ola_core.errors import CorruptModelFileError

if TYPE_CHECKING:
    from transformers import GenerationConfig

# The official checkpoint's ids (Qwen2.5): <|im_end|>, <|endoftext|>.
OLA_EOS_TOKEN_IDS = (151645, 151643)
OLA_PAD_TOKEN_ID = 151643


@dataclass(frozen=True)
class DecodingSettings:
    """How to pick each next token; defaults are the official effective ones (module docstring)."""

    temperature: float = 0.2  # infer.py
    top_k: int = 20  # generation_config.json
    top_p: float = 1.0  # infer.py passes top_p=None: no nucleus filtering
    repetition_penalty: float = 1.05  # generation_config.json; applies in greedy mode too
    max_new_tokens: int = 1024  # infer.py
    greedy: bool = False  # argmax after the repetition penalty, like the official temperature=0 call
    eos_token_ids: tuple[int, ...] = OLA_EOS_TOKEN_IDS
    pad_token_id: int = OLA_PAD_TOKEN_ID

    @classmethod
    def from_checkpoint(cls, model_dir: str | Path, **overrides: Any) -> DecodingSettings:
        """Read the checkpoint's generation_config.json (ids, top-k, penalty); infer.py's
        temperature and top-p stay. Without the file the official values are used."""
        path = Path(model_dir) / "generation_config.json"
        values: dict[str, Any] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CorruptModelFileError(
                    f"Cannot read '{path}' ({error}). Download the model again or delete this file."
                ) from None
            if "top_k" in data:
                values["top_k"] = int(data["top_k"])
            if "repetition_penalty" in data:
                values["repetition_penalty"] = float(data["repetition_penalty"])
            eos = data.get("eos_token_id")
            if eos is not None:
                values["eos_token_ids"] = tuple(eos) if isinstance(eos, list) else (int(eos),)
            if data.get("pad_token_id") is not None:
                values["pad_token_id"] = int(data["pad_token_id"])
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> DecodingSettings:
        """A copy with some fields changed (e.g. ``greedy=True``, ``max_new_tokens=64``)."""
        return dataclasses.replace(self, **changes)

    def to_generation_config(self) -> GenerationConfig:
        """A transformers ``GenerationConfig`` with every decoding field set explicitly."""
        from transformers import GenerationConfig

        # Greedy ignores the sampling fields; they get transformers' neutral defaults (left None
        # they would be filled from the checkpoint's file, and a non-default one draws a warning).
        sampling: dict[str, Any] = (
            {"do_sample": False, "temperature": 1.0, "top_k": 50, "top_p": 1.0}
            if self.greedy
            else {
                "do_sample": True,
                "temperature": self.temperature,
                "top_k": self.top_k,
                "top_p": self.top_p,
            }
        )
        return GenerationConfig(
            **sampling,
            num_beams=1,
            repetition_penalty=self.repetition_penalty,
            max_new_tokens=self.max_new_tokens,
            eos_token_id=list(self.eos_token_ids),
            pad_token_id=self.pad_token_id,
        )
