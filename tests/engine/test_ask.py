"""`ola-assistant ask` end to end on a tiny checkpoint: every input kind, JSON output, bad media."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import torch

from ola_core.cli import build_parser, main
from ola_core.commands.ask import _turn
from ola_core.engine import Turn
from ola_core.engine.turn_inputs import MediaBudget, user_message
from ola_core.model.tiny import TinyCheckpoint
from ola_core.processing.audio import process_audio
from ola_core.processing.image import DECODE_MAX_SIDE
from ola_core.processing.prompt import UserMessage, build_prompt, render_prompt
from ola_core.processing.video import process_video
from tests.engine.conftest import tone
from tests.processing.conftest import load_fixture
from tests.processing.test_prompt import swap_video_placeholders
from tests.processing.test_video import numbered_frames, write_video

OFFICIAL_PROMPTS = load_fixture("prompts.json")["cases"]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("ask-media")
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(folder / "photo.png")
    soundfile.write(folder / "question.wav", tone(1.5, 300.0), 16000)
    soundfile.write(folder / "long.wav", tone(35.0, 300.0), 16000)  # two 30 s chunks
    write_video(folder / "clip.mp4", numbered_frames(6), fps=4, audio=tone(1.5, 500.0))
    (folder / "frames").mkdir()
    for i, frame in enumerate(numbered_frames(3)):
        Image.fromarray(frame).save(folder / "frames" / f"{i}.png")
    wide = rng.integers(0, 255, (48, DECODE_MAX_SIDE + 256, 3), dtype=np.uint8)
    Image.fromarray(wide).save(folder / "wide.jpg", quality=90)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (folder / "notes.txt").write_text("not media")
    return {p.stem: p for p in folder.iterdir()}


def ask_json(capsys: pytest.CaptureFixture[str], model: Path, *args: str) -> dict[str, Any]:
    code = main(
        [
            "ask",
            "--model",
            str(model),
            "--device",
            "cpu",
            "--greedy",
            "--max-new-tokens",
            "12",
            "--json",
            *args,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    return dict(json.loads(out))


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        ("text", ["What is the capital of France?"]),
        ("image", ["--image", "photo", "What is in this image?"]),
        ("audio", ["--audio", "question", "What do you hear?"]),
        ("video with audio", ["--video", "clip", "Describe the video."]),
        ("image + spoken question", ["--image", "photo", "--audio", "question"]),
    ],
)
def test_ask_json_for_every_input_kind(
    capsys: pytest.CaptureFixture[str],
    tiny_checkpoint: TinyCheckpoint,
    media: dict[str, Path],
    kind: str,
    args: list[str],
) -> None:
    resolved = [str(media[a]) if a in media else a for a in args]
    report = ask_json(capsys, tiny_checkpoint.model_dir, *resolved)
    assert isinstance(report["text"], str) and report["token_ids"]
    assert 1 <= len(report["token_ids"]) <= 12
    text_only = kind == "text"
    # Media make the prompt longer than any text prompt: image ≈ 165, audio 153, video + audio more.
    assert (report["prompt_tokens"] < 60) if text_only else (report["prompt_tokens"] > 150)
    timings = report["timings"]
    assert 0 < timings["encoders_done_s"] <= timings["first_token_s"] <= timings["total_s"]
    assert timings["load_s"] > 0 and report["peak_memory_bytes"] > 0


@pytest.mark.parametrize(("profile", "shown"), [("12gb", "12 GB profile (nf4)"), ("custom", "none on cpu")])
def test_ask_loads_with_the_memory_profile_asked_for(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: TinyCheckpoint, profile: str, shown: str
) -> None:
    report = ask_json(capsys, tiny_checkpoint.model_dir, "--profile", profile, "Hi")
    assert shown in report["model"]
    assert report["token_ids"]


def test_ask_streams_plain_text(capsys: pytest.CaptureFixture[str], tiny_checkpoint: TinyCheckpoint) -> None:
    code = main(
        [
            "ask",
            "--model",
            str(tiny_checkpoint.model_dir),
            "--device",
            "cpu",
            "--greedy",
            "--max-new-tokens",
            "8",
            "Hi",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0 and captured.out.endswith("\n") and not captured.out.startswith("{")


@pytest.mark.parametrize(
    ("flag", "name", "message"),
    [
        ("--image", "broken", "broken.png"),
        ("--image", "notes", "notes.txt"),
        ("--audio", "photo", "photo.png"),
        ("--video", "missing", "missing.mp4"),
    ],
)
def test_bad_media_is_one_line_naming_the_file_and_exit_code_2(
    capsys: pytest.CaptureFixture[str],
    tiny_checkpoint: TinyCheckpoint,
    media: dict[str, Path],
    flag: str,
    name: str,
    message: str,
) -> None:
    path = media.get(name, media["photo"].with_name("missing.mp4"))
    code = main(["ask", "--model", str(tiny_checkpoint.model_dir), flag, str(path), "What is it?"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["photo", "wide"])
def test_each_image_is_decoded_once(
    capsys: pytest.CaptureFixture[str],
    tiny_checkpoint: TinyCheckpoint,
    media: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    """ask checks the image before loading the model and the engine uses those pixels: one decode.

    ``wide`` is longer than the decode bound, so it takes the shrink-while-decoding path of huge
    photos (issue 20: a 169-megapixel photo was decoded twice).
    """
    from PIL import Image

    real_open = Image.open
    opened: list[object] = []

    def counting_open(fp: Any, *args: Any, **kwargs: Any) -> Image.Image:
        if isinstance(fp, str | Path) and Path(fp) == media[name]:
            opened.append(fp)
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    report = ask_json(
        capsys, tiny_checkpoint.model_dir, "--image", str(media[name]), "What is in this image?"
    )
    assert len(opened) == 1
    assert report["prompt_tokens"] > 0


def test_an_image_passed_decoded_gives_the_same_model_input(media: dict[str, Path]) -> None:
    """The pixels ask hands over make exactly the views the engine made from the file."""
    asked = asked_message(media, "--image", "wide", "What is it?")
    from_file = user_message(Turn(text="What is it?", images=(media["wide"],)), MediaBudget())
    for ours, theirs in zip(asked.images, from_file.images, strict=True):
        assert torch.equal(ours.lowres, theirs.lowres) and torch.equal(ours.highres, theirs.highres)


def test_ask_help_documents_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for flag in (
        "--model", "--speech-encoder", "--music-encoder", "--image", "--audio", "--video",
        "--quantization", "--device", "--greedy", "--max-new-tokens", "--json", "question",
    ):  # fmt: skip
        assert flag in out


def asked_message(media: dict[str, Path], *args: str) -> UserMessage:
    """What `ask` with these arguments gives the prompt builder (media names resolved)."""
    resolved = [str(media[a]) if a in media else a for a in args]
    return user_message(_turn(build_parser().parse_args(["ask", *resolved])), MediaBudget())


@pytest.mark.parametrize(
    ("case", "args"),
    [
        ("video_audio_text", ["--video", "clip", "--audio", "question", "Please describe the video."]),
        ("video_audio_no_text", ["--video", "frames", "--audio", "question"]),
        ("video_audio_text", ["--video", "clip", "Please describe the video."]),  # its own soundtrack
        ("audio_text", ["--audio", "question", "What do you hear in the audio?"]),
        ("audio_no_text", ["--audio", "question"]),
        ("image_spoken_question", ["--image", "photo", "--audio", "question"]),
    ],
)
def test_ask_builds_the_official_prompt(
    tiny_checkpoint: TinyCheckpoint, media: dict[str, Path], case: str, args: list[str]
) -> None:
    from transformers import AutoTokenizer

    message = asked_message(media, *args)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint.model_dir)
    official = OFFICIAL_PROMPTS[case]
    assert render_prompt([message]) == official["prompt"]
    # Official <speech><image> ids are filled by count ([video][speech]); ours by type, same order.
    assert build_prompt(tokenizer, [message]).input_ids == swap_video_placeholders(official["input_ids"])


def test_with_a_video_the_audio_file_is_the_clips_sound_and_replaces_its_soundtrack(
    media: dict[str, Path],
) -> None:
    message = asked_message(media, "--video", "clip", "--audio", "question", "What happens?")
    assert message.spoken_question is None and message.video is not None and message.audio is not None
    heard = message.audio.mels
    assert torch.equal(heard, process_audio(media["question"]).speech.mels)
    soundtrack = process_video(media["clip"]).audio
    assert soundtrack is not None and not torch.equal(heard, soundtrack.speech.mels)
    without_audio = asked_message(media, "--video", "clip", "What happens?").audio
    assert without_audio is not None and torch.equal(without_audio.mels, soundtrack.speech.mels)


def test_ask_with_video_and_audio_hears_the_audio_file_end_to_end(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: TinyCheckpoint, media: dict[str, Path]
) -> None:
    model, question = tiny_checkpoint.model_dir, "What happens?"
    own = ask_json(capsys, model, "--video", str(media["clip"]), question)
    replaced = ask_json(capsys, model, "--video", str(media["clip"]), "--audio", str(media["long"]), question)
    # The 1.5 s soundtrack is one 30 s chunk; the 35 s file is two, 151 positions more.
    assert replaced["prompt_tokens"] - own["prompt_tokens"] == 151


def test_a_bad_audio_file_with_a_video_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: TinyCheckpoint, media: dict[str, Path]
) -> None:
    model = str(tiny_checkpoint.model_dir)
    code = main(
        ["ask", "--model", model, "--video", str(media["clip"]), "--audio", str(media["photo"]), "Hi"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "photo.png" in err
