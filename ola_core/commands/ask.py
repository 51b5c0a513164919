"""`ola-assistant ask`: one question about files (images, audio, a video) — the answer streams to stdout.

The media are decoded and checked before the model is loaded, so a wrong or corrupt file costs
a second, not a model load: it ends the command with one line naming the file and exit code 2.
Images and the spoken question are decoded once: the engine receives their pixels and samples.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ola_core.errors import GenerationError, ModelFilesMissingError
from ola_core.processing.media import SUFFIXES, MediaKind
from ola_core.settings import MEMORY_PROFILES

if TYPE_CHECKING:  # the engine (torch, transformers) is imported when a question is asked, not for --help
    from ola_core.engine import Turn, TurnStats


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="ask Ola one question about images, audio or a video (no GUI)",
        description=(
            "Ask Ola one question, optionally about files, and print the answer as it is generated. "
            "Unreadable media end the command with a one-line error and exit code 2."
        ),
    )
    parser.add_argument("question", nargs="?", default="", help="the question (may be empty with media)")
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="the Ola-7b folder (default: the downloaded model)"
    )
    parser.add_argument("--speech-encoder", type=Path, metavar="F", help="Whisper large-v3.pt, if not found")
    parser.add_argument(
        "--music-encoder", type=Path, metavar="F", help="the BEATs .pt checkpoint, if not found"
    )
    parser.add_argument(
        "--image",
        type=Path,
        action="append",
        default=[],
        metavar="F",
        help=f"an image to look at (repeatable; {_suffixes('image')})",
    )
    parser.add_argument(
        "--audio",
        type=Path,
        metavar="F",
        help=(
            "an audio file: with --video, the clip's sound (it replaces the video's own soundtrack); "
            "otherwise sound to describe, or the spoken question when none is typed or with --image "
            f"({_suffixes('audio')})"
        ),
    )
    parser.add_argument(
        "--video",
        type=Path,
        metavar="F|DIR",
        help=(
            f"a video file ({_suffixes('video')}; its soundtrack is heard too, unless --audio is given) "
            "or a folder of frames (image files)"
        ),
    )
    parser.add_argument(
        "--profile",
        choices=MEMORY_PROFILES,
        default="auto",
        help="memory profile: auto (from the GPU's free memory; none on the CPU), 8gb, 12gb, 24gb, "
        "or custom (only --quantization)",
    )
    parser.add_argument(
        "--quantization",
        choices=("none", "nf4", "int8"),
        default="none",
        help="weights of the language model: bf16 (none), 4-bit NF4 or 8-bit (default: none)",
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run (default: auto)"
    )
    parser.add_argument(
        "--greedy", action="store_true", help="arg-max decoding (the repetition penalty still applies)"
    )
    parser.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        default=1024,
        metavar="N",
        help="longest answer in tokens (default: 1024)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object at the end: text, token_ids, prompt_tokens, timings, memory",
    )
    parser.set_defaults(handler=_handle)


def _suffixes(kind: MediaKind) -> str:
    """The suffixes of the media table for ``kind``, for the help text."""
    return " ".join(sorted(SUFFIXES[kind]))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _model_files(args: argparse.Namespace) -> tuple[Path, Path | None, Path | None]:
    """The Ola folder and encoder files: as given, or the downloaded model."""
    if args.model is not None:
        return args.model, args.speech_encoder, args.music_encoder
    from ola_core.model.locator import BEATS_FILE_NAME, WHISPER_FILE_NAME
    from ola_core.model_store import find_model_files

    found = find_model_files()
    if found is None:
        raise ModelFilesMissingError(
            "No Ola model found: run `ola-assistant download` first, or pass --model DIR (the Ola-7b folder)."
        )
    encoders = found.speech_encoders_dir
    return (
        found.ola_dir,
        args.speech_encoder or encoders / WHISPER_FILE_NAME,
        args.music_encoder or encoders / BEATS_FILE_NAME,
    )


def _turn(args: argparse.Namespace) -> Turn:
    """The question and media as a turn, every file checked before the model loads.

    Images and the spoken question are decoded here, once: the turn carries their pixels and
    samples to the engine, which never opens those files again (a 169-megapixel photo costs one
    decode, not two). The video and the clip's sound are checked by decoding them with the
    engine's own code.

    With a video, the audio file is the clip's sound, as in the official inference (video path +
    audio path: ``<speech><image>\n{question}``, its own soundtrack unused). Otherwise it is the
    spoken question (``<speech>\n{question}`` alone — the same prompt as sound to describe — or
    the image + spoken-question form).
    """
    import numpy as np

    from ola_core.engine import MediaBudget, Turn
    from ola_core.engine.turn_inputs import user_message
    from ola_core.processing.audio import load_audio
    from ola_core.processing.image import load_image

    with_video = args.video is not None
    speech = load_audio(args.audio) if args.audio is not None and not with_video else None
    sound = args.audio if with_video else None
    images = tuple(np.asarray(load_image(path)) for path in args.image)  # MediaError naming the file
    turn = Turn(text=args.question, speech=speech, images=images, video=args.video, sound=sound)
    if turn.is_empty():
        raise GenerationError("Nothing to ask: give a question, or at least one --image, --audio or --video.")
    if turn.video is not None or turn.sound is not None:
        user_message(Turn(video=turn.video, sound=turn.sound), MediaBudget())  # MediaError naming the file
    return turn


def stats_json(stats: TurnStats) -> dict[str, Any]:
    """The figures of a turn as plain JSON values (seconds from the start of the turn)."""

    def since_start(t: float | None) -> float | None:
        return None if t is None else round(t - stats.t_start, 4)

    return {
        "text": stats.text.strip(),
        "token_ids": stats.token_ids,
        "prompt_tokens": stats.prompt_tokens,
        "new_tokens": stats.new_tokens,
        "stop_reason": stats.stop_reason,
        "timings": {
            "encoders_done_s": since_start(stats.t_encoders_done),
            "prefill_done_s": since_start(stats.t_prefill_done),
            "first_token_s": since_start(stats.t_first_token),
            "total_s": since_start(stats.t_end),
            "tokens_per_s": stats.tokens_per_s,
        },
        "peak_memory_bytes": stats.peak_memory_bytes,
        "memory_kind": stats.memory_kind,
    }


def _handle(args: argparse.Namespace) -> int:
    from ola_core.engine import GenerationSettings, OlaEngine

    turn = _turn(args)
    model_dir, speech_encoder, music_encoder = _model_files(args)
    # from_checkpoint builds ``cls``, the engine's subclass, though typed as the processing base class.
    settings = cast(
        GenerationSettings,
        GenerationSettings.from_checkpoint(model_dir, greedy=args.greedy, max_new_tokens=args.max_new_tokens),
    )
    engine = OlaEngine(
        model_dir,
        speech_encoder=speech_encoder,
        music_encoder=music_encoder,
        quantization=args.quantization,
        profile=args.profile,
        device=args.device,
        settings=settings,
    )
    t0 = time.monotonic()
    engine.load()
    load_s = time.monotonic() - t0
    started = False
    for delta in engine.stream(turn):
        if not args.json:
            text = delta.text if started else delta.text.lstrip()
            started = started or bool(text)
            sys.stdout.write(text)
            sys.stdout.flush()
    stats = engine.last_stats
    assert stats is not None
    if args.json:
        report = stats_json(stats)
        report["timings"]["load_s"] = round(load_s, 4)
        report["model"] = engine.description
        print(json.dumps(report, ensure_ascii=False))
    else:
        print()
    return 0
