"""A small SQLite cache of validated LLM answers, keyed by the canonical request hash.

Only valid answers are stored (the client never writes failures), so a rerun of any command makes
zero calls for what already succeeded and retries only what failed. Safe across threads (one
connection per thread) and processes (WAL journal, busy timeout).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from schemas.errors import ToolkitError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    stage TEXT,
    model TEXT,
    answer TEXT NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    created REAL
);
CREATE TABLE IF NOT EXISTS endpoint_modes (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    mode TEXT NOT NULL,
    updated REAL,
    PRIMARY KEY (endpoint, model)
)
"""
#: Seconds a writer waits for another process's lock before giving up (SQLite busy timeout).
BUSY_TIMEOUT_S = 30.0


def sqlite_reason(e: sqlite3.Error) -> str:
    """SQLite's message, with the likely cause when it only says "disk I/O error" (SQLite hides errno)."""
    text = str(e)
    # SQLite's primary result code (the low byte of the extended one): 10 SQLITE_IOERR, 13 SQLITE_FULL
    if (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL):
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        text += (
            " (a file-size limit is set: ulimit -f)"
            if soft != resource.RLIM_INFINITY
            else " (is the disk full or read-only?)"
        )
    return text


class SQLiteCache:
    """``get(key) -> dict | None`` and ``put(key, answer, ...)`` over one SQLite file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self._conn().executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ToolkitError(f"cannot open LLM cache: {sqlite_reason(e)}", file=str(self.path)) from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
                conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.DatabaseError as e:
                raise ToolkitError(
                    f"cannot open LLM cache: {sqlite_reason(e)}", file=str(self.path)
                ) from None
            self._local.conn = conn
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer for ``key``, or ``None``.

        A row that is not a JSON object (a corrupt write, a hand edit) is dropped with a warning naming
        the file and the key, so the request is simply asked again.
        """
        try:
            row = self._conn().execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as e:
            raise ToolkitError(f"LLM cache unreadable: {e}", file=str(self.path)) from None
        if row is None:
            return None
        try:
            answer = json.loads(row[0])
            problem = None if isinstance(answer, dict) else "not a JSON object"
        except (ValueError, TypeError) as e:
            problem = str(e)[:80]
        if problem is not None:
            log.warning(
                "%s: %s: corrupt cached answer ignored and removed (%s); it will be asked again",
                self.path,
                key[:16],
                problem,
            )
            self._conn().execute("DELETE FROM answers WHERE key = ?", (key,))
            return None
        return answer

    def get_mode(self, endpoint: str, model: str) -> str | None:
        """The structured-output mode remembered for ``endpoint`` + ``model`` (see the LLM client's auto)."""
        row = (
            self._conn()
            .execute("SELECT mode FROM endpoint_modes WHERE endpoint = ? AND model = ?", (endpoint, model))
            .fetchone()
        )
        return None if row is None else row[0]

    def put_mode(self, endpoint: str, model: str, mode: str) -> None:
        """Remember the structured-output mode that worked for ``endpoint`` + ``model``."""
        self._conn().execute(
            "INSERT OR REPLACE INTO endpoint_modes VALUES (?, ?, ?, ?)", (endpoint, model, mode, time.time())
        )

    def put(
        self,
        key: str,
        answer: dict[str, Any],
        *,
        stage: str = "",
        model: str = "",
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        """Store a validated answer (an upsert; one statement, so it is atomic)."""
        self._conn().execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                stage,
                model,
                json.dumps(answer, ensure_ascii=False, sort_keys=True),
                prompt_tokens,
                completion_tokens,
                time.time(),
            ),
        )

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
