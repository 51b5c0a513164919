"""Pixels, mels and token ids, exactly as the official Ola inference makes them.

Everything between a user's media and :mod:`ola_core.model.inputs`: :func:`process_image` →
``ImageInput``, :func:`process_video` → ``VideoClip`` (``VideoInput`` + soundtrack),
:func:`process_audio` → ``AudioClip`` (``SpeechInput``), :func:`build_prompt` /
:func:`build_continuation` → ``PromptInputs``, and :class:`GenerationSettings`.
"""

from ola_core.processing.audio import AudioClip, load_audio, process_audio, speech_features
from ola_core.processing.generation import GenerationSettings
from ola_core.processing.image import load_image, process_image
from ola_core.processing.media import MediaKind, media_kind
from ola_core.processing.prompt import (
    AssistantMessage,
    Message,
    UserMessage,
    build_continuation,
    build_prompt,
    media_token_count,
    render_prompt,
    sequence_length,
)
from ola_core.processing.video import DEFAULT_MAX_FRAMES, VideoClip, process_frames, process_video

__all__ = [
    "DEFAULT_MAX_FRAMES",
    "AssistantMessage",
    "AudioClip",
    "GenerationSettings",
    "MediaKind",
    "Message",
    "UserMessage",
    "VideoClip",
    "build_continuation",
    "build_prompt",
    "load_audio",
    "load_image",
    "media_kind",
    "media_token_count",
    "process_audio",
    "process_frames",
    "process_image",
    "process_video",
    "render_prompt",
    "sequence_length",
    "speech_features",
]
