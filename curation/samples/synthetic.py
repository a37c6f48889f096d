"""Synthetic frames that prove which source frame landed where.

Every frame carries a visible counter (for people) and a 16-bit binary barcode of its frame index in a
black stripe along the bottom (for code): :func:`read_barcode` recovers the index after H.264/MJPEG
compression, so tests can check frame exactness of trims, resampling and decoding. Everything made here is
labelled ``SYNTHETIC`` on the frame.
"""

from __future__ import annotations

import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from schemas.io import atomic_write
from viddiff_runtime import media

BITS = 16
STRIPE_FRACTION = 0.18


def _stripe(height: int) -> tuple[int, int]:
    h = max(8, int(round(height * STRIPE_FRACTION)))
    return height - h, height


@lru_cache(maxsize=8)
def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # Pillow without FreeType
            return ImageFont.load_default()


def render_frame(
    index: int,
    width: int = 160,
    height: int = 120,
    *,
    label: str = "",
    color: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """An RGB uint8 frame showing ``index`` as text and as a barcode; ``label`` is printed too.

    ``color`` sets the background (default: a hue that drifts with the index, so motion is visible).
    """
    if not 0 <= index < 2**BITS:
        raise ValueError(f"frame index {index} does not fit in {BITS} bits")
    if color is None:
        color = (40 + (index * 7) % 120, 60, 90 + (index * 3) % 100)
    img = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(img)
    y0, _ = _stripe(height)
    size = max(8, y0 // 3)
    draw.text((4, 2), f"{index}", fill=(255, 255, 255), font=_font(size))
    draw.text(
        (4, 2 + size + 2), f"SYNTHETIC {label}".strip(), fill=(230, 230, 120), font=_font(max(7, size // 2))
    )
    arr = np.asarray(img).copy()
    arr[y0:, :] = 0
    cell = width // BITS
    for bit in range(BITS):
        if (index >> bit) & 1:
            arr[y0 + 1 :, bit * cell + 1 : (bit + 1) * cell - 1] = 255
    return arr


def read_barcode(frame: np.ndarray) -> int:
    """Recover the frame index written by :func:`render_frame` (works after lossy compression)."""
    height, width = frame.shape[:2]
    y0, y1 = _stripe(height)
    gray = frame[y0 + 1 : y1, :, :3].mean(axis=2) if frame.ndim == 3 else frame[y0 + 1 : y1]
    cell = width // BITS
    value = 0
    for bit in range(BITS):
        x0, x1 = bit * cell + 2, (bit + 1) * cell - 2
        if x1 <= x0:
            x0, x1 = bit * cell, (bit + 1) * cell
        if gray[:, x0:x1].mean() > 128:
            value |= 1 << bit
    return value


# ------------------------------------------------ files in the real layouts, made of these frames

#: the default size of a synthetic frame
W, H = 160, 120


@lru_cache(maxsize=4096)
def write_frame(
    index: int, width: int, height: int, label: str, color: tuple[int, int, int] | None
) -> np.ndarray:
    """One rendered frame showing ``index`` as text and barcode (cached: trees reuse frames)."""
    return render_frame(index, width, height, label=label, color=color)


def write_frames(
    n: int, label: str, color: tuple[int, int, int] | None = None, size: tuple[int, int] = (W, H)
):
    """Frames 0 … n-1 of one synthetic clip."""
    return (write_frame(i, size[0], size[1], label, color) for i in range(n))


def write_video(
    path: Path, n: int, label: str, *, fps: float = 30, color=None, size=(W, H), codec="libx264"
) -> None:
    """A synthetic video file of ``n`` frames at ``fps`` (the codec picks the container's real format)."""
    media.write_frames(write_frames(n, label, color, size), path, fps, codec=codec)


def write_image_folder(
    folder: Path, names: list[int], label: str, *, digits: int, ext: str, color=None
) -> None:
    """Files named by the real layout's numbers; frame at sorted position i shows barcode i."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, number in enumerate(names):
        img = Image.fromarray(write_frame(i, W, H, label, color))
        path = folder / f"{number:0{digits}d}.{ext}"
        if ext == "jpg":
            img.save(path, quality=92)
        else:
            img.save(path, compress_level=1)


def write_color(rng: np.random.Generator) -> tuple[int, int, int]:
    """A random dark colour for one clip's background."""
    return tuple(int(x) for x in rng.integers(30, 140, size=3))


def write_pickle(path: Path, obj: Any) -> None:
    """``obj`` pickled (protocol 4, as the FineDiving release) to ``path``, atomically."""
    atomic_write(path, pickle.dumps(obj, protocol=4))
