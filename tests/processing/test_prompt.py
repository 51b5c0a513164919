"""Prompt ids: equal to the official helpers' ids for every input kind, and incremental multi-turn ids."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ola_core.processing.inputs import (
    ImageInput,
    SpeechInput,
    VideoInput,
)
from ola_core.processing.prompt import (
    INTERRUPTED_NOTE,
    AssistantMessage,
    Message,
    UserMessage,
    build_continuation,
    build_prompt,
    media_token_count,
    render_prompt,
    sequence_length,
)
from ola_core.processing.tokens import IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX
from tests.processing.conftest import load_fixture

PROMPTS = load_fixture("prompts.json")
REFERENCE = PROMPTS["cases"]


def image(h: int = 64, w: int = 96) -> ImageInput:
    return ImageInput(lowres=torch.zeros(3, 32, 64), highres=torch.zeros(3, h, w))


def video(frames: int = 2) -> VideoInput:
    return VideoInput(frames=torch.zeros(frames, 3, 128, 192))


def speech(chunks: int = 1) -> SpeechInput:
    return SpeechInput(mels=torch.zeros(chunks, 3000, 128), wavs=torch.zeros(chunks, 480000))


def swap_video_placeholders(ids: list[int]) -> list[int]:
    """The official ``<speech><image>`` ids [-200, -300] are filled by count as [video][speech];
    with type-based filling the same sequence is [-300, -200]."""
    out = list(ids)
    for i in range(len(out) - 1):
        if out[i : i + 2] == [SPEECH_TOKEN_INDEX, IMAGE_TOKEN_INDEX]:
            out[i : i + 2] = [IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX]
    return out


def official_cases() -> dict[str, tuple[list[Message], list[int], str]]:
    """Each fixture case as our messages, the official ids (type-based) and the official prompt."""
    img, vid, clip = image(), video(), speech()
    text, tricky = PROMPTS["text"], PROMPTS["tricky"]
    messages: dict[str, list[Message]] = {
        "image_text": [UserMessage(text=text, images=(img,))],
        "image_tricky_text": [UserMessage(text=tricky, images=(img,))],
        "image_no_text": [UserMessage(images=(img,))],
        "audio_text": [UserMessage(text="What do you hear in the audio?", audio=clip)],
        "audio_no_text": [UserMessage(audio=clip)],
        "video_audio_text": [UserMessage(text="Please describe the video.", video=vid, audio=clip)],
        "video_audio_no_text": [UserMessage(video=vid, audio=clip)],
        "image_spoken_question": [UserMessage(images=(img,), spoken_question=clip)],
        "text_only": [UserMessage(text="Hello! How can I help you today?")],
        "two_turns_image_first": [
            UserMessage(text=text, images=(img,)),
            AssistantMessage(text="The image shows a cat sitting on a table."),
            UserMessage(text="What colour is the cat?"),
        ],
    }
    return {
        name: (msgs, swap_video_placeholders(REFERENCE[name]["input_ids"]), REFERENCE[name]["prompt"])
        for name, msgs in messages.items()
    }


CASES = official_cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_ids_equal_the_official_helpers(name: str, tokenizer: Any) -> None:
    messages, expected_ids, _ = CASES[name]
    assert build_prompt(tokenizer, messages).input_ids == expected_ids


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_prompt_equals_the_official_string(name: str) -> None:
    messages, _, official = CASES[name]
    assert render_prompt(messages) == official


def test_official_speech_question_helper_crashed_and_ours_works(tokenizer: Any) -> None:
    assert "TypeError" in PROMPTS["official_speech_question_helper_error"]
    inputs = build_prompt(tokenizer, [UserMessage(images=(image(),), spoken_question=speech())])
    assert inputs.input_ids.count(IMAGE_TOKEN_INDEX) == 1 and inputs.input_ids.count(SPEECH_TOKEN_INDEX) == 1


def test_a_voice_turn_alone_is_the_official_audio_prompt(tokenizer: Any) -> None:
    clip = speech()
    voice = build_prompt(tokenizer, [UserMessage(spoken_question=clip)])
    assert voice.input_ids == REFERENCE["audio_no_text"]["input_ids"]
    assert voice.speech == [clip]


def test_media_lists_follow_placeholder_order_per_type(tokenizer: Any) -> None:
    first, second, vid = image(), image(h=128), video()
    soundtrack, question = speech(1), speech(2)
    inputs = build_prompt(
        tokenizer,
        [
            UserMessage(
                text="Compare them.",
                images=(first, second),
                video=vid,
                audio=soundtrack,
                spoken_question=question,
            )
        ],
    )
    placeholders = [i for i in inputs.input_ids if i < 0]
    assert placeholders == [
        IMAGE_TOKEN_INDEX,
        IMAGE_TOKEN_INDEX,
        IMAGE_TOKEN_INDEX,
        SPEECH_TOKEN_INDEX,
        SPEECH_TOKEN_INDEX,
    ]
    assert [id(v) for v in inputs.visuals] == [id(first), id(second), id(vid)]
    assert [id(s) for s in inputs.speech] == [id(soundtrack), id(question)]
    assert (
        render_prompt(
            [
                UserMessage(
                    text="Compare them.",
                    images=(first, second),
                    video=vid,
                    audio=soundtrack,
                    spoken_question=question,
                )
            ]
        ).count("User's question in speech: <speech>\n")
        == 1
    )


def test_sequence_length_adds_media_tokens(tokenizer: Any) -> None:
    img, clip = image(h=64, w=96), speech(3)
    inputs = build_prompt(tokenizer, [UserMessage(text="Hi", images=(img,), audio=clip)])
    text_tokens = len(inputs.input_ids) - 2
    assert media_token_count(img) == 3 + 1 * (2 + 1) + 2 * (3 + 1)
    assert media_token_count(clip) == 2 + 151 * 3
    assert media_token_count(video(2)) == 2 + 2 * (4 * (6 + 1) + 1)
    assert sequence_length(inputs) == text_tokens + media_token_count(img) + media_token_count(clip)


def test_generated_ids_are_kept_verbatim_without_the_end_token(tokenizer: Any) -> None:
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    generated = (100, 101, 102)
    with_end = build_prompt(
        tokenizer, [UserMessage(text="Hi"), AssistantMessage("x", token_ids=(*generated, im_end))]
    )
    without_end = build_prompt(
        tokenizer, [UserMessage(text="Hi"), AssistantMessage("x", token_ids=generated)]
    )
    assert with_end.input_ids == without_end.input_ids
    assert with_end.input_ids[-3:] == list(generated)


def test_an_interrupted_reply_is_marked(tokenizer: Any) -> None:
    history: list[Message] = [
        UserMessage(text="Tell me a story."),
        AssistantMessage(text="Once upon", interrupted=True),
    ]
    rendered = render_prompt([*history, UserMessage(text="Stop, tell me the time.")])
    assert f"Once upon{INTERRUPTED_NOTE}<|im_end|>\n<|im_start|>user\nStop" in rendered
    plain = render_prompt([history[0], AssistantMessage(text="Once upon"), UserMessage(text="Stop")])
    assert INTERRUPTED_NOTE not in plain


def test_messages_must_alternate(tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="alternate"):
        build_prompt(tokenizer, [UserMessage(text="a"), UserMessage(text="b")])
    with pytest.raises(ValueError, match="at least one"):
        build_prompt(tokenizer, [])


# --- incremental ids: what the engine prefills on top of its KV cache --------------------------
PIECES = [*"ab cd\n\t.?!é😀'", "<|im_end|>", "the ", "image", "\n\n"]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@st.composite
def user_messages(draw: st.DrawFn) -> UserMessage:
    return UserMessage(
        text=draw(TEXTS),
        images=tuple(image() for _ in range(draw(st.integers(0, 2)))),
        video=video() if draw(st.booleans()) else None,
        audio=speech() if draw(st.booleans()) else None,
        spoken_question=speech() if draw(st.booleans()) else None,
    )


@st.composite
def assistant_messages(draw: st.DrawFn) -> AssistantMessage:
    as_ids = draw(st.booleans())
    return AssistantMessage(
        text=draw(TEXTS),
        token_ids=tuple(draw(st.lists(st.integers(0, 371), max_size=12))) if as_ids else None,
        interrupted=draw(st.booleans()),
    )


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    turns = draw(st.integers(1, 4))
    messages: list[Message] = []
    for _ in range(turns):
        messages += [draw(user_messages()), draw(assistant_messages())]
    messages.append(draw(user_messages()))
    return messages


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=conversations())
def test_prefix_plus_continuation_equals_whole_conversation(tokenizer: Any, messages: list[Message]) -> None:
    for end in range(2, len(messages), 2):  # every history that ends with an assistant reply
        history, previous, new = messages[:end], messages[end - 1], messages[end]
        assert isinstance(previous, AssistantMessage) and isinstance(new, UserMessage)
        prefix = build_prompt(tokenizer, history)
        continuation = build_continuation(tokenizer, previous, new)
        whole = build_prompt(tokenizer, messages[: end + 1])
        assert prefix.input_ids + continuation.input_ids == whole.input_ids
        assert [id(v) for v in prefix.visuals + continuation.visuals] == [id(v) for v in whole.visuals]
        assert [id(s) for s in prefix.speech + continuation.speech] == [id(s) for s in whole.speech]
