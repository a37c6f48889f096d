"""Small helpers shared by the source-adapter tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from curation.samples.synthetic import read_barcode
from viddiff_runtime import media


def barcodes_of_files(files: list[Path]) -> list[int]:
    """The barcode of each image file, in the given order."""
    return [read_barcode(np.asarray(Image.open(p).convert("RGB"))) for p in files]


def barcodes_of_video(path: str | Path, indices: list[int] | None = None) -> list[int]:
    """The barcode of every decoded frame of a video (or of ``indices``)."""
    dec = media.decode(path, indices=indices)
    return [read_barcode(f) for f in dec.frames]
