"""A saved conversation written out: Markdown (with its frame thumbnails beside it) or JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ola_core.history.store import ConversationRecord

__all__ = ["export"]


def export(record: ConversationRecord, path: Path) -> Path:
    """``path`` ending in .json: JSON; else Markdown plus ``<stem>_files/`` with the thumbnails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        return _to_json(record, path)
    return _to_markdown(record, path)


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _to_markdown(record: ConversationRecord, path: Path) -> Path:
    assets = path.with_name(f"{path.stem}_files")
    lines = [f"# {record.info.title}", "", f"*Ola Assistant conversation, {_stamp(record.info.created)}*", ""]
    for i, turn in enumerate(record.turns):
        what = f"voice, {turn.duration_s:.1f} s" if turn.kind == "voice" else "typed"
        lines += [f"### You ({what}) — {_stamp(turn.created)}", ""]
        if turn.question:
            lines += [turn.question, ""]
        lines += [f"*Attached: {name}*" for name in turn.attachments]
        if turn.thumbnails:
            assets.mkdir(parents=True, exist_ok=True)
            links = []
            for k, jpeg in enumerate(turn.thumbnails):
                file = assets / f"turn{i:03d}_{turn.frames_kind}_{k}.jpg"
                file.write_bytes(jpeg)
                links.append(f"![{turn.frames_kind} frame {k + 1}]({assets.name}/{file.name})")
            lines += ["Frames the model saw: " + " ".join(links), ""]
        interrupted = turn.outcome in ("barge_in", "stopped")
        lines += ["### Ola" + (" (interrupted)" if interrupted else ""), ""]
        if turn.answer:
            lines += [turn.answer, ""]
        if turn.trace and turn.trace.get("mouth_to_ear_s") is not None:
            lines += [f"*Answer began {turn.trace['mouth_to_ear_s']:.2f} s after the question ended.*", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _to_json(record: ConversationRecord, path: Path) -> Path:
    turns = [
        {
            "kind": t.kind,
            "text": t.user_text,
            "caption": t.caption,
            "language": t.language,
            "duration_s": t.duration_s,
            "attachments": list(t.attachments),
            "frames": len(t.thumbnails),
            "frames_kind": t.frames_kind,
            "answer": t.answer,
            "outcome": t.outcome,
            "trace": t.trace,
            "time": t.created,
        }
        for t in record.turns
    ]
    data = {"title": record.info.title, "created": record.info.created, "turns": turns}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
