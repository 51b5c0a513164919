"""TimedFrame and the sampled FrameBuffer (no devices)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ola_core.capture.frames import FrameBuffer
from ola_core.media_types import TimedFrame, spread

PIXEL = np.zeros((2, 2, 3), np.uint8)


def frame(t: float) -> TimedFrame:
    return TimedFrame(PIXEL.copy(), t)


def test_timed_frame_checks_its_pixels_and_freezes_them() -> None:
    f = frame(1.0)
    with pytest.raises(ValueError):
        f.rgb[0, 0, 0] = 1
    with pytest.raises(ValueError, match="uint8"):
        TimedFrame(np.zeros((2, 2, 3), np.float32), 0.0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        TimedFrame(np.zeros((2, 2), np.uint8), 0.0)


def test_sampling_follows_a_fixed_schedule_and_history_is_trimmed() -> None:
    buf = FrameBuffer(sample_fps=2.0, history_s=3.0)
    for i in range(300):  # 10 s at 30 fps
        buf.offer(frame(i / 30))
    times = [f.t for f in buf.history()]
    # Slots every 0.5 s from the first frame; only the last 3 s (after 9.97 - 3) are kept.
    assert times == pytest.approx([7.0, 7.5, 8.0, 8.5, 9.0, 9.5])
    assert buf.latest() is not None and buf.latest().t == pytest.approx(299 / 30)


def test_a_paused_source_restarts_the_schedule() -> None:
    buf = FrameBuffer(sample_fps=2.0)
    for t in (0.0, 0.5, 10.0, 10.2, 10.5):
        buf.offer(frame(t))
    assert [f.t for f in buf.history()] == [0.0, 0.5, 10.0, 10.5]


def test_wait_for_frame_wakes_on_a_new_frame() -> None:
    buf = FrameBuffer()
    timer = threading.Timer(0.1, lambda: buf.offer(frame(5.0)))
    timer.start()
    got = buf.wait_for_frame(after=1.0, timeout=5.0)
    timer.join()
    assert got is not None and got.t == 5.0
    assert buf.wait_for_frame(after=5.0, timeout=0.05) is None


def test_spread_keeps_ends_and_is_uniform() -> None:
    frames = [frame(float(i)) for i in range(10)]
    assert [f.t for f in spread(frames, 4)] == [0.0, 3.0, 6.0, 9.0]
    assert [f.t for f in spread(frames, 1)] == [9.0]
    assert spread(frames[:3], 8) == frames[:3]
    with pytest.raises(ValueError):
        spread(frames, 0)


@settings(max_examples=200, deadline=None)
@given(
    ticks=st.lists(st.integers(0, 1000), min_size=0, max_size=60, unique=True),
    t0=st.floats(-10, 110, allow_nan=False),
    length=st.floats(0, 50, allow_nan=False),
    max_frames=st.integers(1, 10),
)
def test_frames_between_contract(ticks: list[int], t0: float, length: float, max_frames: int) -> None:
    times = [0.1 * k for k in ticks]
    buf = FrameBuffer(sample_fps=1000.0, history_s=1000.0)  # frames ≥ 0.1 s apart: every one is kept
    for t in sorted(times):
        buf.offer(frame(t))
    t1 = t0 + length
    got = buf.frames_between(t0, t1, max_frames)
    assert (len(got) == 0) == (len(times) == 0)  # a picture whenever there is one
    assert len(got) <= max_frames
    assert [f.t for f in got] == sorted(f.t for f in got)
    inside = [t for t in times if t0 <= t <= t1]
    if inside:
        assert all(t0 <= f.t <= t1 for f in got)
        assert got[-1].t == max(inside)
        assert got[0].t == min(inside) or max_frames == 1
    elif got:
        before = [t for t in times if t <= t1]
        assert len(got) == 1
        assert got[0].t == (max(before) if before else min(times))
