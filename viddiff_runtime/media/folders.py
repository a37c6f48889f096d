"""Image-folder media: which files are frames, in integer-stem order."""

from __future__ import annotations

import os
from pathlib import Path

from schemas.errors import ToolkitError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


class BadFrameName(ToolkitError):
    """A frame folder holds an image whose name is not an integer frame number (``reason`` and ``name``
    say which, so a caller can count or skip the folder without reading the message)."""

    reason = "image file name is not an integer frame number"

    def __init__(self, name: str, folder: str):
        super().__init__(f"{self.reason}: {name}", file=folder)
        self.name = name


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """Image files of a frame folder, ordered by the integer value of the stem (not string order)."""
    folder = Path(folder)
    files = [
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    bad = [p.name for p in files if not p.stem.lstrip("-").isdigit()]
    if bad:
        raise BadFrameName(bad[0], str(folder))
    return sorted(files, key=lambda p: int(p.stem))
