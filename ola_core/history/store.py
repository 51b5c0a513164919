"""The conversation history: one SQLite file (standard library) in the user's data folder.

Why SQLite: reopening, renaming, deleting and searching conversations must not mean rewriting a
whole JSON file on every turn, and a crash mid-write must not lose the history; SQLite gives
atomic updates and ``LIKE`` search for free, with no dependency. What is kept per turn: what the
user typed or said (the caption), the answer, its outcome and timings (the turn's trace as
JSON), the attachments' names and small JPEG thumbnails of the frames the model used — never
audio or whole videos.

One connection serves every thread (the recorder writes from the assistant's threads, the GUI
reads on its own); a lock orders them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ola_core.errors import OlaError
from ola_core.settings import data_dir

__all__ = [
    "ConversationInfo",
    "ConversationRecord",
    "HistoryError",
    "HistoryStore",
    "TurnRecord",
    "history_path",
]

HISTORY_FILE = "history.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    user_text TEXT NOT NULL DEFAULT '',
    caption TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    duration_s REAL NOT NULL DEFAULT 0,
    attachments TEXT NOT NULL DEFAULT '[]',
    frames_kind TEXT NOT NULL DEFAULT 'camera',
    answer TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    trace TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation_id, id);
CREATE TABLE IF NOT EXISTS thumbnails (
    turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    jpeg BLOB NOT NULL
);
"""


class HistoryError(OlaError):
    """The history file cannot be read or written."""


def history_path() -> Path:
    """``<data dir>/history.sqlite3`` (``OLA_DATA_DIR`` overrides the folder)."""
    return data_dir() / HISTORY_FILE


@dataclass(frozen=True)
class ConversationInfo:
    """One row of the history list."""

    id: int
    title: str  # the user's name for it, else its first question
    created: float  # time.time()
    updated: float
    turns: int


@dataclass(frozen=True)
class TurnRecord:
    """One saved turn: the user's part and the answer."""

    id: int
    kind: str  # "voice" or "text"
    user_text: str  # typed text ("" for a voice turn)
    caption: str  # what the user said, as the captions decoder heard it
    language: str
    duration_s: float
    attachments: tuple[str, ...]
    frames_kind: str
    answer: str
    outcome: str  # TurnOutcome, "" while the answer was not finished
    trace: dict[str, Any] | None
    created: float
    thumbnails: tuple[bytes, ...] = field(default=(), repr=False)  # JPEG

    @property
    def question(self) -> str:
        """What the user asked, in words: the typed text, else the caption."""
        return self.user_text or self.caption


