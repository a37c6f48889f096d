"""Exact frame rates and the resampling rule every trim and decode shares (:func:`resample_indices`)."""

from __future__ import annotations

import math
from fractions import Fraction

from schemas.errors import ToolkitError


def as_fraction(fps: float | Fraction | str | int) -> Fraction:
    """Exact rational fps: ``30000/1001`` stays exact, ``29.97`` becomes ``2997/100``."""
    if isinstance(fps, Fraction):
        return fps
    if isinstance(fps, str) and "/" in fps:
        num, den = fps.split("/")
        return Fraction(int(num), int(den))
    return Fraction(str(fps)).limit_denominator(100000)


def fmt_fps(fps: float | Fraction | str) -> str:
    """A rate with enough digits to tell two rates apart: ``30``, ``10000000/333333 (30.00003)``."""
    if isinstance(fps, float) and not fps.is_integer():
        return f"{fps:.7g}"
    rate = as_fraction(fps)
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{rate.numerator}/{rate.denominator} ({float(rate):.7g})"


def resample_indices(n: int, src_fps: Fraction, fps: Fraction | None, start: int = 0) -> list[int]:
    """Source indices kept when ``n`` frames from ``start`` at ``src_fps`` are resampled to ``fps``.

    Output frame ``k`` shows source frame ``start + floor(k * src_fps / fps)``; there are
    ``ceil(n * fps / src_fps)`` of them. Upsampling is refused: curation never invents frames.
    """
    if fps is None or fps == src_fps:
        return list(range(start, start + n))
    if fps > src_fps:
        raise ToolkitError(f"output fps {float(fps):g} is above the source fps {float(src_fps):g}", key="fps")
    count = math.ceil(Fraction(n) * fps / src_fps)
    return [start + math.floor(Fraction(k) * src_fps / fps) for k in range(count)]
