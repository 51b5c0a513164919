"""GUI costs that decide whether the window stays smooth while an answer streams.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--json]

1. Rendering a streamed answer: the transcript's incremental renderer (finished paragraphs parsed
   once) against re-parsing the whole markdown on every update, for a short and a long answer;
   reported as the worst single update (what the user would see as a stall) and the total.
2. Python's full garbage collection with torch + transformers + the assistant imported, before
   and after ``gc.freeze()`` (the app freezes after start-up and after a model has loaded).
3. Opening the main window (construct + show + first paint).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

ANSWER = (
    "Here is what I see:\n\n- a **yellow** square moving right\n- a blue background\n\n"
    "In Python:\n\n```python\nimg[30:90, 10:50] = (250, 200, 60)\n```\n\nAnything else?\n\n"
)


def render_costs(text: str, chunk: int = 8) -> dict[str, float]:
    """Worst and total time of the per-update render, incremental vs whole-document."""
    from app.widgets.transcript import AssistantBubble

    out: dict[str, float] = {}
    for mode in ("incremental", "whole"):
        bubble = AssistantBubble(1)
        bubble.resize(700, 400)
        bubble.show()
        worst = total = 0.0
        for k in range(0, len(text), chunk):
            bubble.raw += text[k : k + chunk]
            t = time.perf_counter()
            if mode == "incremental":
                bubble.render()
            else:
                bubble.view.setMarkdown(bubble.raw)
                bubble.view.fit_height()
            dt = time.perf_counter() - t
            worst, total = max(worst, dt), total + dt
        out[f"{mode}_worst_ms"] = worst * 1000
        out[f"{mode}_total_ms"] = total * 1000
        bubble.deleteLater()
    return out


def gc_costs() -> dict[str, float]:
    import torch  # noqa: F401  (what the app process holds once the assistant is imported)
    import transformers  # noqa: F401

    import ola_core.assistant  # noqa: F401

    objects = len(gc.get_objects())
    t = time.perf_counter()
    gc.collect()
    before = time.perf_counter() - t
    gc.freeze()
    t = time.perf_counter()
    gc.collect()
    after = time.perf_counter() - t
    gc.unfreeze()
    return {"tracked_objects": objects, "full_gc_ms": before * 1000, "full_gc_after_freeze_ms": after * 1000}


def window_open_ms(app: QApplication) -> float:
    from app import theme
    from app.main_window import MainWindow

    theme.apply(app)
    t = time.perf_counter()
    window = MainWindow()
    window.show()
    app.processEvents()
    window.grab()
    elapsed = time.perf_counter() - t
    window.close()
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    results = {
        "window_open_ms": window_open_ms(app),
        "render_short_answer": render_costs(ANSWER * 3),  # ≈ 0.4 kB
        "render_long_answer": render_costs(ANSWER * 40),  # ≈ 6 kB
        "gc": gc_costs(),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