@dataclass(frozen=True)
class ConversationRecord:
    info: ConversationInfo
    turns: tuple[TurnRecord, ...]

    def text_turns(self) -> tuple[tuple[str, str], ...]:
        """(question, answer) pairs with words on both sides: what a continued conversation
        gives the model again (frames and sound are not kept, so only the text comes back)."""
        return tuple((t.question, t.answer) for t in self.turns if t.question and t.answer)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class HistoryStore:
    """Conversations in one SQLite file (``":memory:"``: kept only while the process runs)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = history_path() if path is None else path
        try:
            if isinstance(self.path, Path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise HistoryError(
                f"The conversation history {self.path} cannot be opened ({error}). "
                "Check that the folder is writable, or turn Keep history off in the settings."
            ) from error
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._db.execute(sql, args)
            except sqlite3.Error as error:
                raise HistoryError(f"The conversation history {self.path} failed: {error}.") from error

    # --- writing -------------------------------------------------------------------------------
    def create(self, title: str = "", now: float | None = None) -> int:
        now = time.time() if now is None else now
        cursor = self._run(
            "INSERT INTO conversations (title, created, updated) VALUES (?, ?, ?)", (title, now, now)
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_turn(
        self,
        conversation_id: int,
        *,
        kind: str,
        user_text: str = "",
        duration_s: float = 0.0,
        attachments: tuple[str, ...] = (),
        frames_kind: str = "camera",
        thumbnails: tuple[bytes, ...] = (),
        now: float | None = None,
    ) -> int:
        """A new turn at the end of the conversation; its answer comes with :meth:`finish_turn`."""
        now = time.time() if now is None else now
        cursor = self._run(
            "INSERT INTO turns (conversation_id, kind, user_text, duration_s, attachments, frames_kind, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, kind, user_text, duration_s, json.dumps(list(attachments)), frames_kind, now),
        )
        turn = cursor.lastrowid
        assert turn is not None
        for position, jpeg in enumerate(thumbnails):
            self._run(
                "INSERT INTO thumbnails (turn_id, position, jpeg) VALUES (?, ?, ?)", (turn, position, jpeg)
            )
        self._touch(conversation_id, now)
        return turn

    def set_caption(self, turn: int, caption: str, language: str = "") -> None:
        self._run("UPDATE turns SET caption = ?, language = ? WHERE id = ?", (caption, language, turn))

    def finish_turn(self, turn: int, answer: str, outcome: str, trace: dict[str, Any] | None) -> None:
        self._run(
            "UPDATE turns SET answer = ?, outcome = ?, trace = ? WHERE id = ?",
            (answer, outcome, None if trace is None else json.dumps(trace), turn),
        )

    def _touch(self, conversation_id: int, now: float) -> None:
        self._run("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))

    def rename(self, conversation_id: int, title: str) -> None:
        self._run("UPDATE conversations SET title = ? WHERE id = ?", (title.strip(), conversation_id))

    def delete(self, conversation_id: int) -> None:
        self._run("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # --- reading -------------------------------------------------------------------------------
    def list(self, search: str = "") -> list[ConversationInfo]:
        """Newest first; ``search`` matches titles, questions, captions and answers (any case)."""
        sql = (
            "SELECT c.id, c.title, c.created, c.updated,"
            " (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id),"
            " (SELECT CASE WHEN t.user_text != '' THEN t.user_text ELSE t.caption END FROM turns t"
            "  WHERE t.conversation_id = c.id ORDER BY t.id LIMIT 1)"
            " FROM conversations c"
        )
        args: tuple[Any, ...] = ()
        if search.strip():
            pattern = _like(search.strip())
            sql += (
                " WHERE c.title LIKE ?1 ESCAPE '\\' OR EXISTS (SELECT 1 FROM turns t WHERE t.conversation_id = c.id"
                " AND (t.user_text LIKE ?1 ESCAPE '\\' OR t.caption LIKE ?1 ESCAPE '\\'"
                " OR t.answer LIKE ?1 ESCAPE '\\'))"
            )
            args = (pattern,)
        rows = self._run(sql + " ORDER BY c.updated DESC, c.id DESC", args).fetchall()
        return [
            ConversationInfo(
                id, title or _short(first or "") or "(empty conversation)", created, updated, turns
            )
            for id, title, created, updated, turns, first in rows
        ]

    def get(self, conversation_id: int) -> ConversationRecord | None:
        info = next((c for c in self.list() if c.id == conversation_id), None)
        if info is None:
            return None
        rows = self._run(
            "SELECT id, kind, user_text, caption, language, duration_s, attachments, frames_kind, answer,"
            " outcome, trace, created FROM turns WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        turns = []
        for row in rows:
            thumbs = self._run(
                "SELECT jpeg FROM thumbnails WHERE turn_id = ? ORDER BY position", (row[0],)
            ).fetchall()
            turns.append(
                TurnRecord(
                    id=row[0],
                    kind=row[1],
                    user_text=row[2],
                    caption=row[3],
                    language=row[4],
                    duration_s=row[5],
                    attachments=tuple(json.loads(row[6])),
                    frames_kind=row[7],
                    answer=row[8],
                    outcome=row[9],
                    trace=None if row[10] is None else json.loads(row[10]),
                    created=row[11],
                    thumbnails=tuple(bytes(t[0]) for t in thumbs),
                )
            )
        return ConversationRecord(info, tuple(turns))


def _short(text: str, limit: int = 60) -> str:
    """A one-line title from a question."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
