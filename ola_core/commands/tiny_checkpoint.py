"""`ola-assistant tiny-checkpoint OUT_DIR`: write a random Ola checkpoint in the official layout.

Tiny (a few MB, seconds) for trying the whole app and for tests; ``--full-size`` writes Ola-7B's
real shapes with random weights (about 21 GB) for memory and speed measurements on a GPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _handle(args: argparse.Namespace) -> int:
    from ola_core.model.tiny import write_tiny_checkpoint
    from ola_core.model_store import refuse_non_empty

    refuse_non_empty(Path(args.out_dir), args.force)
    written = write_tiny_checkpoint(Path(args.out_dir), seed=args.seed, full_size=args.full_size)
    print(f"model folder:   {written.model_dir}")
    print(f"speech encoder: {written.speech_encoder_path}")
    print(f"music encoder:  {written.music_encoder_path}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tiny-checkpoint", help="write a random Ola checkpoint (official layout) for tests and benchmarks"
    )
    parser.add_argument(
        "out_dir", metavar="OUT_DIR", help="folder to create Ola-7b/ and Ola_speech_encoders/ in"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--full-size",
        action="store_true",
        help="Ola-7B's real shapes (about 21 GB on disk) instead of toy size",
    )
    parser.add_argument("--force", action="store_true", help="write into OUT_DIR even if it is not empty")
    parser.set_defaults(handler=_handle)
