"""A folder of images standing in for a camera (``replay --frames DIR``)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ola_core.assistant.sources import FolderFrameSource, file_source
from ola_core.errors import MediaError


def test_folder_plays_its_images_in_name_order_like_a_camera(tmp_path: Path) -> None:
    for k in (10, 2, 1):  # natural order: 1, 2, 10
        Image.fromarray(np.full((8, 12, 3), k * 20, np.uint8)).save(tmp_path / f"frame{k}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    assert isinstance(file_source(tmp_path), FolderFrameSource)
    source = FolderFrameSource(tmp_path, fps=20.0)
    source.start()
    seen: dict[float, int] = {}  # frame time -> grey level, as a preview would poll them
    try:
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            frame = source.latest()
            if frame is not None:
                seen[frame.t] = int(frame.rgb[0, 0, 0])
            time.sleep(0.005)
    finally:
        source.stop()
    assert [seen[t] for t in sorted(seen)][:3] == [20, 40, 200]
    frames = source.buffer.history()
    assert all(a.t < b.t for a, b in itertools.pairwise(frames))


def test_folder_without_images_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no images"):
        file_source(tmp_path)
