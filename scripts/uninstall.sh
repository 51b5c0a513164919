#!/usr/bin/env bash
# Remove what scripts/install-and-run.sh installed: the environment (.venv or $VENV), the private
# Python and uv (.uv), and the application-menu entry. Your settings, conversations, logs and
# downloaded models are listed and kept unless you answer "y" (or pass --delete-data);
# --keep-data never asks. The checkout or unpacked release folder itself stays: delete it by hand.
#
#   scripts/uninstall.sh [--delete-data | --keep-data]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
die() { echo "error: $*" >&2; exit 2; }

mode=ask
for arg in "$@"; do
  case "$arg" in
    --delete-data) mode=delete ;;
    --keep-data) mode=keep ;;
    -h|--help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

# Ask the installed app where the user's data is, before the app is removed.
sizes=() folders=()
if [ -x "$VENV/bin/python" ]; then
  while IFS=$'\t' read -r bytes folder; do
    [ -n "$folder" ] && sizes+=("$bytes") && folders+=("$folder")
  done < <("$VENV/bin/python" -m app.user_data 2>/dev/null || true)
fi

case "$(uname -s)" in
  Linux) scripts/install-desktop-entry.sh --uninstall >/dev/null || true ;;
  Darwin) rm -rf "$HOME/Applications/Ola Assistant.app" ;;
esac
rm -rf "$VENV" .uv
echo "Removed Ola Assistant's environment ($VENV) and its menu entry."

[ ${#folders[@]} -gt 0 ] || exit 0
echo "Your data (settings, conversations, logs, downloaded models):"
for i in "${!folders[@]}"; do
  awk -v b="${sizes[$i]}" -v f="${folders[$i]}" 'BEGIN { printf "  %8.2f GB  %s\n", b / 1e9, f }'
done
if [ "$mode" = ask ]; then
  answer=""
  printf 'Delete these too? [y/N] ' >&2
  read -r answer || true  # no answer (end of input) is a no
  case "$answer" in y|Y|yes|YES) mode=delete ;; *) mode=keep ;; esac
fi
if [ "$mode" = delete ]; then
  for folder in "${folders[@]}"; do rm -rf -- "$folder"; done
  echo "Deleted your data."
else
  echo "Kept your data; delete those folders by hand if you change your mind."
fi
