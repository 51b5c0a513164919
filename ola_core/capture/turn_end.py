"""How long to wait for more speech before a turn ends, from how the utterance ends.

A fixed end-of-turn silence is a compromise: long enough not to cut a person who pauses to
think, and so too long after a finished sentence. How the last half second sounds tells the two
apart well enough to move the wait either way:

* a falling final pitch (a statement ending) → wait less (:data:`SHORTER`);
* a rising final pitch (a question, or a list or clause that goes on) → wait more (:data:`LONGER`);
* a long, steady voiced sound with flat pitch ("uhhh", "ummm": the speaker holds the floor) →
  wait longest (:data:`HELD`);
* anything else → the setting.

The cues come from :func:`track_pitch`, a vectorised YIN pitch tracker (de Cheveigné & Kawahara
2002) over 20 ms windows every 10 ms, in plain numpy: it runs once per pause on the microphone
worker thread and costs about 1.5 ms for half a second of audio (benchmarks/endpointing.py),
where librosa's pYIN would take tens of milliseconds and pull in numba.

Words are a cue too ("and", "um" at the end), but they exist only after the speech encoder;
:func:`transcript_factor` maps a transcript's tail to the same factors, for whoever has one.
:func:`end_wait_ms` turns a factor into the wait, clamped so that a shortened wait never goes
below the pause and tail times of the endpointer and never beyond :data:`MAX_WAIT_MS`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ola_core.capture.pcm import SAMPLE_RATE

Ending = Literal["falling", "rising", "held", "neutral"]

# Factors on the end-of-turn silence setting. 0.6 turns the default 700 ms into 420 ms, near
# the median gap between turns in conversation (~200–500 ms); 1.5 and 2 give a rising ending
# about a second and a held filler about 1.4 s, the length of most hesitation pauses.
SHORTER = 0.6
LONGER = 1.5
HELD = 2.0
ENDING_FACTORS: dict[Ending, float] = {"falling": SHORTER, "rising": LONGER, "held": HELD, "neutral": 1.0}
MIN_WAIT_MS = 250.0  # a shortened wait never goes below this: gaps inside words and breaths last ≤ ~200 ms
MAX_WAIT_MS = 3000.0  # the longest setting

ANALYSIS_S = 0.5  # the audio before the last voiced frame that the cues are read from

# Pitch tracking.
F0_MIN_HZ = 60.0
F0_MAX_HZ = 400.0
WINDOW_S = 0.020  # YIN integration window
HOP_S = 0.010
YIN_THRESHOLD = 0.3  # cumulative mean normalised difference below this: periodic (voiced)
LEVEL_RANGE_DB = 30.0  # frames quieter than the loudest by more than this are not voiced

# Ending rules, in semitones (st) and dB. The cues are read from the final pitch contour: the
# last stretch of voiced frames that follow each other (gaps ≤ MAX_GAP_S) with no pitch jump
# (≤ MAX_STEP_ST per frame; an octave slip or a creak breaks it) lasting at least MIN_CONTOUR_S.
MAX_GAP_S = 0.03
MAX_STEP_ST = 3.0  # a fast natural glide moves ~1 st per 10 ms; octave slips are 12
MIN_CONTOUR_S = 0.08  # shorter stretches are skipped (a slip, a creak); none left: "neutral"
FINAL_S = 0.3  # the movement is fitted over the last FINAL_S of the contour (about a syllable)
# A fitted change of 2 st (12 %) is well beyond the jitter of a steady voice (< 0.5 st) and below
# the usual statement fall / question rise (3–8 st). Energy decay is NOT a cue for "shorter":
# speech trailing off ("and…") fades as much as a finished statement, and a wrong "shorter"
# cuts the speaker off, which costs far more than waiting a little longer.
MIN_MOVE_ST = 2.0
HELD_MIN_S = 0.4  # a final contour this long (a syllable lasts ~0.1–0.3 s) …
HELD_RANGE_ST = 2.0  # … whose pitch stays within this range (10–90th percentile; "uhh" may sink) …
HELD_LEVEL_DB = 6.0  # … and whose level stays within this much (no decay): a held filler


@dataclass(frozen=True)
class PitchTrack:
    """Per-frame pitch and level of a stretch of audio (frames every :data:`HOP_S`)."""

    times: np.ndarray  # (n,) s from the start of the audio to the centre of each window
    f0_hz: np.ndarray  # (n,) fundamental frequency; NaN where the frame is not voiced
    level_db: np.ndarray  # (n,) window RMS in dBFS

    @property
    def voiced(self) -> np.ndarray:
        """(n,) bool: frames with a pitch."""
        return ~np.isnan(self.f0_hz)


@dataclass(frozen=True)
class EndingCues:
    """What the end of an utterance sounds like, and the ending it is classed as."""

    ending: Ending
    pitch_change_st: float  # fitted pitch change over the final voiced frames (0 without a pitch)
    held_s: float  # length of the final flat, steady voiced run (0 if the end is not flat)

    @property
    def factor(self) -> float:
        """The factor on the end-of-turn silence for this ending."""
        return ENDING_FACTORS[self.ending]


def track_pitch(pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> PitchTrack:
    """YIN pitch of mono ``pcm`` (int16 or float in [-1, 1]), all frames at once.

    The difference function d(τ) = E(0) + E(τ) − 2·r(τ) takes its cross term r from one FFT
    per frame and its energies from a cumulative sum, so the cost is a few FFTs of 2048 points
    per 10 ms and no Python loop over frames or lags.
    """
    x = pcm.astype(np.float64) / (32768.0 if pcm.dtype == np.int16 else 1.0)
    width = round(WINDOW_S * sample_rate)
    hop = round(HOP_S * sample_rate)
    min_lag = int(sample_rate / F0_MAX_HZ)
    max_lag = int(np.ceil(sample_rate / F0_MIN_HZ))
    span = width + max_lag + 1  # one lag beyond max_lag for the parabolic fit
    if len(x) < span:
        empty = np.zeros(0)
        return PitchTrack(empty, empty, empty)
    frames = np.lib.stride_tricks.sliding_window_view(x, span)[::hop]  # (n, span)
    n_fft = 1 << int(np.ceil(np.log2(span + width)))
    spectrum = np.fft.rfft(frames, n_fft) * np.conj(np.fft.rfft(frames[:, :width], n_fft))
    cross = np.fft.irfft(spectrum, n_fft)[:, : max_lag + 2]  # r(τ) = Σ_j x[j]·x[j+τ], j < width
    energy = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(max_lag + 2)
    e_lag = energy[:, lags + width] - energy[:, lags]  # E(τ) = Σ_j x[j+τ]², j < width
    diff = np.maximum(e_lag[:, :1] + e_lag - 2.0 * cross, 0.0)  # (n, max_lag + 2), d(0) = 0
    running = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    np.divide(diff[:, 1:] * lags[1:], running, out=cmnd[:, 1:], where=running > 1e-12)
    # The first dip under the threshold, at its bottom: under it and not above the next lag.
    inner = cmnd[:, min_lag : max_lag + 1]
    pick = (inner < YIN_THRESHOLD) & (inner <= cmnd[:, min_lag + 1 : max_lag + 2])
    found = pick.any(axis=1)
    tau = min_lag + np.argmax(pick, axis=1)
    rows = np.arange(len(frames))
    a, b, c = cmnd[rows, tau - 1], cmnd[rows, tau], cmnd[rows, tau + 1]
    curve = a - 2.0 * b + c
    shift = np.divide(a - c, 2.0 * curve, out=np.zeros_like(curve), where=curve > 1e-12)
    level_db = 10.0 * np.log10(np.maximum(e_lag[:, 0] / width, 1e-10))
    voiced = found & (level_db >= level_db.max() - LEVEL_RANGE_DB)
    f0 = np.where(voiced, sample_rate / (tau + np.clip(shift, -1.0, 1.0)), np.nan)
    times = (np.arange(len(frames)) * hop + width / 2) / sample_rate
    return PitchTrack(times, f0, level_db)


def ending_cues(pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> EndingCues:
    """Class the end of ``pcm`` (the audio up to the last voiced frame; the last
    :data:`ANALYSIS_S` are read) as falling, rising, held or neutral."""
    track = track_pitch(pcm[-round(ANALYSIS_S * sample_rate) :], sample_rate)
    voiced = track.voiced
    times, st = track.times[voiced], 12.0 * np.log2(track.f0_hz[voiced])
    contour = _final_contour(times, st)
    if contour is None:
        return EndingCues("neutral", 0.0, 0.0)
    times, st, levels = times[contour], st[contour], track.level_db[voiced][contour]
    final = times >= times[-1] - FINAL_S + 1e-9
    pitch_change = _fitted_change(times[final], st[final])
    flat = _spread(st) <= HELD_RANGE_ST and _spread(levels) <= HELD_LEVEL_DB
    held_s = float(times[-1] - times[0] + HOP_S) if flat else 0.0
    ending: Ending = "neutral"
    if held_s >= HELD_MIN_S - 1e-9:
        ending = "held"
    elif pitch_change <= -MIN_MOVE_ST:
        ending = "falling"
    elif pitch_change >= MIN_MOVE_ST:
        ending = "rising"
    return EndingCues(ending, pitch_change, held_s)


def shortest_wait_ms(setting_ms: float, floor_ms: float = 0.0) -> float:
    """The shortest wait :func:`end_wait_ms` can return: the endpointer decides the wait then.

    Not below ``floor_ms`` (the endpointer passes its pause and tail times: a turn must not
    end before its speculative start or before its tail audio is in) nor :data:`MIN_WAIT_MS`,
    unless the setting itself is lower (a shortening cue never lengthens the wait).
    """
    return min(setting_ms, max(floor_ms, MIN_WAIT_MS))


def end_wait_ms(setting_ms: float, factor: float, floor_ms: float = 0.0) -> float:
    """The end-of-turn wait: ``setting_ms`` × ``factor``, clamped to
    [:func:`shortest_wait_ms`, :data:`MAX_WAIT_MS`]."""
    lowest = shortest_wait_ms(setting_ms, floor_ms)
    return float(min(max(setting_ms * factor, lowest), MAX_WAIT_MS))


_FILLER = re.compile(r"u+[hm]+|e+r+m*|h*m+|a+h+|e+h+")  # um, uhhh, er, erm, hmm, mm, ah, eh
_CONTINUATIONS = {
    "and", "but", "or", "so", "because", "cause", "then", "if", "that", "which", "who",
    "the", "a", "an", "to", "of", "with", "for", "in", "on", "my", "your", "like",
}  # fmt: skip
_LAST_WORD = re.compile(r"([^\W\d_]+(?:['’][^\W\d_]+)*)\W*$")  # a word, "I'm" whole


def transcript_factor(text: str) -> float:
    """The end-of-turn factor that the last words of a transcript suggest (1.0: no cue).

    A filler at the end ("… um") is a held floor (:data:`HELD`); a conjunction, article or
    preposition ("… and", "… the"), a trailing comma, dash or ellipsis promise more
    (:data:`LONGER`); a sentence mark (``.``, ``?``, ``!``) ends a thought (:data:`SHORTER`).
    Meant for a transcript of the speech so far (e.g. the captions decoder's).
    """
    tail = text.strip().lower()
    if not tail:
        return 1.0
    match = _LAST_WORD.search(tail)
    word = match.group(1) if match else ""
    if _FILLER.fullmatch(word):
        return HELD
    if word in _CONTINUATIONS or tail.endswith((",", "-", "…", "...")):
        return LONGER
    if tail.endswith((".", "?", "!")):
        return SHORTER
    return 1.0


def _final_contour(times: np.ndarray, st: np.ndarray) -> slice | None:
    """The frames (of the voiced ones) of the last continuous pitch stretch long enough to read."""
    if len(st) == 0:
        return None
    steps = (np.diff(times) > MAX_GAP_S + 1e-9) | (np.abs(np.diff(st)) > MAX_STEP_ST)
    bounds = [0, *(np.flatnonzero(steps) + 1).tolist(), len(st)]
    for start, stop in reversed(list(itertools.pairwise(bounds))):
        if times[stop - 1] - times[start] + HOP_S >= MIN_CONTOUR_S - 1e-9:
            return slice(start, stop)
    return None


def _spread(values: np.ndarray) -> float:
    """10th to 90th percentile range: the spread of a contour, blind to a stray frame."""
    return float(np.percentile(values, 90) - np.percentile(values, 10))


def _fitted_change(times: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope × time span: the change over the stretch, robust to frame jitter."""
    if len(times) < 2 or times[-1] - times[0] < 1e-9:
        return 0.0
    dt = times - times.mean()
    slope = np.dot(dt, values - values.mean()) / np.dot(dt, dt)
    return float(slope * (times[-1] - times[0]))
