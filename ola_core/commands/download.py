"""`ola-assistant download`: fetch the model files into huggingface_hub's cache (resumable).

The same :class:`~ola_core.model_store.Downloader` the first-run setup dialog uses; here the
progress goes to one refreshed line on stderr, and Ctrl+C cancels cleanly (finished files stay,
the next run resumes). ``--test-model`` writes the interface-test model instead (no network).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ola_core import model_store
from ola_core.progress import format_progress


def _handle(args: argparse.Namespace) -> int:
    if args.test_model:
        if args.dir is not None:
            model_store.refuse_non_empty(args.dir, args.force)
        files = model_store.write_test_model(args.dir)
        print(f"{files.label}\n  written to {files.ola_dir}")
        return 0
    hardware = model_store.detect_hardware()
    print(model_store.recommend(hardware, args.with_cosyvoice).message, file=sys.stderr)

    def show(p: model_store.DownloadProgress) -> None:
        print("\r" + format_progress(p)[:150].ljust(150), end="", file=sys.stderr, flush=True)

    downloader = model_store.Downloader(with_cosyvoice=args.with_cosyvoice, cache_dir=args.dir, progress=show)
    try:
        files = downloader.run()
    except KeyboardInterrupt:
        downloader.cancel()
        print("\ncancelled; finished files are kept — run the same command again to resume.", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    print(f"Ola-7B: {files.ola_dir}\nspeech encoders: {files.speech_encoders_dir}")
    if files.cosyvoice_dir:
        print(f"CosyVoice2: {files.cosyvoice_dir}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download the Ola-7B model files (resumable)",
        description=f"Download {model_store.OLA_REPO} and {model_store.SPEECH_ENCODERS_REPO} "
        f"(and {model_store.COSYVOICE_REPO} with --with-cosyvoice) into the Hugging Face cache.",
    )
    parser.add_argument(
        "--with-cosyvoice", action="store_true", help="also fetch the CosyVoice2 speech model"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="cache folder (default: the Hugging Face cache)"
    )
    parser.add_argument(
        "--test-model",
        action="store_true",
        help="write the interface-test model (tiny, random weights) instead; --dir is its folder",
    )
    parser.add_argument(
        "--force", action="store_true", help="with --test-model: write into --dir even if it is not empty"
    )
    parser.set_defaults(handler=_handle)
