"""Conversations → token ids with media placeholders, in the official ``qwen_1_5`` chat format.

The official single-turn prompt (ola/conversation.py, ``conv_templates["qwen_1_5"]``) is::

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n{qs}<|im_end|>\\n<|im_start|>assistant\\n

and infer.py's helpers split it at the placeholder literals, tokenize every piece on its own and
join the pieces with the placeholder ids, so a BPE merge never crosses a placeholder. ``qs`` is
``<image>\\n{text}`` (image), ``<speech>\\n{text}`` (audio), ``<speech><image>\\n{text}`` (video
with its sound) or ``<image>\\nUser's question in speech: <speech>\\n`` (image + spoken question).

We build the same ids, with three differences that are deliberate:

* Placeholders are filled by **type** (``ola_core.processing.inputs``), while the official model fills
  them by count (the first ``num_images`` placeholders get visual features). For video + sound
  the official string ``<speech><image>`` therefore puts the *video* first; we emit
  ``[IMAGE, SPEECH]``, which gives the same embedding sequence (and :func:`render_prompt`
  writes the official string).
* The paths that crash officially work: text only, image + spoken question (the helper builds a
  nested list), several images (``<image>\\n`` each, in order), a spoken question with a video.
* Conversations have several turns. Earlier turns keep their media placeholders; an assistant
  reply is kept as the ids it was generated as (the KV cache holds exactly those), and a reply
  cut short by the user is closed with :data:`INTERRUPTED_NOTE`. :func:`build_continuation` gives
  only the ids of a new turn, such that ``build_prompt(history).input_ids +
  build_continuation(...).input_ids == build_prompt(history + [turn]).input_ids``, so the engine
  can prefill just the new tokens on top of its cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from ola_core.processing.inputs import (
    ImageInput,
    PromptInputs,
    SpeechInput,
    VideoInput,
)
from ola_core.processing.tokens import ENDOFTEXT, IM_END, IM_START, IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

SYSTEM_PROMPT = "You are a helpful assistant."
SPOKEN_QUESTION = "User's question in speech: "  # the official image + speech-question phrase
INTERRUPTED_NOTE = " …(interrupted by the user)"  # closes an assistant reply that was barged in on

# Placeholder literals of the official prompt strings; only used to render prompts for people.
IMAGE_LITERAL = "<image>"
SPEECH_LITERAL = "<speech>"


@dataclass(frozen=True)
class UserMessage:
    """One user turn: typed text, media to look at or listen to, and/or the spoken question."""

    text: str = ""
    images: tuple[ImageInput, ...] = ()
    video: VideoInput | None = None
    audio: SpeechInput | None = None  # sound to listen to: an audio file, or the video's soundtrack
    spoken_question: SpeechInput | None = None  # the user's own voice asking (a voice turn)


@dataclass(frozen=True)
class AssistantMessage:
    """One assistant reply, as generated.

    ``token_ids`` are the ids the model produced (an end-of-turn token at the end is dropped);
    when given they are used verbatim, because re-tokenizing the decoded text may not give the
    same ids. ``interrupted`` marks a reply the user cut short.
    """

    text: str = ""
    token_ids: tuple[int, ...] | None = None
    interrupted: bool = False


Message: TypeAlias = UserMessage | AssistantMessage


@dataclass(frozen=True)
class _Alone:
    """Text tokenized on its own, never merged with neighbouring text (official helper pieces)."""

    text: str


@dataclass(frozen=True)
class _Media:
    """A placeholder and the media item that fills it."""

    item: ImageInput | VideoInput | SpeechInput

    @property
    def placeholder(self) -> int:
        return SPEECH_TOKEN_INDEX if isinstance(self.item, SpeechInput) else IMAGE_TOKEN_INDEX


# Text (merged with adjacent text before tokenizing), text alone, ids verbatim, or a media item.
_Item: TypeAlias = str | _Alone | tuple[int, ...] | _Media


def _user_items(message: UserMessage) -> list[_Item]:
    """The body ``qs`` of a user turn (module docstring), as items."""
    items: list[_Item] = []
    for image in message.images:
        items += [_Media(image), "\n"]
    if message.video is not None:
        items.append(_Media(message.video))
        if message.audio is not None:  # the soundtrack: official <speech><image>, filled [video][speech]
            items.append(_Media(message.audio))
        items.append("\n")
    elif message.audio is not None:
        items += [_Media(message.audio), "\n"]
    if message.spoken_question is not None:
        if items:
            # The official image + spoken-question helper tokenizes each of these pieces alone.
            items[-1] = _Alone("\n")
            items += [_Alone(SPOKEN_QUESTION), _Media(message.spoken_question), _Alone("\n")]
        else:  # a voice turn with nothing else: the official audio form <speech>\n{text}
            items += [_Media(message.spoken_question), "\n"]
    items.append(message.text)
    return items


def _assistant_items(message: AssistantMessage, closed: bool) -> list[_Item]:
    content: _Item = message.token_ids if message.token_ids is not None else _Alone(message.text)
    if not closed:
        return [content]
    return [content, *_closing_items(message)]


def _closing_items(message: AssistantMessage) -> list[_Item]:
    return [INTERRUPTED_NOTE + IM_END + "\n" if message.interrupted else IM_END + "\n"]


def _conversation_items(messages: Sequence[Message], system: str) -> list[_Item]:
    if not messages:
        raise ValueError("a conversation needs at least one message")
    items: list[_Item] = [f"{IM_START}system\n{system}{IM_END}\n"]
    for position, message in enumerate(messages):
        expected = UserMessage if position % 2 == 0 else AssistantMessage
        if not isinstance(message, expected):
            raise ValueError("messages must alternate user, assistant, user, … starting with the user")
        if isinstance(message, UserMessage):
            items += [f"{IM_START}user\n", *_user_items(message), f"{IM_END}\n"]
        else:
            is_last = position == len(messages) - 1
            items += [f"{IM_START}assistant\n", *_assistant_items(message, closed=not is_last)]
    if isinstance(messages[-1], UserMessage):
        items.append(f"{IM_START}assistant\n")
    return items


def _end_of_turn_ids(tokenizer: PreTrainedTokenizerBase) -> set[int]:
    ids = (tokenizer.convert_tokens_to_ids(token) for token in (IM_END, ENDOFTEXT))
    return {i for i in ids if isinstance(i, int) and i >= 0}


def _tokenize(items: Sequence[_Item], tokenizer: PreTrainedTokenizerBase) -> PromptInputs:
    """Merge adjacent text, tokenize each piece alone, splice placeholders; collect the media."""
    input_ids: list[int] = []
    visuals: list[ImageInput | VideoInput] = []
    speech: list[SpeechInput] = []
    pending = ""

    def flush() -> None:
        nonlocal pending
        if pending:
            input_ids.extend(tokenizer.encode(pending, add_special_tokens=False))
        pending = ""

    end_ids = _end_of_turn_ids(tokenizer)
    for item in items:
        if isinstance(item, str):
            pending += item
            continue
        flush()
        if isinstance(item, _Alone):
            if item.text:
                input_ids.extend(tokenizer.encode(item.text, add_special_tokens=False))
        elif isinstance(item, tuple):
            ids = list(item)
            while ids and ids[-1] in end_ids:
                ids.pop()
            input_ids.extend(ids)
        else:
            input_ids.append(item.placeholder)
            if isinstance(item.item, SpeechInput):
                speech.append(item.item)
            else:
                visuals.append(item.item)
    flush()
    return PromptInputs(input_ids=input_ids, visuals=visuals, speech=speech)


def build_prompt(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], *, system: str = SYSTEM_PROMPT
) -> PromptInputs:
    """The ids and media of a whole conversation (user first, alternating).

    Ending with a user message, the ids end with the ``<|im_start|>assistant\\n`` header that asks
    for a reply. Ending with an assistant message, that reply is left open (no end marker): that
    is what the engine's KV cache holds after generating it.
    """
    return _tokenize(_conversation_items(messages, system), tokenizer)


def build_continuation(
    tokenizer: PreTrainedTokenizerBase, previous: AssistantMessage, message: UserMessage
) -> PromptInputs:
    """Only the ids of a new user turn after the (open) reply ``previous``, and the new media.

    They close ``previous`` and end with the assistant header, so that for any history ending in
    ``previous``: ``build_prompt(history) + build_continuation(previous, message) ==
    build_prompt(history + [message])`` (ids and media lists alike). If the engine's cache lacks
    the last reply id (generation stopped without an end token), it feeds that id first.
    """
    items: list[_Item] = [
        *_closing_items(previous),
        f"{IM_START}user\n",
        *_user_items(message),
        f"{IM_END}\n{IM_START}assistant\n",
    ]
    return _tokenize(items, tokenizer)


def render_prompt(messages: Sequence[Message], *, system: str = SYSTEM_PROMPT) -> str:
    """The conversation as the official prompt string (``<image>``/``<speech>`` literals), for logs.

    A video with its sound renders as the official ``<speech><image>`` (filled by count: video,
    then speech), which is what our type-filled ``[IMAGE, SPEECH]`` ids stand for.
    """
    items = _conversation_items(messages, system)
    parts: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, _Alone):
            parts.append(item.text)
        elif isinstance(item, tuple):
            parts.append(f"<{len(item)} generated ids>")
        elif isinstance(item.item, VideoInput) and isinstance(_media_at(items, index + 1), SpeechInput):
            parts.append(SPEECH_LITERAL + IMAGE_LITERAL)
        elif not (isinstance(item.item, SpeechInput) and isinstance(_media_at(items, index - 1), VideoInput)):
            parts.append(SPEECH_LITERAL if item.placeholder == SPEECH_TOKEN_INDEX else IMAGE_LITERAL)
    return "".join(parts)


def _media_at(items: Sequence[_Item], index: int) -> ImageInput | VideoInput | SpeechInput | None:
    item = items[index] if 0 <= index < len(items) else None
    return item.item if isinstance(item, _Media) else None


# --- sequence lengths --------------------------------------------------------------------------
def media_token_count(item: ImageInput | VideoInput | SpeechInput) -> int:
    """How many embeddings one placeholder expands to (docs/official-ola.md §1.4, §1.6).

    Image ``3 + h1(w1+1) + h2(w2+1)`` (two views, a newline per row, begin/sep/end; h, w in units
    of 32 px after the ViT's 16 px patches and the 2×2 pooling); video ``2 + T(h(w+1)+1)``;
    speech ``2 + 151·chunks`` (150 tokens and a newline per 30 s chunk, begin/end).
    """
    if isinstance(item, SpeechInput):
        return 2 + 151 * int(item.mels.shape[0])
    if isinstance(item, VideoInput):
        frames, _, height, width = item.frames.shape
        return 2 + frames * ((height // 32) * (width // 32 + 1) + 1)
    _, h1, w1 = item.lowres.shape
    _, h2, w2 = item.highres.shape
    return 3 + (h1 // 32) * (w1 // 32 + 1) + (h2 // 32) * (w2 // 32 + 1)


def sequence_length(inputs: PromptInputs) -> int:
    """The length of the spliced embedding sequence the language model will see."""
    text = sum(1 for i in inputs.input_ids if i >= 0)
    media = sum(media_token_count(v) for v in inputs.visuals) + sum(
        media_token_count(s) for s in inputs.speech
    )
    return text + media
