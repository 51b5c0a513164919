"""The conversation as the window shows it, and its export (Markdown with frame thumbnails, JSON).

This is the GUI's record of what was said and shown — the frames the model actually used for
each turn, the answer text, whether it was interrupted and the latency trace — kept so that
"Export conversation" can write it out. The model's own history (what is prefilled, the KV
cache) is a different thing: ``ola_core.engine.conversation.Conversation``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage

from ola_core.events import UserCaption

THUMB = QSize(320, 240)


@dataclass
class TranscriptEntry:
    role: Literal["user", "assistant"]
    turn_id: int | None
    text: str = ""
    kind: Literal["voice", "text"] = "text"
    duration_s: float = 0.0
    frames: list[QImage] = field(default_factory=list)
    frames_kind: str = "camera"
    attachments: list[str] = field(default_factory=list)
    interrupted: bool = False
    trace: dict[str, Any] | None = None
    wall_time: float = field(default_factory=time.time)
    caption: str = ""  # a voice turn's words, as Whisper heard them (UserCaption)


@dataclass
class TranscriptRecord:
    messages: list[TranscriptEntry] = field(default_factory=list)

    def add(self, message: TranscriptEntry) -> TranscriptEntry:
        self.messages.append(message)
        return message

    def answer(self, turn_id: int) -> TranscriptEntry | None:
        for message in reversed(self.messages):
            if message.role == "assistant" and message.turn_id == turn_id:
                return message
        return None

    def set_caption(self, event: UserCaption) -> None:
        for message in reversed(self.messages):
            if message.role == "user" and message.turn_id == event.turn_id:
                message.caption = event.text
                return

    def clear(self) -> None:
        self.messages.clear()

    # --- export --------------------------------------------------------------------------------
    def to_markdown(self, path: Path) -> Path:
        """``path`` (.md) plus ``<stem>_files/`` with the frame thumbnails it links to."""
        assets = path.with_name(f"{path.stem}_files")
        lines = ["# Ola Assistant conversation", ""]
        for i, m in enumerate(self.messages):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.wall_time))
            if m.role == "user":
                what = f"voice, {m.duration_s:.1f} s" if m.kind == "voice" else "typed"
                lines.append(f"### You ({what}) — {stamp}")
            else:
                lines.append(f"### Ola — {stamp}" + (" (interrupted)" if m.interrupted else ""))
            lines.append("")
            if m.text:
                lines += [m.text, ""]
            if m.caption:
                lines += [f"> {m.caption}", ""]
            for name in m.attachments:
                lines.append(f"*Attached: {name}*")
            if m.frames:
                assets.mkdir(parents=True, exist_ok=True)
                links = []
                for k, image in enumerate(m.frames):
                    file = assets / f"turn{i:03d}_{m.frames_kind}_{k}.png"
                    small = image
                    if image.width() > THUMB.width():
                        small = image.scaled(
                            THUMB,
                            Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation,
                        )
                    small.save(str(file))
                    links.append(f"![{m.frames_kind} frame {k + 1}]({assets.name}/{file.name})")
                lines += ["Frames the model saw: " + " ".join(links), ""]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def to_json(self, path: Path) -> Path:
        data = [
            {
                "role": m.role,
                "turn_id": m.turn_id,
                "kind": m.kind,
                "text": m.text,
                "caption": m.caption,
                "duration_s": m.duration_s,
                "frames": len(m.frames),
                "frames_kind": m.frames_kind,
                "attachments": m.attachments,
                "interrupted": m.interrupted,
                "trace": m.trace,
                "time": m.wall_time,
            }
            for m in self.messages
        ]
        path.write_text(json.dumps({"messages": data}, indent=2, ensure_ascii=False), encoding="utf-8")
        return path
