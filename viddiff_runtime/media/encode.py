"""Encoding RGB frames to a CFR video, atomically, its frame count verified (:func:`write_frames`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import ffmpeg
import numpy as np

from schemas.errors import ToolkitError
from schemas.io import atomic_path
from viddiff_runtime.media.check import verify_clip
from viddiff_runtime.media.ffmpeg_cli import _ffmpeg_failed, _finish, _rate, ffmpeg_exe
from viddiff_runtime.media.probe import VideoInfo
from viddiff_runtime.media.rates import as_fraction

_CODECS: dict[str, dict[str, object]] = {  # ffmpeg output options of each codec write_frames knows
    "libx264": {"c:v": "libx264", "preset": "veryfast", "crf": 18, "pix_fmt": "yuv420p"},
    "mjpeg": {"c:v": "mjpeg", "q:v": 3, "pix_fmt": "yuvj420p"},
    "mpeg4": {"c:v": "mpeg4", "vtag": "DX50", "q:v": 3, "pix_fmt": "yuv420p"},  # MPEG-4 part 2, as JIGSAWS
    "vp9": {"c:v": "libvpx-vp9", "b:v": 0, "crf": 32, "deadline": "realtime", "pix_fmt": "yuv420p"},
}
_FORMATS = {".mp4": "mp4", ".avi": "avi", ".webm": "webm", ".mkv": "matroska", ".mov": "mov"}


def write_frames(
    frames: np.ndarray | Iterable[np.ndarray],
    dst: str | os.PathLike,
    fps: float | Fraction,
    *,
    codec: str = "libx264",
    threads: int = 1,
) -> VideoInfo:
    """Encode RGB uint8 frames (all the same size) to a CFR video at ``dst``, atomically, count verified.

    ``codec``: ``libx264`` (mp4), ``mjpeg`` or ``mpeg4`` (DX50, avi) or ``vp9`` (webm). Odd sizes are padded to even for
    yuv420p codecs.
    """
    dst = Path(dst)
    if codec not in _CODECS:
        raise ToolkitError(f"unknown codec {codec!r}; known: {', '.join(_CODECS)}", key="codec")
    rate = as_fraction(fps)
    it = iter(frames)
    try:
        first = np.asarray(next(it))
    except StopIteration:
        raise ToolkitError("no frames to write", file=str(dst)) from None
    if first.ndim != 3 or first.shape[2] != 3 or first.dtype != np.uint8:
        raise ToolkitError(f"frames must be HxWx3 uint8, got {first.shape} {first.dtype}", file=str(dst))
    height, width = first.shape[:2]
    fmt = _FORMATS.get(dst.suffix.lower(), "mp4")
    extra = {"movflags": "+faststart"} if fmt == "mp4" else {}
    with atomic_path(dst, suffix=dst.suffix or ".mp4") as tmp:
        stream = (
            ffmpeg.input(
                "-", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=_rate(rate)
            )
            .filter("pad", w="2*ceil(iw/2)", h="2*ceil(ih/2)")
            .output(
                str(tmp),
                **_CODECS[codec],
                threads=threads,
                r=_rate(rate),
                fps_mode="cfr",
                **extra,
                format=fmt,
            )
        )
        proc = _finish(stream).run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
        count = 0
        try:
            proc.stdin.write(np.ascontiguousarray(first).tobytes())
            count = 1
            for frame in it:
                frame = np.asarray(frame)
                if frame.shape != first.shape:
                    raise ToolkitError(
                        f"frame {count} has shape {frame.shape}, expected {first.shape}", file=str(dst)
                    )
                proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
                count += 1
        except BrokenPipeError:
            pass
        finally:
            proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace")
            proc.wait()
        if proc.returncode != 0:
            raise _ffmpeg_failed(proc.returncode, err, what="encode", src=str(dst), output=str(dst))
        written = verify_clip(tmp, count, rate, label=str(dst))
    return replace(written, path=str(dst), frames_counted=True)
