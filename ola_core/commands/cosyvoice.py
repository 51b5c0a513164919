"""`ola-assistant cosyvoice …`: speak with, clone a voice for, or fake a CosyVoice2 model folder.

    ola-assistant cosyvoice say "Hello there." [--voice NAME] [--out hello.wav]
    ola-assistant cosyvoice clone NAME clip.wav --text "what the clip says"
    ola-assistant cosyvoice tiny OUT_DIR [--full-size]

The model folder is ``--model``, else ``OLA_COSYVOICE_DIR``, else the one the model store finds.
These commands run on the CPU too (slowly), unlike the automatic voice choice, which needs a GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np

from ola_core.errors import ModelFilesMissingError


def _synthesizer(args: argparse.Namespace) -> Any:
    from ola_core.speech.cosyvoice.synthesizer import CosyVoiceSynthesizer, find_model_dir
    from ola_core.speech.selection import VoiceContext

    folder = Path(args.model) if args.model else find_model_dir(VoiceContext())
    if folder is None:
        raise ModelFilesMissingError(
            "No CosyVoice2 model folder found: pass --model DIR, set OLA_COSYVOICE_DIR, or run `ola-assistant download`."
        )
    return CosyVoiceSynthesizer(folder, args.device, stream=not args.no_stream)


def _say(args: argparse.Namespace) -> int:
    synthesizer = _synthesizer(args)
    start = time.perf_counter()
    chunks = []
    for pcm in synthesizer.synthesize(args.text, args.voice):
        chunks.append(pcm)
        print(
            f"chunk {len(chunks)}: {len(pcm) / synthesizer.sample_rate:.2f} s at {time.perf_counter() - start:.2f} s"
        )
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if args.out:
        import soundfile

        soundfile.write(args.out, audio, synthesizer.sample_rate)
        print(f"wrote {args.out} ({len(audio) / synthesizer.sample_rate:.2f} s)")
    return 0


def _clone(args: argparse.Namespace) -> int:
    from ola_core.processing.audio import load_audio

    synthesizer = _synthesizer(args)
    samples = load_audio(Path(args.clip))  # 16 kHz mono: the flow mel stops at 8 kHz anyway
    synthesizer.clone_voice(args.name, samples, 16_000, args.text)
    print(f"saved voice {args.name!r} in {synthesizer.voices_file}")
    return 0


def _tiny(args: argparse.Namespace) -> int:
    from ola_core.speech.cosyvoice.tiny import write_tiny_cosyvoice

    with_onnx = importlib.util.find_spec("onnx") is not None  # the stand-ins need the dev extra
    folder = write_tiny_cosyvoice(
        Path(args.out_dir), seed=args.seed, full_size=args.full_size, onnx_stand_ins=with_onnx
    )
    print(folder)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cosyvoice", help="CosyVoice2: speak a text, clone a voice, write a test model"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def model_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--model", help="the CosyVoice2-0.5B folder")
        sub.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
        sub.add_argument("--no-stream", action="store_true", help="one chunk per sentence")

    say = actions.add_parser("say", help="speak a text; prints the chunk times, optionally writes a wav")
    say.add_argument("text")
    say.add_argument("--voice", help="a voice name (default: the first one)")
    say.add_argument("--out", help="write the audio to this .wav file")
    model_options(say)
    say.set_defaults(handler=_say)

    clone = actions.add_parser("clone", help="clone a voice from a 3–10 s clip and save it under NAME")
    clone.add_argument("name")
    clone.add_argument("clip", help="an audio file: one speaker, 3–10 s")
    clone.add_argument("--text", required=True, help="what the clip says, word for word")
    model_options(clone)
    clone.set_defaults(handler=_clone)

    tiny = actions.add_parser("tiny", help="write a random CosyVoice2 folder in the official layout")
    tiny.add_argument("out_dir")
    tiny.add_argument("--seed", type=int, default=0)
    tiny.add_argument("--full-size", action="store_true", help="the release's shapes (about 2.5 GB)")
    tiny.set_defaults(handler=_tiny)
