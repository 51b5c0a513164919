"""Guard against a PySide6 build that corrupts Python's reference count of None.

PySide6/shiboken6 6.12.0 on Python 3.11 returns None from every void method (setText, hide,
resize …) without taking a reference, so each call drops one reference to None; after a few
thousand calls Python aborts with "Fatal Python error: none_dealloc". A streaming chat window
makes thousands of such calls per answer, so the app would die within minutes. (On Python ≥ 3.12
None is immortal and the bug is invisible.) pyproject.toml excludes 6.12; this test fails if an
affected build is installed again.
"""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel


def test_void_qt_calls_keep_the_refcount_of_none(qapp) -> None:  # type: ignore[no-untyped-def]
    label = QLabel("x")
    before = sys.getrefcount(None)
    for _ in range(500):
        label.setText("y")
        label.setFixedHeight(10)
    drift = sys.getrefcount(None) - before
    assert drift > -100, f"each Qt void call dropped a reference to None ({drift} after 1000 calls)"
