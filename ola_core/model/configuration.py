"""OlaConfig: Qwen2's configuration plus the Ola fields of the official ``config.json``.

The official checkpoint's ``config.json`` has ``model_type: "ola_qwen"`` and carries the training
script's arguments (vision tower, projector and speech encoder settings). Registering the type
with transformers' Auto classes (``ola_core.model.modeling.register_auto_classes``) lets
``AutoConfig`` / ``AutoModelForCausalLM`` open an Ola folder. Defaults are Ola-7B's values, so ``OlaConfig()`` describes the full-size network.

The official code hard-codes the vision tower's size (SigLIP-so400m) and reads the speech
encoders' sizes from their files. The ``vision_*`` fields are ours, absent from the official
file (so the full-size defaults apply); tiny checkpoints write them to shrink the ViT.
``speech_whisper_dims`` / ``speech_beats_cfg`` are never read from config.json: the loader fills
them from the two encoder files before it builds anything.
The paths in ``mm_vision_tower``, ``speech_encoder`` and ``music_encoder`` point into the
authors' machines: they are kept for fidelity of the file, never used to find anything.
"""

from __future__ import annotations

from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import Qwen2Config

OLA_MODEL_TYPE = "ola_qwen"
# Qwen2.5-7B / Ola-7B RoPE base; the official config writes it as ``rope_theta``.
OLA_ROPE_THETA = 1_000_000.0


@strict
class OlaConfig(Qwen2Config):
    """Configuration of OlaForCausalLM (Qwen2 LLM + OryxViT + Whisper/BEATs + projectors)."""

    model_type = OLA_MODEL_TYPE

    # --- language model: Qwen2.5-7B
    vocab_size: int = 152064
    hidden_size: int = 3584
    intermediate_size: int = 18944
    num_hidden_layers: int = 28
    num_attention_heads: int = 28
    num_key_value_heads: int | None = 4
    max_window_layers: int = 28
    bos_token_id: int | None = 151643
    eos_token_id: int | list[int] | None = 151645

    # --- vision: OryxViT (SigLIP-so400m/16) and the ola_mlp projector
    mm_vision_tower: str | None = "./pretrained/oryx_vit.pth"
    mm_vision_select_layer: int = -1
    mm_vision_select_feature: str = "patch"
    mm_projector_type: str = "ola_mlp"
    mm_hidden_size: int = 1152  # = vision width
    mm_resampler_type: str | None = None
    mm_use_im_start_end: bool = False
    mm_use_im_patch_token: bool = False
    use_mm_proj: bool = True
    vision_num_layers: int = 27  # ours (official: hard-coded)
    vision_num_heads: int = 16  # ours (official: hard-coded)

    # --- speech: Whisper-large-v3 encoder + BEATs, concatenated, and the linear projector
    speech_encoder: str | None = "./pretrained/large-v3.pt"
    music_encoder: str | None = "./pretrained/BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"
    speech_encoder_type: str = "dual"
    speech_projector_type: str = "linear"
    speech_encoder_ds_rate: int = 10
    speech_encoder_hidden_size: int = 2048  # whisper width + BEATs width
    # Ours, filled by the loader from the two encoder files' ``dims`` / ``cfg`` (as officially),
    # so that the module tree has the files' sizes; None means large-v3 / published BEATs.
    speech_whisper_dims: dict[str, int] | None = None
    speech_beats_cfg: dict[str, Any] | None = None

    # --- prompt handling
    tokenizer_model_max_length: int | None = 16384
    tokenizer_padding_side: str = "right"

    def __post_init__(self, **kwargs: Any) -> None:
        # The official file states ``rope_theta`` (transformers 4 style); without one, Ola's value.
        if self.rope_parameters is None and "rope_theta" not in kwargs:
            self.rope_parameters = {"rope_type": "default", "rope_theta": OLA_ROPE_THETA}
        # The official class forces rope_scaling to None (ola_qwen.py:34): plain RoPE always.
        kwargs.pop("rope_scaling", None)
        super().__post_init__(**kwargs)
