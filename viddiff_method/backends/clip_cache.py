"""SQLite cache of CLIP embeddings: frames keyed by (video sha256, frame index, model), strings by (text, model).

A rerun with a warm cache never decodes a clip or loads the model. Embeddings are stored as float32
bytes; WAL mode lets several processes share one cache file.

A cache file that is not a database or is damaged is only a cache: it is moved aside
(``clip.sqlite.corrupt-<time>``, with a warning) and rebuilt, never fatal. A write the disk refuses
(full, file-size limit) is one :class:`~schemas.errors.ToolkitError` naming the file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from schemas.errors import ToolkitError

log = logging.getLogger(__name__)
#: SQLite primary result codes: the file is damaged / not a database; the disk refused a write.
_CORRUPT = {11, 26}
_WRITE_FAILED = {10: "disk I/O error (disk full or a file-size limit?)", 13: "the disk is full"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frame_emb (model TEXT NOT NULL, video TEXT NOT NULL, frame INTEGER NOT NULL,
                                      emb BLOB NOT NULL, PRIMARY KEY (model, video, frame));
CREATE TABLE IF NOT EXISTS text_emb (model TEXT NOT NULL, text TEXT NOT NULL, emb BLOB NOT NULL,
                                     PRIMARY KEY (model, text));
"""


class ClipCache:
    """Embedding store; ``path=None`` keeps it in memory (tests, one-off runs)."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        if self.path:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ToolkitError(
                    f"cannot create the cache folder: {e.strerror}", file=str(self.path.parent)
                ) from None
            if self.path.is_dir():
                raise ToolkitError("is a folder, expected the CLIP cache file", file=str(self.path))
        self._lock = threading.Lock()
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            if self.path is None or _code(e) not in _CORRUPT:
                raise self._error(e) from None
            self._move_aside(e)
            self._open()

    def _open(self) -> None:
        self._conn = sqlite3.connect(
            str(self.path) if self.path else ":memory:", check_same_thread=False, timeout=60
        )
        with self._lock:
            try:
                if self.path:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(_SCHEMA)
                self._conn.commit()
            except BaseException:
                self._conn.close()
                raise

    def _move_aside(self, e: sqlite3.DatabaseError) -> None:
        """Rename a damaged cache file (and its WAL/SHM) out of the way so a fresh one is built."""
        assert self.path is not None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        log.warning("%s: damaged CLIP cache (%s) moved aside to %s; rebuilding it", self.path, e, aside.name)

    def _error(self, e: sqlite3.DatabaseError) -> ToolkitError:
        what = _WRITE_FAILED.get(_code(e), str(e))
        return ToolkitError(f"CLIP cache: {what}", file=str(self.path) if self.path else "<memory>")

    def _recover(self, e: sqlite3.DatabaseError) -> None:
        """A damaged cache found mid-run is rebuilt (the lost embeddings are recomputed); else one line."""
        if self.path is None or _code(e) not in _CORRUPT:
            raise self._error(e) from None
        with self._lock:
            self._conn.close()
        self._move_aside(e)
        self._open()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # -- frames -------------------------------------------------------------------------------
    def get_frames(self, model: str, video: str, frames: Sequence[int]) -> dict[int, np.ndarray]:
        """The cached embeddings among ``frames`` (missing ones are absent from the result)."""
        wanted = set(int(f) for f in frames)
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT frame, emb FROM frame_emb WHERE model=? AND video=?", (model, video)
                ).fetchall()
        except sqlite3.DatabaseError as e:
            self._recover(e)
            return {}
        return {f: np.frombuffer(b, dtype=np.float32) for f, b in rows if f in wanted}

    def put_frames(self, model: str, video: str, frames: Iterable[int], embs: np.ndarray) -> None:
        """Store one embedding per frame index."""
        rows = [
            (model, video, int(f), np.asarray(e, dtype=np.float32).tobytes()) for f, e in zip(frames, embs)
        ]
        self._write("INSERT OR REPLACE INTO frame_emb VALUES (?,?,?,?)", rows)

    def _write(self, sql: str, rows: list[tuple]) -> None:
        for attempt in (0, 1):
            try:
                with self._lock:
                    self._conn.executemany(sql, rows)
                    self._conn.commit()
                return
            except sqlite3.DatabaseError as e:
                if attempt:
                    raise self._error(e) from None
                self._recover(e)  # damaged: rebuilt, then the write is tried once more

    # -- strings ------------------------------------------------------------------------------
    def get_texts(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached embeddings among ``texts``."""
        out: dict[str, np.ndarray] = {}
        try:
            with self._lock:
                for t in set(texts):
                    row = self._conn.execute(
                        "SELECT emb FROM text_emb WHERE model=? AND text=?", (model, t)
                    ).fetchone()
                    if row:
                        out[t] = np.frombuffer(row[0], dtype=np.float32)
        except sqlite3.DatabaseError as e:
            self._recover(e)
            return {}
        return out

    def put_texts(self, model: str, texts: Sequence[str], embs: np.ndarray) -> None:
        """Store one embedding per string."""
        rows = [(model, t, np.asarray(e, dtype=np.float32).tobytes()) for t, e in zip(texts, embs)]
        self._write("INSERT OR REPLACE INTO text_emb VALUES (?,?,?)", rows)


def _code(e: sqlite3.DatabaseError) -> int:
    """The primary SQLite result code of ``e`` (-1 when unknown)."""
    code = getattr(e, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1
