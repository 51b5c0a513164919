#!/usr/bin/env bash
# Install Ola Assistant into ./.venv (first run only) and start it. Arguments go to `ola-assistant`.
# torch comes from PyPI as its normal CUDA build; on a machine without an NVIDIA GPU it runs on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if [ ! -x "$VENV/bin/ola-assistant" ] || [ pyproject.toml -nt "$VENV/bin/ola-assistant" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[full]"
  touch "$VENV/bin/ola-assistant"
  if [ "$(uname -s)" = Linux ]; then  # the application-menu entry; never a reason to stop here
    scripts/install-desktop-entry.sh --exec "$VENV/bin/ola-assistant" \
      || echo "note: could not add Ola Assistant to the application menu; it still runs from here" >&2
  fi
fi
exec "$VENV/bin/ola-assistant" "$@"
