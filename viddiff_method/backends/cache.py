"""A small SQLite cache of validated LLM answers, keyed by the canonical request hash.

Only valid answers are stored (the client never writes failures), so a rerun of any command makes
zero calls for what already succeeded and retries only what failed. Safe across threads (one
connection per thread) and processes (WAL journal, busy timeout).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from schemas.errors import ToolkitError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    stage TEXT,
    model TEXT,
    answer TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    created REAL
)
"""


class SQLiteCache:
    """``get(key) -> dict | None`` and ``put(key, answer, ...)`` over one SQLite file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.DatabaseError as e:
                raise ToolkitError(f"cannot open LLM cache: {e}", file=str(self.path)) from None
            self._local.conn = conn
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer for ``key``, or ``None``."""
        try:
            row = self._conn().execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as e:
            raise ToolkitError(f"LLM cache unreadable: {e}", file=str(self.path)) from None
        return None if row is None else json.loads(row[0])

    def put(self, key: str, answer: dict[str, Any], *, stage: str = "", model: str = "",
            prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Store a validated answer (an upsert; one statement, so it is atomic)."""
        self._conn().execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, stage, model, json.dumps(answer, ensure_ascii=False, sort_keys=True),
             prompt_tokens, completion_tokens, time.time()),
        )

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
