"""TurnTrace: marks keep their first value, order checks, derived latencies, JSON lines."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ola_core.trace import MARKS, TraceRecorder, TraceWriter


def test_first_value_kept_unless_overwrite() -> None:
    rec = TraceRecorder(1, "voice")
    rec.mark("t_first_token", 2.0)
    rec.mark("t_first_token", 3.0)
    rec.mark("t_last_played", 4.0, overwrite=True)
    rec.mark("t_last_played", 5.0, overwrite=True)
    trace = rec.freeze()
    assert trace.t_first_token == 2.0 and trace.t_last_played == 5.0
    with pytest.raises(KeyError):
        rec.mark("t_bogus", 1.0)


def test_order_stages_and_latencies() -> None:
    rec = TraceRecorder(7, "voice")
    for i, name in enumerate(MARKS):
        rec.mark(name, 10.0 + i * 0.1)
    trace = rec.freeze()
    assert trace.ordered() and trace.missing() == []
    steps = MARKS.index("t_first_played") - MARKS.index("t_last_voiced")
    assert trace.mouth_to_ear_s == pytest.approx(0.1 * steps)
    stages = trace.stages()
    assert next(iter(stages)) == "speech_start→last_voiced" and len(stages) == len(MARKS) - 1
    broken = TraceRecorder(8, "voice")
    broken.mark("t_endpoint", 5.0)
    broken.mark("t_first_token", 4.0)
    assert not broken.freeze().ordered()


def test_a_speculated_turn_may_prefill_before_its_endpoint() -> None:
    times = {
        "t_speech_start": 1.0,
        "t_last_voiced": 2.0,
        "t_speculation_start": 2.2,
        "t_encoders_done": 2.3,
        "t_prefill_done": 2.4,
        "t_endpoint": 2.6,
        "t_turn_start": 2.61,
        "t_first_token": 2.62,
    }
    rec = TraceRecorder(9, "voice")
    for name, t in times.items():
        rec.mark(name, t)
    assert not rec.freeze().ordered()  # not speculated: encoders before the endpoint is wrong
    rec.set(speculation="used")
    trace = rec.freeze()
    assert trace.ordered()
    assert TraceRecorder(11, "voice").freeze().missing()[0] == "t_speech_start"
    rec_used = TraceRecorder(12, "voice")
    rec_used.set(speculation="used")
    assert "t_speculation_start" in rec_used.freeze().missing()
    assert list(trace.stages())[2:5] == [
        "speculation_start→encoders_done",
        "encoders_done→prefill_done",
        "prefill_done→endpoint",
    ]
    rec.mark("t_prefill_done", 2.7, overwrite=True)
    rec.mark("t_first_token", 2.65, overwrite=True)
    assert not rec.freeze().ordered()  # the first token never comes before the prefill
    unspeculated = TraceRecorder(10, "voice").freeze()
    assert "t_speculation_start" not in unspeculated.missing()


def test_recorder_is_thread_safe() -> None:
    rec = TraceRecorder(1, "text")
    threads = [threading.Thread(target=lambda: [rec.add("sentences") for _ in range(1000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rec.freeze().sentences == 4000


def test_writer_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "traces.jsonl"
    writer = TraceWriter(path)
    for turn in (1, 2):
        rec = TraceRecorder(turn, "text")
        rec.mark("t_turn_start", 1.0)
        rec.mark("t_first_token", 1.5)
        writer.write(rec.freeze())
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [d["turn_id"] for d in lines] == [1, 2]
    assert lines[0]["t_first_token"] == 1.5 and lines[0]["mouth_to_ear_s"] is None
