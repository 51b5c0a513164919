#!/usr/bin/env bash
# Ola Assistant in one step, on Linux and macOS: make a private environment (first run), install
# the app into it, add it to the application menu, start it. Run it again after an update (git
# pull, a newer release zip unpacked over this folder) and it updates the same environment in
# place. Arguments go to `ola-assistant` (e.g. --smoke-test). scripts/uninstall.sh removes it.
#
# How the environment is made (the choice is printed first):
#   uv   when an NVIDIA driver answers (`nvidia-smi -L`), and on macOS: uv (from PyPI, in .uv/)
#        brings a private Python 3.11 and installs with `--torch-backend=auto`, which picks the
#        CUDA build of torch that matches the driver; on macOS the standard wheel, with MPS on
#        Apple silicon.
#   pip  otherwise (no NVIDIA GPU: the CPU build), or when OLA_TORCH_INDEX / OLA_TORCH is set:
#        the system python3 -m venv and pip; torch from PyTorch's CPU index on Linux (the torch
#        on PyPI for Linux is the multi-GB CUDA build), then the app.
# Settings (environment variables):
#   VENV             the environment folder (default: .venv in this folder)
#   OLA_INSTALLER    uv | pip: skip the choice above
#   OLA_TORCH_INDEX  pip: where torch comes from (default https://download.pytorch.org/whl/cpu on
#                    Linux); "none": pip's own configuration, e.g. a wheel already on disk
#   OLA_TORCH        pip: the torch requirement (default: torch)
#   OLA_NO_MENU=1    no application-menu entry
set -euo pipefail
cd "$(dirname "$0")/.."
HERE="$PWD"
VENV="${VENV:-.venv}"
OS="$(uname -s)"
STAMP="$VENV/.ola-installed"  # what was installed: the installer and pyproject.toml's checksum
say() { echo "ola-assistant install: $*" >&2; }
die() { say "error: $*"; exit 1; }

choose_installer() {
  if [ -n "${OLA_INSTALLER:-}" ]; then
    case "$OLA_INSTALLER" in uv|pip) echo "$OLA_INSTALLER" ;; *) die "OLA_INSTALLER must be uv or pip" ;; esac
  elif [ -n "${OLA_TORCH_INDEX:-}${OLA_TORCH:-}" ]; then echo pip
  elif [ -f "$STAMP" ]; then cut -d' ' -f1 "$STAMP"  # keep what made this environment
  elif [ "$OS" = Darwin ]; then echo uv
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then echo uv
  else echo pip
  fi
}

find_uv() {  # uv on PATH, else our own copy from PyPI in .uv/venv
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  if [ ! -x .uv/venv/bin/uv ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed once, to fetch uv (or install uv yourself)"
    python3 -m venv .uv/venv && .uv/venv/bin/pip install -q --disable-pip-version-check uv \
      || die "could not install uv from PyPI into .uv/venv"
  fi
  echo "$HERE/.uv/venv/bin/uv"
}

install_with_uv() {
  local uv
  uv="$(find_uv)"
  export UV_PYTHON_INSTALL_DIR="$HERE/.uv/python" UV_PYTHON_PREFERENCE=only-managed
  [ -x "$VENV/bin/python" ] || "$uv" venv --python 3.11 "$VENV"
  "$uv" pip install --python "$VENV/bin/python" --torch-backend=auto -e ".[full]"
}

install_with_pip() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  local pip=("$VENV/bin/pip" install -q --disable-pip-version-check)
  local index="${OLA_TORCH_INDEX:-}"
  [ -n "$index" ] || { [ "$OS" = Linux ] && index=https://download.pytorch.org/whl/cpu || index=none; }
  if [ "$index" = none ]; then "${pip[@]}" "${OLA_TORCH:-torch}"
  else "${pip[@]}" --index-url "$index" "${OLA_TORCH:-torch}"
  fi
  "${pip[@]}" -e ".[full]"
}

mac_launcher() {  # ~/Applications/Ola Assistant.app: Spotlight and Launchpad find it; starts $1
  local app="$HOME/Applications/Ola Assistant.app"
  mkdir -p "$app/Contents/MacOS"
  printf '#!/bin/sh\nexec %q "$@"\n' "$1" > "$app/Contents/MacOS/ola-assistant"
  chmod 755 "$app/Contents/MacOS/ola-assistant"
  # The usage strings are what macOS shows when it asks for the microphone and the camera.
  cat > "$app/Contents/Info.plist" <<'PLIST'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>CFBundleName</key><string>Ola Assistant</string>
  <key>CFBundleIdentifier</key><string>io.github.ola_assistant.OlaAssistant</string>
  <key>CFBundleExecutable</key><string>ola-assistant</string>
  <key>CFBundlePackageType</key><string>APPL</string>
  <key>NSHighResolutionCapable</key><true/>
  <key>NSMicrophoneUsageDescription</key><string>Ola Assistant listens to your questions.</string>
  <key>NSCameraUsageDescription</key><string>Ola Assistant looks through the camera when you turn it on.</string>
</dict></plist>
PLIST
  echo "Added Ola Assistant to $HOME/Applications."
}

add_menu_entry() {
  [ "${OLA_NO_MENU:-}" = 1 ] && return 0
  case "$OS" in
    Linux) scripts/install-desktop-entry.sh --exec "$1" ;;
    Darwin) mac_launcher "$1" ;;
  esac
}

wanted="$(choose_installer) $(cksum < pyproject.toml | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/ola-assistant" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
  installer="${wanted%% *}"
  say "installing into $VENV with $installer (see the top of $0 for how this is chosen)"
  "install_with_$installer"
  touch "$VENV/bin/ola-assistant"
  printf '%s\n' "$wanted" > "$STAMP"
  program="$(cd "$VENV/bin" && pwd)/ola-assistant"
  add_menu_entry "$program" || say "note: could not add Ola Assistant to the application menu; it still runs from here"
fi
exec "$VENV/bin/ola-assistant" "$@"
