"""OlaForCausalLM: the official key set at full size, and splicing by placeholder type."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from ola_core.errors import MediaError
from ola_core.model.configuration import OlaConfig
from ola_core.model.loading import LoadedOla
from ola_core.model.modeling import OlaForCausalLM
from ola_core.processing.inputs import (
    ImageInput,
    PromptInputs,
    SpeechInput,
    VideoInput,
)
from ola_core.processing.tokens import IMAGE_TOKEN_INDEX, SPEECH_TOKEN_INDEX

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "model"


def test_full_size_architecture_has_the_official_keys_and_shapes() -> None:
    official = json.loads((FIXTURES / "official_full_keys.json").read_text())
    with torch.device("meta"):
        model = OlaForCausalLM(OlaConfig())
    ours: dict[str, dict[str, object]] = {}
    for key, tensor in model.state_dict().items():
        entry = ours.setdefault(
            re.sub(r"\b(layers|blocks)\.\d+\.", r"\1.N.", key), {"shape": list(tensor.shape), "count": 0}
        )
        assert entry["shape"] == list(tensor.shape), key
        entry["count"] = int(str(entry["count"])) + 1
    assert ours == official["keys"]
    assert len(model.state_dict()) == official["n_keys"] == 1424
    assert sum(t.numel() for t in model.state_dict().values()) == official["n_params"]


def media(seed: int = 0) -> tuple[ImageInput, VideoInput, SpeechInput]:
    g = torch.Generator().manual_seed(seed)
    image = ImageInput(torch.rand(3, 64, 64, generator=g) * 2 - 1, torch.rand(3, 64, 96, generator=g) * 2 - 1)
    video = VideoInput(torch.rand(2, 3, 64, 64, generator=g) * 2 - 1)
    speech = SpeechInput(
        torch.randn(1, 3000, 128, generator=g) * 0.5, torch.randn(1, 480000, generator=g) * 0.1
    )
    return image, video, speech


def test_text_only_is_plain_token_embedding_without_encoders(
    tiny_fp32: LoadedOla, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_fp32.model
    for name in ("encode_images", "encode_video", "encode_speech"):
        monkeypatch.setattr(model, name, lambda *a, **k: pytest.fail("an encoder ran for a text-only prompt"))
    ids = tiny_fp32.tokenizer("Hello there, how are you?").input_ids
    embeds = model.embed_prompt(PromptInputs(ids))
    assert torch.equal(embeds[0], model.get_input_embeddings()(torch.tensor(ids)))


@pytest.mark.slow
def test_splicing_goes_by_type_whatever_the_order(tiny_fp32: LoadedOla) -> None:
    """A speech placeholder before an image one still gets the speech (the official fill by count would not)."""
    model = tiny_fp32.model
    image, video, speech = media()
    with torch.inference_mode():
        image_embeds = model.encode_images([image])[0]
        video_embeds = model.encode_video(video)
        speech_embeds = model.encode_speech(speech)
        text = model.get_input_embeddings()(torch.tensor([5, 6, 7, 8]))
        ids = [5, SPEECH_TOKEN_INDEX, 6, IMAGE_TOKEN_INDEX, 7, IMAGE_TOKEN_INDEX, 8]
        embeds = model.embed_prompt(PromptInputs(ids, [image, video], [speech]))[0]
    expected = torch.cat(
        [text[:1], speech_embeds, text[1:2], image_embeds, text[2:3], video_embeds, text[3:]]
    )
    assert embeds.shape == expected.shape
    torch.testing.assert_close(embeds, expected, rtol=1e-5, atol=1e-5)
    # token counts of docs/official-ola.md §1.4, §1.6: image 3 + h1(w1+1) + h2(w2+1);
    # video 2 + T(h(w+1)+1); audio 2 + 151n
    assert image_embeds.shape[0] == 3 + 2 * 3 + 2 * 4
    assert video_embeds.shape[0] == 2 + 2 * (2 * 3 + 1)
    assert speech_embeds.shape[0] == 2 + 151


@pytest.mark.slow
def test_several_images_share_one_block_diagonal_vit_pass(tiny_fp32: LoadedOla) -> None:
    """Images batched together give what each gives alone (no attention across images)."""
    model = tiny_fp32.model
    g = torch.Generator().manual_seed(1)
    a = ImageInput(torch.rand(3, 64, 96, generator=g), torch.rand(3, 64, 64, generator=g))
    b = ImageInput(torch.rand(3, 96, 64, generator=g), torch.rand(3, 128, 64, generator=g))
    with torch.inference_mode():
        together = model.encode_images([a, b])
        alone = [model.encode_images([a])[0], model.encode_images([b])[0]]
    for joint, single in zip(together, alone, strict=True):
        torch.testing.assert_close(joint, single, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("ids", "n_visuals", "n_speech", "message"),
    [
        ([1, IMAGE_TOKEN_INDEX, 2], 0, 0, "1 image/video and 0 speech placeholder"),
        ([1, 2], 1, 0, "0 image/video and 0 speech placeholder.*1 image/video"),
        ([1, SPEECH_TOKEN_INDEX, SPEECH_TOKEN_INDEX], 0, 1, "2 speech placeholder.*1 speech input"),
        ([1, -7, 2], 0, 0, "unknown placeholder ids \\[-7\\]"),
    ],
)
def test_placeholder_media_mismatch_is_a_media_error(
    tiny_fp32: LoadedOla, ids: list[int], n_visuals: int, n_speech: int, message: str
) -> None:
    image, _, speech = media()
    with pytest.raises(MediaError, match=message):
        tiny_fp32.model.embed_prompt(PromptInputs(ids, [image] * n_visuals, [speech] * n_speech))


@pytest.mark.parametrize(
    ("visual", "message"),
    [
        (ImageInput(torch.zeros(3, 60, 64), torch.zeros(3, 64, 64)), r"image low-res view.*\(3, 60, 64\)"),
        (ImageInput(torch.zeros(3, 64, 64), torch.zeros(1, 64, 64)), "image high-res view"),
        (VideoInput(torch.zeros(3, 64, 64)), "video frames"),
        (VideoInput(torch.zeros(0, 3, 64, 64)), "no frames"),
    ],
)
def test_bad_pixel_shapes_are_media_errors(
    tiny_fp32: LoadedOla, visual: ImageInput | VideoInput, message: str
) -> None:
    with pytest.raises(MediaError, match=message):
        tiny_fp32.model.embed_prompt(PromptInputs([1, IMAGE_TOKEN_INDEX], [visual]))


def test_bad_speech_shapes_are_media_errors(tiny_fp32: LoadedOla) -> None:
    for speech in (
        SpeechInput(torch.zeros(1, 3000, 80), torch.zeros(1, 480000)),
        SpeechInput(torch.zeros(2, 3000, 128), torch.zeros(1, 480000)),
        SpeechInput(torch.zeros(0, 3000, 128), torch.zeros(0, 480000)),
    ):
        with pytest.raises(MediaError, match="expected \\(n, 3000, 128\\)"):
            tiny_fp32.model.embed_prompt(PromptInputs([SPEECH_TOKEN_INDEX], [], [speech]))


def test_token_id_outside_the_vocabulary(tiny_fp32: LoadedOla) -> None:
    with pytest.raises(ValueError, match="out of range"):
        tiny_fp32.model.embed_prompt(PromptInputs([1, 10**6]))
