"""The microphone: PortAudio input at the device's own rate → 16 kHz mono int16 blocks + level.

Threads:

* the PortAudio callback only copies the block into a preallocated ring of native-rate floats
  and publishes ``(samples written, time)``: no allocation beyond a tuple, no lock, no waiting;
* the mic worker thread (every ~20 ms) takes the new samples, resamples them with soxr to
  16 kHz, hands each block to ``on_block(pcm, t_end)`` (the endpointer), keeps the last seconds
  in a 16 kHz ring, reports the level, counts overflows and watches the device.

A device that disappears is reported with :class:`DeviceLost` and re-opened, with
:class:`DeviceRestored`, as soon as it (or, when following the system default, any default
microphone) is back. Disappearance is seen three ways: the stream stops, no callback arrives for
a second, or (under PulseAudio, which silently moves streams to another source rather than
failing them) the source we recorded from is no longer in the server's list. On Windows and
macOS, where PortAudio's device list is read once, each reopening attempt first re-reads it
(:func:`devices.refresh_portaudio`, via :func:`devices.stream_target`), so a microphone plugged
back in, or a new default one, is found; the open stream is tracked so that never closes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from ola_core.capture import devices
from ola_core.capture.events import (
    DeviceLost,
    DeviceRestored,
    EventCallback,
    LevelUpdate,
    Overflow,
    ignore_event,
)
from ola_core.capture.pcm import SAMPLE_RATE, level_dbfs, to_int16
from ola_core.errors import AudioDeviceError

log = logging.getLogger(__name__)

# (pcm (n,) int16 16 kHz, monotonic time just after its last sample); the return value is ignored.
BlockCallback = Callable[[np.ndarray, float], object]


def _ignore_block(_pcm: np.ndarray, _t_end: float) -> None:
    """Default block consumer: nothing (the ring buffer still keeps the audio)."""


@dataclass(frozen=True)
class _Opened:
    """One open PortAudio stream and what it records from."""

    stream: Any  # sounddevice.InputStream
    rate: int  # native sample rate of the stream
    name: str  # what DeviceLost/Restored name: the pulse source or PortAudio device
    pulse_source: str | None  # the PulseAudio source being recorded (watched for removal)


class MicStream:
    """Live microphone ``device`` (a name from :func:`devices.list_microphones`; None = system default).

    ``start()`` raises :class:`AudioDeviceError` when no such microphone can be opened; after
    that, trouble is reported as events and the stream recovers by itself. ``latency`` (s) is
    PortAudio's input buffer: 50 ms means ~12 ms callbacks at 1.4 % of a core, where "low"
    (2 ms callbacks) costs 4.7 % for nothing the 30 ms VAD frames could use.
    """

    poll_s = 0.020  # worker wake-up period
    watch_s = 1.0  # device check period; also how long a silent callback means "gone"
    retry_s = 1.0

    def __init__(
        self,
        device: str | None = None,
        *,
        on_block: BlockCallback = _ignore_block,
        on_event: EventCallback = ignore_event,
        level_every_s: float = 0.05,
        ring_s: float = 30.0,
        latency: float = 0.05,
    ) -> None:
        self.device = device
        self.on_block = on_block
        self.on_event = on_event
        self.level_every_s = level_every_s
        self.latency = latency
        self._ring16 = np.zeros(int(ring_s * SAMPLE_RATE), np.int16)
        self._ring16_total = 0
        self._ring16_lock = threading.Lock()
        self._opened: _Opened | None = None
        self._raw = np.zeros(1, np.float32)  # native-rate ring, sized at open
        self._mark = (0, 0.0)  # (native samples written, monotonic time after the last one)
        self._read_total = 0
        self._overflows = 0  # input overflows PortAudio reported (incremented by the callback only)
        self._dropped = 0  # times the worker fell a whole ring behind (incremented by the worker only)
        self.overflow_total = 0  # reported so far (callback overflows + worker lag)
        self._resampler: soxr.ResampleStream | None = None
        self._in_total = 0  # native samples given to the resampler since open
        self._out_total = 0  # 16 kHz samples it returned
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    # --- public -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        opened = self._opened
        return opened.name if opened else (self.device or "default microphone")

    @property
    def sample_rate(self) -> int | None:
        """Native rate of the open stream (None while closed)."""
        opened = self._opened
        return opened.rate if opened else None

    def start(self) -> None:
        """Open the microphone now (raising :class:`AudioDeviceError`) and start delivering."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mic-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop delivering and close the device (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._close()

    def __enter__(self) -> MicStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def recent(self, seconds: float) -> np.ndarray:
        """The last ``seconds`` of 16 kHz int16 audio (shorter right after start)."""
        with self._ring16_lock:
            n = min(int(seconds * SAMPLE_RATE), self._ring16_total, len(self._ring16))
            end = self._ring16_total % len(self._ring16)
            idx = np.arange(end - n, end) % len(self._ring16)
            return self._ring16[idx].copy()

    def forget(self) -> None:
        """Erase the kept audio (booth mode's wipe after a visitor); ``recent`` starts over empty.

        The 2 s native-rate ring is not touched: the worker is reading it, and it is overwritten
        within two seconds anyway.
        """
        with self._ring16_lock:
            self._ring16[:] = 0
            self._ring16_total = 0

    # --- PortAudio callback (its own thread: copy only) --------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self._overflows += 1
        written = self._mark[0]
        cap = len(self._raw)
        w = written % cap
        first = min(frames, cap - w)
        self._raw[w : w + first] = indata[:first, 0]
        if first < frames:
            self._raw[: frames - first] = indata[first:, 0]
        self._mark = (written + frames, time.monotonic())

    # --- opening ----------------------------------------------------------------------------
    def _open(self) -> None:
        import sounddevice

        target = devices.stream_target("input", self.device)
        try:
            info = sounddevice.query_devices(target.portaudio_device, kind="input")
            rate = int(info["default_samplerate"])
            self._raw = np.zeros(rate * 2, np.float32)  # 2 s: the worker polls every 20 ms
            self._mark = (0, time.monotonic())
            self._read_total = 0
            with target.opening():
                stream = sounddevice.InputStream(
                    device=target.portaudio_device,
                    samplerate=rate,
                    channels=1,
                    dtype="float32",
                    latency=self.latency,
                    callback=self._callback,
                )
            devices.track_stream(stream)
            stream.start()
        except (sounddevice.PortAudioError, ValueError) as error:
            raise AudioDeviceError(
                f"Cannot open the microphone “{target.pulse_name or target.portaudio_device or 'default'}” "
                f"({error}). "
                "Check that it is connected and not used exclusively by another application."
            ) from error
        self._resampler = (
            None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1, "float32")
        )
        self._in_total = self._out_total = 0
        self._opened = _Opened(stream, rate, target.pulse_name or info["name"], target.pulse_name)
        log.info("microphone %s open at %d Hz", self._opened.name, rate)

    def _close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            try:
                opened.stream.close(ignore_errors=True)
            except Exception:  # a vanished device may fail to close; it is gone either way
                log.debug("closing the microphone failed", exc_info=True)

    # --- worker thread ----------------------------------------------------------------------
    def _run(self) -> None:
        last_level = 0.0
        level_blocks: list[np.ndarray] = []
        next_watch = time.monotonic() + self.watch_s
        last_seen = (self._mark[0], time.monotonic())
        while not self._stop.wait(self.poll_s):
            now = time.monotonic()
            if self._opened is None:
                if now >= next_watch:
                    next_watch = now + self.retry_s
                    self._try_reopen()
                    last_seen = (self._mark[0], time.monotonic())
                continue
            pcm, t_end = self._drain()
            if len(pcm):
                self._keep(pcm)
                try:
                    self.on_block(pcm, t_end)
                except Exception:  # a failing consumer must not silence the microphone
                    log.exception("the microphone's block consumer failed")
                level_blocks.append(pcm)
                if now - last_level >= self.level_every_s:
                    rms, peak = level_dbfs(np.concatenate(level_blocks))
                    self.on_event(LevelUpdate(rms, peak, t_end))
                    level_blocks, last_level = [], now
            if now >= next_watch:
                next_watch = now + self.watch_s
                self._report_overflows(now)
                written = self._mark[0]
                if written != last_seen[0]:
                    last_seen = (written, now)
                problem = self._check_device(stalled_s=now - last_seen[1])
                if problem:
                    self._lose(problem)

    def _drain(self) -> tuple[np.ndarray, float]:
        """New native samples → 16 kHz int16, and the time just after the last returned sample."""
        written, t_mark = self._mark
        new = written - self._read_total
        cap = len(self._raw)
        if new > cap:  # the worker fell behind by more than the ring: drop the oldest
            self._dropped += 1
            self._read_total = written - cap
            new = cap
        if new <= 0:
            return np.zeros(0, np.int16), t_mark
        idx = np.arange(self._read_total, written) % cap
        x = self._raw[idx]  # (new,) float32 at the native rate
        self._read_total = written
        assert self._opened is not None
        rate = self._opened.rate
        y = x if self._resampler is None else self._resampler.resample_chunk(x)
        self._in_total += new
        self._out_total += len(y)
        # The resampler holds back a few samples: the last one out is that much older than t_mark.
        lag_s = self._in_total / rate - self._out_total / SAMPLE_RATE
        return to_int16(y), t_mark - lag_s

    def _keep(self, pcm: np.ndarray) -> None:
        with self._ring16_lock:
            cap = len(self._ring16)
            idx = np.arange(self._ring16_total, self._ring16_total + len(pcm)) % cap
            self._ring16[idx] = pcm[-cap:] if len(pcm) > cap else pcm
            self._ring16_total += len(pcm)

    def _report_overflows(self, now: float) -> None:
        count = self._overflows + self._dropped - self.overflow_total
        if count > 0:
            self.overflow_total += count
            log.warning("microphone overflow: %d new, %d in total", count, self.overflow_total)
            self.on_event(Overflow(count, self.overflow_total, now))

    def _check_device(self, stalled_s: float) -> str | None:
        """Why the open device is no longer usable, or None while it is fine."""
        opened = self._opened
        assert opened is not None
        if not opened.stream.active:
            return f"The microphone “{opened.name}” stopped."
        if stalled_s >= self.watch_s:
            return f"The microphone “{opened.name}” stopped sending audio."
        if opened.pulse_source is not None:
            names = devices.pulse_source_names()
            if names is not None and opened.pulse_source not in names:
                return f"The microphone “{opened.name}” was disconnected."
        return None

    def _lose(self, problem: str) -> None:
        name = self.name
        self._close()
        self.lost = True
        message = f"{problem} Waiting for it to come back; plug it in or choose another microphone."
        log.warning("%s", message)
        self.on_event(DeviceLost("microphone", name, message, time.monotonic()))

    def _try_reopen(self) -> None:
        try:
            self._open()
        except AudioDeviceError as error:
            log.debug("microphone still unavailable: %s", error)
            return
        self.lost = False
        self.on_event(DeviceRestored("microphone", self.name, time.monotonic()))
