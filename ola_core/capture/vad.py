"""Turn endpointing on 16 kHz PCM: webrtcvad decisions, pre-roll, push-to-talk, barge-in detection.

The :class:`Endpointer` is fed PCM by whoever has it: the :class:`~ola_core.capture.mic.MicStream`
in real time, or the caller replaying a file "as if spoken" (``replay``, tests) as fast as it
likes. Time is derived from sample counts, re-anchored to the monotonic clock whenever the caller
passes the capture time of the chunk's last sample, so replayed runs are deterministic and live
runs do not drift from the frame sources' timestamps.

Turn rules (VAD mode):

* a turn starts when ``min_speech_ms`` of the last ``start_window_ms`` are voiced, so clicks and
  coughs shorter than that never start one; its time is the start of the FIRST voiced frame;
* it ends after a silence without a voiced frame: ``end_silence_ms``, or with ``adaptive``
  that setting scaled by how the utterance ends (falling pitch: shorter; rising pitch or a held
  "uhh": longer; :mod:`ola_core.capture.turn_end`), decided once per silence; its end time is
  the end of the LAST voiced frame (what latency is measured from);
* after ``pause_ms`` of silence (and never before ``tail_ms``) an open turn reports ONE
  :class:`SpeechPaused` per silence, with exactly the PCM its :class:`SpeechEnded` would carry,
  so the assistant can start on it early; voice before the endpoint reports
  :class:`SpeechResumed`. A turn whose wait is not longer than the pause reports no pause;
* a turn longer than ``max_turn_s`` is cut and sent, and the next one starts at once if the
  person keeps talking;
* the utterance PCM starts ``pre_roll_ms`` before the first voiced frame (onsets are quiet and
  the VAD finds them late) and ends ``tail_ms`` after the last.

A frame counts as voiced when webrtcvad says so AND it is ``noise_margin_db`` louder than the
background, tracked as the quietest frame of the last few seconds (minimum statistics). The
energy test does two jobs webrtcvad cannot: steady loud noise (a fan, -25 dBFS white noise) is
"speech" to webrtcvad from the first frame, and after a click or the end of a word webrtcvad
keeps saying "speech" for 60–120 ms of hangover, which would bias every latency figure.

Push-to-talk uses the same frames and events with the window given by the key.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import webrtcvad

from ola_core.capture.events import (
    CaptureEvent,
    EndReason,
    EventCallback,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SustainedSpeech,
    ignore_event,
)
from ola_core.capture.pcm import SAMPLE_RATE, level_dbfs
from ola_core.capture.turn_end import ANALYSIS_S, end_wait_ms, ending_cues, shortest_wait_ms
from ola_core.errors import SettingsError

EndpointMode = Literal["vad", "push_to_talk"]
_EPS = 1e-6


@dataclass(frozen=True)
class EndpointerConfig:
    """Endpointing settings; out-of-range values raise :class:`SettingsError` naming the range."""

    aggressiveness: int = 3  # webrtcvad 0 (lenient) … 3 (strict); 3 keeps steady noise out of turns
    frame_ms: int = 30  # webrtcvad accepts 10, 20 or 30 ms frames
    pre_roll_ms: int = 300
    min_speech_ms: int = 120  # voiced time needed to start a turn …
    start_window_ms: int = 300  # … within this window
    end_silence_ms: int = 600  # end of turn after this long without voice …
    adaptive: bool = True  # … scaled by how the utterance ends (turn_end.py)
    pause_ms: int = 200  # SpeechPaused after this long without voice (0: none)
    max_turn_s: float = 30.0
    tail_ms: int = 200  # audio kept after the last voiced frame
    sustained_ms: int = 300  # barge-in: speech at least this long
    noise_margin_db: float = 3.0  # a voiced frame is this much louder than the background
    noise_window_s: float = 3.0  # the background is the quietest frame of this window

    def __post_init__(self) -> None:
        checks = [
            (self.aggressiveness in (0, 1, 2, 3), "aggressiveness must be 0, 1, 2 or 3"),
            (self.frame_ms in (10, 20, 30), "frame_ms must be 10, 20 or 30"),
            (0 <= self.pre_roll_ms <= 2000, "pre_roll_ms must be within 0–2000"),
            (
                0 < self.min_speech_ms <= self.start_window_ms,
                "min_speech_ms must be within 1–start_window_ms",
            ),
            (self.start_window_ms <= 2000, "start_window_ms must be at most 2000"),
            (200 <= self.end_silence_ms <= 3000, "end-of-turn silence must be within 200–3000 ms"),
            (
                self.pause_ms == 0 or 100 <= self.pause_ms <= 1000,
                "pause_ms must be 0 (off) or within 100–1000",
            ),
            (1.0 <= self.max_turn_s <= 600.0, "maximum turn length must be within 1–600 s"),
            (0 <= self.tail_ms <= 2000, "tail_ms must be within 0–2000"),
            (50 <= self.sustained_ms <= 5000, "barge-in speech length must be within 50–5000 ms"),
            (0.0 <= self.noise_margin_db <= 30.0, "noise_margin_db must be within 0–30"),
            (0.5 <= self.noise_window_s <= 30.0, "noise_window_s must be within 0.5–30"),
        ]
        for ok, message in checks:
            if not ok:
                raise SettingsError(f"Voice detection setting out of range: {message}.")


class SustainedSpeechDetector:
    """Says when a run of speech has lasted ``min_ms`` (barge-in), ignoring short bursts and sparse noise.

    A run is voiced frames separated by gaps shorter than ``max_gap_ms``; it counts as sustained
    once its voiced time reaches ``min_ms`` AND voiced frames fill at least ``min_density`` of
    its span (noise makes webrtcvad fire on scattered frames, speech on nearly all of them).
    Fires once per run.
    """

    def __init__(self, min_ms: float = 300, max_gap_ms: float = 200, min_density: float = 0.6) -> None:
        self.min_s = min_ms / 1000
        self.max_gap_s = max_gap_ms / 1000
        self.min_density = min_density
        self.reset()

    def reset(self) -> None:
        """Forget the current run."""
        self._run_start: float | None = None
        self._last_voiced_end = 0.0
        self._voiced_s = 0.0
        self._fired = False

    def update(self, voiced: bool, t0: float, t1: float) -> float | None:
        """Feed one frame spanning ``[t0, t1]``; returns the run's first voiced time when it becomes sustained."""
        if self._run_start is not None and t1 - self._last_voiced_end > self.max_gap_s:
            self.reset()
        if not voiced:
            return None
        if self._run_start is None:
            self._run_start = t0
        self._voiced_s += t1 - t0
        self._last_voiced_end = t1
        span = t1 - self._run_start
        if (
            not self._fired
            and self._voiced_s >= self.min_s - _EPS
            and self._voiced_s >= self.min_density * span
        ):
            self._fired = True
            return self._run_start
        return None


