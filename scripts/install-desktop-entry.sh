#!/usr/bin/env bash
# Add Ola Assistant to the desktop's application menu for the current user (Linux, freedesktop):
# the .desktop entry, the AppStream metadata and the icons go under $XDG_DATA_HOME
# (default ~/.local/share). No root, no xdg-utils needed.
#
#   scripts/install-desktop-entry.sh [--exec PROGRAM] [--uninstall]
#
# --exec: the ola-assistant program the menu entry starts (default: ./.venv/bin/ola-assistant of
# this checkout, else the one on PATH). A .venv is not on the desktop's PATH, so the installed
# entry names the program by its absolute path; packaging/linux/ keeps the plain `ola-assistant`
# that system-wide packages want.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
APP_ID="io.github.ola_assistant.OlaAssistant"
ICON="ola-assistant"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
METAINFO="$DATA/metainfo"
HICOLOR="$DATA/icons/hicolor"

die() { echo "error: $*" >&2; exit 1; }

program="" uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --exec) [ $# -ge 2 ] || die "--exec needs a path"; program="$2"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

sizes=()
for dir in "$ROOT"/assets/icons/hicolor/*x*/; do sizes+=("$(basename "$dir")"); done

if [ "$uninstall" = 1 ]; then
  rm -f "$APPS/$APP_ID.desktop" "$METAINFO/$APP_ID.metainfo.xml" "$HICOLOR/scalable/apps/$ICON.svg"
  for size in "${sizes[@]}"; do rm -f "$HICOLOR/$size/apps/$ICON.png"; done
  echo "Removed Ola Assistant from the application menu ($APPS)."
  exit 0
fi

if [ -z "$program" ]; then
  venv="${VENV:-.venv}"; [[ "$venv" = /* ]] || venv="$ROOT/$venv"
  if [ -x "$venv/bin/ola-assistant" ]; then program="$venv/bin/ola-assistant"
  else program="$(command -v ola-assistant)" || die "ola-assistant is not installed (run scripts/install-and-run.sh, or pass --exec PROGRAM)"
  fi
fi
[ -x "$program" ] || die "$program is not an executable program"
program="$(cd "$(dirname "$program")" && pwd)/$(basename "$program")"
case "$program" in *$'\n'*|*$'\t'*) die "the program's path contains a newline or tab: $program" ;; esac

# The Desktop Entry spec: Exec is a command line whose arguments are double-quoted when they hold
# reserved characters (inside quotes \ " ` $ take a backslash), and % is doubled; every value is
# then a string in which a backslash itself is written twice.
percent="${program//%/%%}"
if [[ "$percent" =~ ^[A-Za-z0-9/._+,:@=-]+$ ]]; then
  exec_value="$percent"
else
  quoted="$percent"
  for ch in '\' '"' '`' '$'; do quoted="${quoted//"$ch"/\\$ch}"; done
  exec_value="\"${quoted//\\/\\\\}\""
fi
tryexec_value="${program//\\/\\\\}"

mkdir -p "$APPS" "$METAINFO" "$HICOLOR/scalable/apps"
tmp="$(mktemp "$APPS/.$APP_ID.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line; do
  case "$line" in
    Exec=*) printf 'Exec=%s\n' "$exec_value" ;;
    TryExec=*) printf 'TryExec=%s\n' "$tryexec_value" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$ROOT/packaging/linux/$APP_ID.desktop" > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$APPS/$APP_ID.desktop"  # atomic: a menu watching the folder never reads half a file
install -m 644 "$ROOT/packaging/linux/$APP_ID.metainfo.xml" "$METAINFO/"
install -m 644 "$ROOT/assets/$ICON.svg" "$HICOLOR/scalable/apps/"
for size in "${sizes[@]}"; do
  install -D -m 644 "$ROOT/assets/icons/hicolor/$size/apps/$ICON.png" "$HICOLOR/$size/apps/$ICON.png"
done

# Optional refreshes; menus and icon themes also notice the new files by themselves.
touch "$HICOLOR" 2>/dev/null || true
if [ -f "$HICOLOR/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null; then
  gtk-update-icon-cache -q -t -f "$HICOLOR" 2>/dev/null || true
fi
if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$APPS" 2>/dev/null || true; fi
echo "Added Ola Assistant to the application menu ($APPS/$APP_ID.desktop, starts $program)."
