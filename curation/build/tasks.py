"""The unit of work of `curate build`: one clip to make (:class:`ClipTask`) and what making it wrote."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True)
class ClipTask:
    """One stored clip to make: which source frames ``[start, end)`` at which fps, and how to encode."""

    sample_key: str
    side: Literal["a", "b"]
    src: str
    src_kind: Literal["video", "frames"]
    src_fps: float
    start: int
    end: int
    fps: float | None
    crf: int
    preset: str
    max_height: int | None
    size: tuple[int, int] | None = None

    @property
    def rel_path(self) -> str:
        """Where the clip lives inside the dataset directory."""
        return f"videos/{self.sample_key}/{self.side}.mp4"

    def spec_hash(self) -> str:
        """Hash of everything that determines the clip's bytes (the resume key)."""
        spec = asdict(self)
        if spec["size"] is None:  # clips built before pair sizes existed keep their key
            del spec["size"]
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


@dataclass
class ClipResult:
    """What a finished task wrote: frame count, fps, sha256."""

    sample_key: str
    side: str
    n_frames: int
    fps: float
    sha256: str
    reused: bool = False
