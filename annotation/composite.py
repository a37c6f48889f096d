"""Side-by-side composite clips (A | B in one frame, time-aligned, labelled) for annotating pairs.

Label Studio cannot step two players frame by frame together, so each pair can also get one clip that
shows both videos at the same moment: output frame ``k`` (at ``fps = max(fps_a, fps_b)``) shows A's frame
``min(floor(k * fps_a / fps), n_a - 1)`` and the same for B; the shorter clip holds its last frame. Each
half is captioned with its video letter, frame number counted from 1 (like the Label Studio player, so
"A 7/90" is the frame the player shows as "7 of 90"; toolkit index 6) and time.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from annotation.frames import index_to_ls
from schemas.dataset_dir import DatasetDir
from viddiff_runtime import media

CAPTION_H = 14


def aligned_indices(n_a: int, fps_a: float, n_b: int, fps_b: float) -> tuple[float, list[int], list[int]]:
    """``(fps, A indices, B indices)`` of the composite's frames (see the module doc)."""
    fa, fb = Fraction(fps_a).limit_denominator(100000), Fraction(fps_b).limit_denominator(100000)
    fps = max(fa, fb)
    n_out = max(math.ceil(Fraction(n_a) / fa * fps), math.ceil(Fraction(n_b) / fb * fps))
    ia = [min(math.floor(Fraction(k) * fa / fps), n_a - 1) for k in range(n_out)]
    ib = [min(math.floor(Fraction(k) * fb / fps), n_b - 1) for k in range(n_out)]
    return float(fps), ia, ib


def _half(frame: np.ndarray, height: int, caption: str) -> np.ndarray:
    im = Image.fromarray(frame)
    if im.height != height:
        im = im.resize((max(2, round(im.width * height / im.height)), height), Image.BILINEAR)
    canvas = Image.new("RGB", (im.width, height + CAPTION_H), (0, 0, 0))
    canvas.paste(im, (0, CAPTION_H))
    ImageDraw.Draw(canvas).text((3, 1), caption, fill=(255, 255, 0))
    return np.asarray(canvas)


def composite_path(ds: DatasetDir, sample: dict[str, Any]) -> Path:
    """Where the composite of ``sample`` lives: ``DATASET/annotation/composites/<sample_key>.mp4``."""
    return ds.root / "annotation" / "composites" / f"{sample['sample_key']}.mp4"


def make_composite(
    ds: DatasetDir, sample: dict[str, Any], *, max_height: int = 360, overwrite: bool = False
) -> Path:
    """Write the side-by-side clip of one pair (skipped when it is newer than both clips: resumable)."""
    dst = composite_path(ds, sample)
    srcs = [ds.video_path(sample, i) for i in range(2)]
    if dst.exists() and not overwrite and all(dst.stat().st_mtime >= s.stat().st_mtime for s in srcs):
        return dst
    da, db = (media.decode(s) for s in srcs)
    fps, ia, ib = aligned_indices(len(da.frames), da.fps, len(db.frames), db.fps)
    height = min(max_height, da.frames.shape[1], db.frames.shape[1])
    height -= height % 2

    def frames():
        for k, (a, b) in enumerate(zip(ia, ib)):
            left = _half(da.frames[a], height, f"A {index_to_ls(a)}/{len(da.frames)} {a / da.fps:.2f}s")
            right = _half(db.frames[b], height, f"B {index_to_ls(b)}/{len(db.frames)} {b / db.fps:.2f}s")
            gap = np.full((left.shape[0], 4, 3), 255, np.uint8)
            yield np.concatenate([left, gap, right], axis=1)

    media.write_frames(frames(), dst, fps)
    return dst


def make_composites(ds: DatasetDir, samples: list[dict[str, Any]], **kw) -> dict[str, Path]:
    """Composites for many pairs, with a progress bar; returns ``{sample_key: path}``."""
    from tqdm import tqdm

    return {
        s["sample_key"]: make_composite(ds, s, **kw) for s in tqdm(samples, desc="composites", unit="pair")
    }
