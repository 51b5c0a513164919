#!/usr/bin/env bash
# Install everything the tests need and run the whole suite (the README's test command; .ci/run).
#   system packages (as root, only those missing) -> .venv with the CPU torch wheel -> the project
#   with its dev extras -> a virtual X display and virtual audio devices -> ruff, mypy, pytest.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k capture`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS="libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-cursor0 libegl1 libgl1 libfontconfig1
  libdbus-1-3 libpulse0 libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins
  xvfb xauth x11-utils x11-xserver-utils xdotool espeak-ng sox desktop-file-utils appstream"
APT_PKGS="$APT_PKGS binutils"  # objcopy/objdump: PyInstaller's build in tests/test_packaging.py
missing=$(for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "note: not root, so these system packages were not installed (their tests skip):" $missing >&2
  fi
fi

VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
. "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# The CPU wheel first: an unpinned torch (asked for by any package) would pull a multi-GB CUDA build.
pip install -q torch==2.13.0
pip install -q -e ".[dev]"

export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OPENCV_LOG_LEVEL=ERROR
export OMP_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false PYTHONFAULTHANDLER=1

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
if command -v Xvfb >/dev/null; then
  export DISPLAY=":${XVFB_DISPLAY:-87}"
  Xvfb "$DISPLAY" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & pids+=($!)
  for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
fi
if command -v pulseaudio >/dev/null; then
  . scripts/start_virtual_audio.sh; pids+=("$PULSE_PID")
fi

echo "== pytest"
set +e
python -m pytest -q -p no:cacheprovider "$@"
rc=$?
[ $rc -eq 5 ] && { echo "no tests collected"; rc=1; }
echo "== pytest -m numerics, forced AVX2 kernels (the numbers must hold on any x86-64 CPU)"
ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python -m pytest -q -p no:cacheprovider -m numerics
rc2=$?
[ $rc -eq 0 ] && rc=$rc2
exit $rc
