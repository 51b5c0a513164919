"""Ola's official token strings and ids: the one home of what the prompt and the tokenizer share.

The prompt builder (:mod:`ola_core.processing.prompt`) writes the ChatML special tokens and the
media placeholders; the tiny-tokenizer writer (:mod:`ola_core.model.tokenizer_files`) and the
tiny checkpoint give those tokens the ids Qwen2.5's tokenizer gives them.
"""

from __future__ import annotations

# Qwen2's special tokens (ChatML), in the order of their ids.
ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
QWEN_ENDOFTEXT_ID = 151643  # Qwen2.5's id of ENDOFTEXT; IM_START and IM_END follow it

# Placeholder ids of the official code (ola/constants.py); negative so they can never collide
# with a real vocabulary id.
IMAGE_TOKEN_INDEX = -300  # one visual item (an image or a whole video)
SPEECH_TOKEN_INDEX = -200  # one speech item (a whole clip, all its 30 s chunks)
