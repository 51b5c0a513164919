"""Nothing leaves the machine: a `replay` and a `chat` turn run under a guard against any network use.

The commands run as subprocesses (as a user runs them) with a ``sitecustomize`` that fails every
Python-level connect or DNS lookup and records it. onnxruntime's telemetry is native code that
Python's socket module never sees, so three more checks cover it: the process runs under
``strace`` when the machine has it (any IPv4/IPv6 connect fails the test), onnxruntime must have
been loaded (else the run proves nothing), and the telemetry's footprint — its device id under
``~/.cache/Microsoft/DeveloperTools`` — must not appear in the fresh home folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ola_core.model.tiny import TinyCheckpoint

ROOT = Path(__file__).resolve().parents[2]

GUARD = """
import atexit, os, socket, sys

_log = os.environ["NET_GUARD_LOG"]


def _refuse(what):
    with open(_log, "a") as f:
        f.write(what + "\\n")
    raise OSError("network use refused by the test guard: " + what)


_connect = socket.socket.connect


def connect(self, address):
    if self.family == getattr(socket, "AF_UNIX", None):
        return _connect(self, address)  # local sockets (PulseAudio, D-Bus) are not the network
    _refuse("connect %r" % (address,))


socket.socket.connect = connect
socket.socket.connect_ex = lambda self, address: connect(self, address)
socket.getaddrinfo = lambda host, *a, **k: _refuse("getaddrinfo %r" % (host,))
socket.gethostbyname = lambda host: _refuse("gethostbyname %r" % (host,))


@atexit.register
def _modules():
    with open(_log + ".modules", "w") as f:
        f.write("onnxruntime" if "onnxruntime" in sys.modules else "")
"""


def guarded_env(tmp_path: Path, config: Path) -> tuple[dict[str, str], Path]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "network.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(guard), str(ROOT)]),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "OLA_CONFIG_DIR": str(config),
        "NET_GUARD_LOG": str(log),
    }
    return env, log


def run_guarded(args: list[str], env: dict[str, str], tmp_path: Path, stdin: str = "") -> str:
    """Run ``python -m ola_core.cli ARGS`` under the guard (and strace when present); native connects."""
    command = [sys.executable, "-m", "ola_core.cli", *args]
    trace = tmp_path / f"strace-{args[0]}.txt"
    strace = shutil.which("strace")
    if strace:
        command = [strace, "-f", "-qq", "-e", "trace=connect", "-o", str(trace), *command]
    done = subprocess.run(
        command, env=env, input=stdin, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    if not strace:
        return ""
    return "\n".join(line for line in trace.read_text().splitlines() if re.search(r"AF_INET6?\b", line))


def fast_settings(config: Path, tiny: TinyCheckpoint) -> None:
    config.mkdir(parents=True)
    (config / "settings.json").write_text(
        json.dumps(
            {
                "model": {"model_dir": str(tiny.model_dir), "quantization": "none", "device": "cpu"},
                "generation": {"max_new_tokens": 4, "temperature": 0.0},
                "audio": {"end_of_turn_silence_ms": 300},
            }
        )
    )


def test_the_guard_catches_python_network_use(tmp_path: Path) -> None:
    env, log = guarded_env(tmp_path, tmp_path / "config")
    code = "import socket\ntry:\n    socket.getaddrinfo('example.com', 443)\nexcept OSError:\n    pass\n"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert "getaddrinfo 'example.com'" in log.read_text()


@pytest.mark.slow
def test_replay_and_chat_turns_use_no_network(tiny: TinyCheckpoint, spoken: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    fast_settings(config, tiny)
    env, log = guarded_env(tmp_path, config)
    answer = tmp_path / "answer.wav"
    native = run_guarded(
        ["replay", "--model", str(tiny.model_dir), "--audio", str(spoken), "--out", str(answer), "--no-play"],
        env,
        tmp_path,
    )
    assert answer.is_file() and answer.stat().st_size > 0
    assert Path(f"{log}.modules").read_text() == "onnxruntime", "the turn did not use onnxruntime"
    native += run_guarded(["chat", "--push-to-talk"], env, tmp_path, stdin="Hello there\n")
    assert not log.exists() or log.read_text() == "", log.read_text()
    assert native == "", f"native network connects:\n{native}"
    telemetry = Path(env["HOME"]) / ".cache" / "Microsoft"
    assert not telemetry.exists(), f"onnxruntime telemetry wrote {sorted(telemetry.rglob('*'))}"
