#!/usr/bin/env bash
# Start a private PulseAudio daemon with virtual devices (no sound card needed). Source it:
#   speaker : null sink, the default output (what the app plays goes nowhere, at real-time pace)
#   micfeed : null sink that tests play speech into; its monitor is remapped to...
#   mic     : the default input source (what the app records)
# Exports XDG_RUNTIME_DIR and PULSE_PID. norewinds=1 matters: without it output starts 1–2 s late.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d -t xdg-ola.XXXXXX)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
pulseaudio -n --daemonize=no --exit-idle-time=-1 --disallow-exit --log-target=stderr --log-level=error \
  -L module-native-protocol-unix \
  -L "module-null-sink sink_name=speaker norewinds=1 rate=48000 channels=2 sink_properties=device.description=Virtual-Speaker" \
  -L "module-null-sink sink_name=micfeed norewinds=1 rate=16000 channels=1 sink_properties=device.description=Virtual-MicFeed" \
  -L "module-remap-source source_name=mic master=micfeed.monitor source_properties=device.description=Virtual-Mic" \
  2>"$XDG_RUNTIME_DIR/pulse.log" &
export PULSE_PID=$!
for _ in $(seq 100); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
pactl set-default-sink speaker >/dev/null 2>&1 || true
pactl set-default-source mic >/dev/null 2>&1 || true