@dataclass(frozen=True)
class _Frame:
    pcm: np.ndarray  # (frame_len,) int16
    t0: float  # time of its first sample
    t1: float  # time just after its last sample
    voiced: bool
    n0: int  # index of its first sample in the stream: what cuts are made by (times jitter, counts not)

    @property
    def n1(self) -> int:
        """Index just after its last sample."""
        return self.n0 + len(self.pcm)


def _samples(ms: float) -> int:
    """Samples in ``ms`` milliseconds at 16 kHz."""
    return round(ms * SAMPLE_RATE / 1000)


def _join(frames: list[_Frame]) -> np.ndarray:
    """The frames' samples one after the other (int16, empty for none)."""
    return np.concatenate([f.pcm for f in frames]) if frames else np.zeros(0, np.int16)


class Endpointer:
    """Cuts a stream of 16 kHz mono int16 PCM into turns; reports them through ``on_event``.

    Thread-safe: ``feed`` runs on the audio thread while ``push_to_talk``/``set_mode``/``flush``
    come from the assistant's thread. Events are delivered on the calling thread after the
    state change, and ``feed`` also returns them (handy for replay and tests).
    """

    def __init__(
        self,
        config: EndpointerConfig | None = None,
        *,
        on_event: EventCallback = ignore_event,
        mode: EndpointMode = "vad",
        start_time: float = 0.0,
    ) -> None:
        self.config = config or EndpointerConfig()
        self.on_event = on_event
        self._mode: EndpointMode = mode
        self._vad = webrtcvad.Vad(self.config.aggressiveness)
        self._frame_len = SAMPLE_RATE * self.config.frame_ms // 1000
        self._lock = threading.RLock()
        self._sustained = SustainedSpeechDetector(self.config.sustained_ms)
        n_recent = (self.config.pre_roll_ms + self.config.start_window_ms) // self.config.frame_ms + 2
        self._recent: deque[_Frame] = deque(maxlen=n_recent)
        self._pending = np.zeros(0, np.int16)
        self._count = 0  # samples received so far
        self._anchor = (0, start_time)  # (sample count, its time): the clock
        n_noise = round(self.config.noise_window_s * 1000 / self.config.frame_ms)
        self._levels: deque[float] = deque(maxlen=n_noise)  # frame RMS dBFS, for the background level
        self._turn: list[_Frame] | None = None
        self._t_first = 0.0  # of the open turn
        self._t_last_voiced = 0.0  # end of its last voiced frame so far
        self._n_first = self._n_last_voiced = 0  # the same two as sample indices
        self._wait_s: float | None = None  # end-of-turn wait of the current silence, once decided
        self._paused = False  # a SpeechPaused was reported for the current silence
        self._ptt_press: float | None = None
        self._ptt_release: float | None = None

    # --- clock ------------------------------------------------------------------------------
    def _time_of(self, count: int) -> float:
        anchor_count, anchor_t = self._anchor
        return anchor_t + (count - anchor_count) / SAMPLE_RATE

    def _count_at(self, t: float) -> int:
        """The sample index at time ``t`` (the inverse of :meth:`_time_of`)."""
        anchor_count, anchor_t = self._anchor
        return anchor_count + round((t - anchor_t) * SAMPLE_RATE)

    @property
    def now(self) -> float:
        """Time just after the last sample fed."""
        with self._lock:
            return self._time_of(self._count)

    @property
    def in_turn(self) -> bool:
        """True between a SpeechStarted and its SpeechEnded."""
        return self._turn is not None

    @property
    def mode(self) -> EndpointMode:
        return self._mode

    # --- commands ---------------------------------------------------------------------------
    def set_mode(self, mode: EndpointMode) -> None:
        """Switch between VAD and push-to-talk; an open turn is ended (reason "flush")."""
        events: list[CaptureEvent] = []
        with self._lock:
            if mode != self._mode:
                self._end_turn(events, "flush", self._time_of(self._count))
                self._mode = mode
                self._ptt_press = self._ptt_release = None
        self._emit(events)

    def push_to_talk(self, down: bool, t: float | None = None) -> None:
        """Key pressed (``down``) or released at time ``t`` (default: now on the PCM clock).

        The press starts a turn at once (with the pre-roll already heard); the release ends it
        as soon as the audio up to ``t`` has been fed, so no trailing word is lost to the
        audio latency. Ignored in VAD mode.
        """
        events: list[CaptureEvent] = []
        with self._lock:
            if self._mode != "push_to_talk":
                return
            t = self._time_of(self._count) if t is None else t
            if down and self._turn is None:
                self._ptt_press, self._ptt_release = t, None
                n = self._count_at(t)
                self._start_turn(
                    events, t, n, [f for f in self._recent if f.n1 > n - _samples(self.config.pre_roll_ms)]
                )
            elif not down and self._turn is not None:
                self._ptt_release = t
                if self._time_of(self._count) >= t:
                    self._end_turn(events, "push_to_talk", t)
        self._emit(events)

    def flush(self) -> list[CaptureEvent]:
        """End an open turn now (stream closed, end of a replayed file)."""
        events: list[CaptureEvent] = []
        with self._lock:
            self._end_turn(events, "flush", self._time_of(self._count))
        self._emit(events)
        return events

    def reset(self) -> None:
        """Drop any open turn and the pre-roll without emitting anything (e.g. after muting)."""
        with self._lock:
            self._turn = None
            self._recent.clear()
            self._sustained.reset()
            self._ptt_press = self._ptt_release = None

    # --- audio ------------------------------------------------------------------------------
    def feed(self, pcm: np.ndarray, t_end: float | None = None) -> list[CaptureEvent]:
        """Consume int16 samples; ``t_end`` is the monotonic time just after the last one (live audio).

        Without ``t_end`` time advances by the sample count alone (replay). Returns the events
        emitted.
        """
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"Endpointer wants 1-D int16 PCM at 16 kHz, got {pcm.dtype} {pcm.shape}")
        events: list[CaptureEvent] = []
        with self._lock:
            self._count += len(pcm)
            if t_end is not None:
                self._anchor = (self._count, t_end)
            buf = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
            first = self._count - len(buf)
            n_frames = len(buf) // self._frame_len
            for i in range(n_frames):
                start = first + i * self._frame_len
                frame = buf[i * self._frame_len : (i + 1) * self._frame_len]
                self._process(
                    events, frame, start, self._time_of(start), self._time_of(start + self._frame_len)
                )
            self._pending = buf[n_frames * self._frame_len :].copy()
        self._emit(events)
        return events

    def _process(self, events: list[CaptureEvent], pcm: np.ndarray, n0: int, t0: float, t1: float) -> None:
        rms_db = level_dbfs(pcm)[0]
        self._levels.append(rms_db)
        loud = rms_db >= min(self._levels) + self.config.noise_margin_db
        voiced = loud and self._vad.is_speech(pcm.tobytes(), SAMPLE_RATE)
        frame = _Frame(pcm.copy(), t0, t1, voiced, n0)
        t_run = self._sustained.update(voiced, t0, t1)
        if t_run is not None:
            events.append(SustainedSpeech(t_run, t1))
        cfg = self.config
        if self._turn is None:
            self._recent.append(frame)
            if self._mode == "vad":
                window = [f for f in self._recent if f.n1 > frame.n1 - _samples(cfg.start_window_ms)]
                voiced_n = sum(len(f.pcm) for f in window if f.voiced)
                if voiced_n >= _samples(cfg.min_speech_ms):
                    onset = next(f for f in window if f.voiced)
                    keep = [f for f in self._recent if f.n1 > onset.n0 - _samples(cfg.pre_roll_ms)]
                    self._start_turn(events, onset.t0, onset.n0, keep)
            return
        self._turn.append(frame)
        if voiced:
            self._t_last_voiced, self._n_last_voiced = t1, frame.n1
            self._wait_s = None
            if self._paused:
                self._paused = False
                events.append(SpeechResumed(t1))
        if self._mode == "push_to_talk":
            if self._ptt_release is not None and t1 >= self._ptt_release - _EPS:
                self._end_turn(events, "push_to_talk", self._ptt_release)
        else:
            self._check_silence(events, t1)
        if self._turn is not None and t1 - self._t_first >= cfg.max_turn_s - _EPS:
            self._end_turn(events, "max_length", t1)

    def _check_silence(self, events: list[CaptureEvent], t1: float) -> None:
        """VAD mode, in a turn: end it, or report a pause, after enough silence.

        The wait is decided when the silence reaches the shortest wait possible, so the pitch
        analysis runs once per real pause, not at every gap between words.
        """
        cfg = self.config
        silence = t1 - self._t_last_voiced + _EPS
        pause_ms = max(cfg.pause_ms, cfg.tail_ms) if cfg.pause_ms else 0
        floor_ms = max(pause_ms, cfg.tail_ms)
        if self._wait_s is None and silence * 1000 >= shortest_wait_ms(cfg.end_silence_ms, floor_ms):
            factor = ending_cues(self._voiced_ending()).factor if cfg.adaptive else 1.0
            self._wait_s = end_wait_ms(cfg.end_silence_ms, factor, floor_ms) / 1000
        if self._wait_s is not None and silence >= self._wait_s:
            self._end_turn(events, "silence", t1)
        elif pause_ms and not self._paused and silence * 1000 >= pause_ms:
            self._paused = True
            last, pcm = self._vad_cut()
            events.append(SpeechPaused(self._t_first, last.t1, t1, pcm))

    def _voiced_ending(self) -> np.ndarray:
        """The last :data:`ANALYSIS_S` of the open turn's audio, up to its last voiced frame."""
        assert self._turn is not None
        frames = [f for f in self._turn if f.n1 <= self._n_last_voiced]
        n = int(np.ceil(ANALYSIS_S * 1000 / self.config.frame_ms - _EPS))
        return _join(frames[-n:])

    def _vad_cut(self) -> tuple[_Frame, np.ndarray]:
        """VAD mode: the open turn's last voiced frame and its utterance, ``tail_ms`` past that
        (cut by sample counts, so the same audio gives the same utterance whatever the timing)."""
        assert self._turn is not None
        voiced = [f for f in self._turn if f.voiced and f.n0 >= self._n_first]
        last = voiced[-1] if voiced else self._turn[0]
        kept = [f for f in self._turn if f.n0 < last.n1 + _samples(self.config.tail_ms)]
        return last, _join(kept)

    def _start_turn(
        self, events: list[CaptureEvent], t_first: float, n_first: int, frames: list[_Frame]
    ) -> None:
        self._turn = list(frames)
        self._t_first = self._t_last_voiced = t_first
        self._n_first = self._n_last_voiced = n_first
        self._wait_s, self._paused = None, False
        for f in frames:
            if f.voiced and f.n0 >= n_first:
                self._t_last_voiced, self._n_last_voiced = f.t1, f.n1
        self._recent.clear()
        events.append(SpeechStarted(t_first))

    def _end_turn(self, events: list[CaptureEvent], reason: EndReason, t_endpoint: float) -> None:
        turn = self._turn
        if turn is None:
            return
        if self._mode == "push_to_talk":
            voiced = [f for f in turn if f.voiced and f.n0 >= self._n_first]
            t_first = voiced[0].t0 if voiced else self._t_first
            t_last = voiced[-1].t1 if voiced else t_endpoint
            kept = [f for f in turn if f.t0 < t_endpoint]
            pcm = _join(kept)
        else:
            t_first = self._t_first
            last, pcm = self._vad_cut()
            t_last = last.t1
            # Silence after the cut belongs to the pre-roll of the next turn.
            self._recent.extend(f for f in turn if f.n0 >= last.n1)
        self._turn = None
        wait_ms = self._wait_s * 1000 if reason == "silence" and self._wait_s is not None else 0.0
        events.append(SpeechEnded(t_first, t_last, t_endpoint, pcm, reason, wait_ms))
        self._ptt_press = self._ptt_release = None

    def _emit(self, events: list[CaptureEvent]) -> None:
        for event in events:
            self.on_event(event)
