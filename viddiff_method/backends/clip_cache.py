"""SQLite cache of CLIP embeddings: frames keyed by (video sha256, frame index, model), strings by (text, model).

A rerun with a warm cache never decodes a clip or loads the model. Embeddings are stored as float32
bytes; WAL mode lets several processes share one cache file.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

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
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path) if self.path else ":memory:", check_same_thread=False,
                                     timeout=60)
        self._lock = threading.Lock()
        with self._lock:
            if self.path:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            self._conn.commit()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # -- frames -------------------------------------------------------------------------------
    def get_frames(self, model: str, video: str, frames: Sequence[int]) -> dict[int, np.ndarray]:
        """The cached embeddings among ``frames`` (missing ones are absent from the result)."""
        wanted = set(int(f) for f in frames)
        with self._lock:
            rows = self._conn.execute("SELECT frame, emb FROM frame_emb WHERE model=? AND video=?",
                                      (model, video)).fetchall()
        return {f: np.frombuffer(b, dtype=np.float32) for f, b in rows if f in wanted}

    def put_frames(self, model: str, video: str, frames: Iterable[int], embs: np.ndarray) -> None:
        """Store one embedding per frame index."""
        rows = [(model, video, int(f), np.asarray(e, dtype=np.float32).tobytes()) for f, e in zip(frames, embs)]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO frame_emb VALUES (?,?,?,?)", rows)
            self._conn.commit()

    # -- strings ------------------------------------------------------------------------------
    def get_texts(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached embeddings among ``texts``."""
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for t in set(texts):
                row = self._conn.execute("SELECT emb FROM text_emb WHERE model=? AND text=?", (model, t)).fetchone()
                if row:
                    out[t] = np.frombuffer(row[0], dtype=np.float32)
        return out

    def put_texts(self, model: str, texts: Sequence[str], embs: np.ndarray) -> None:
        """Store one embedding per string."""
        rows = [(model, t, np.asarray(e, dtype=np.float32).tobytes()) for t, e in zip(texts, embs)]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO text_emb VALUES (?,?,?)", rows)
            self._conn.commit()
