"""`ola-assistant doctor`: what this machine offers the assistant (versions, GPU, devices)."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
from typing import Any

_PACKAGES = ("torch", "transformers", "bitsandbytes", "PySide6-Essentials", "sounddevice", "numpy")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect() -> dict[str, Any]:
    """A plain-data report; nothing here may raise on a machine without GPU, audio or display."""
    import torch

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "cuda": torch.cuda.is_available(),
        "display": bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")),
    }
    if report["cuda"]:
        free, total = torch.cuda.mem_get_info()
        report["gpu"] = {
            "name": torch.cuda.get_device_name(0),
            "free_gb": free / 2**30,
            "total_gb": total / 2**30,
        }
    try:
        import sounddevice

        devices = sounddevice.query_devices()
        report["audio_inputs"] = [d["name"] for d in devices if d["max_input_channels"] > 0]
        report["audio_outputs"] = [d["name"] for d in devices if d["max_output_channels"] > 0]
    except (OSError, ImportError) as error:  # no PortAudio library on this machine
        report["audio_error"] = str(error)
    return report


def _handle(args: argparse.Namespace) -> int:
    report = collect()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>14}: {value}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("doctor", help="report versions, GPU and audio devices")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handle)
