"""Opening and measuring media with PyAV: :class:`VideoInfo`, :func:`probe`, :func:`count_frames`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from schemas.errors import ToolkitError
from viddiff_runtime.media.folders import list_frame_files
from viddiff_runtime.media.rates import as_fraction


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` measured. ``fps`` is exact (a rational); ``n_frames`` is a real count when
    ``frames_counted`` is true (the container's own number disagreed with its duration, or was missing)."""

    path: str
    fps: Fraction
    n_frames: int
    duration: float
    start_time: float
    width: int
    height: int
    codec: str
    frames_counted: bool = False


def _open(path: str | os.PathLike):
    try:
        return av.open(str(path))
    except FileNotFoundError:
        raise ToolkitError("file not found", file=str(path)) from None
    except av.error.FFmpegError as e:
        raise ToolkitError(
            f"not a readable video ({e.strerror or type(e).__name__})", file=str(path)
        ) from None


def count_frames(path: str | os.PathLike, *, decode: bool = False) -> int:
    """Count the frames of a video by demuxing packets (``decode=True``: by decoding every frame)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        try:
            if decode:
                stream.thread_type = "AUTO"
                return sum(1 for _ in container.decode(stream))
            return sum(1 for p in container.demux(stream) if p.size > 0)
        except av.error.FFmpegError as e:
            raise ToolkitError(
                f"corrupt or truncated video ({e.strerror or type(e).__name__})", file=str(path)
            ) from None


def probe(path: str | os.PathLike, *, fps: float | Fraction | None = None, count: bool = False) -> VideoInfo:
    """Measure a media item: exact fps, frame count, duration, start_time, size and codec.

    For an image folder ``fps`` must be given (folders have no clock). For a video the frame count is
    the container's, unless it is missing or disagrees with ``duration * fps`` by more than one frame
    (or ``count=True``): then the frames are counted by decoding (``frames_counted=True``), which also
    catches truncated files whose header promises more than they hold.
    """
    path = Path(path)
    if path.is_dir():
        files = list_frame_files(path)
        if not files:
            raise ToolkitError("image folder is empty", file=str(path))
        if fps is None:
            raise ToolkitError(
                "an image folder needs an fps (set it in the config)", file=str(path), key="fps"
            )
        from PIL import Image

        try:
            with Image.open(files[0]) as im:
                width, height = im.size
                codec = (im.format or files[0].suffix[1:]).lower()
        except OSError as e:
            raise ToolkitError(f"unreadable image: {e}", file=str(files[0])) from None
        rate = as_fraction(fps)
        return VideoInfo(
            str(path), rate, len(files), float(len(files) / rate), 0.0, width, height, codec, True
        )

    with _open(path) as container:
        if not container.streams.video:
            raise ToolkitError("no video stream", file=str(path))
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise ToolkitError("video has no frame rate", file=str(path))
        rate = Fraction(rate.numerator, rate.denominator)
        tb = stream.time_base
        start = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        if stream.duration is not None and tb is not None:
            duration = float(stream.duration * tb)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        declared = int(stream.frames or 0)
        width, height = stream.codec_context.width, stream.codec_context.height
        codec = stream.codec_context.name
    expected = duration * float(rate)
    counted = count or declared <= 0 or abs(declared - expected) > 1.0
    n = count_frames(path, decode=True) if counted else declared
    if n <= 0:
        raise ToolkitError("video has no decodable frames (corrupt or truncated?)", file=str(path))
    return VideoInfo(str(path), rate, n, duration, start, width, height, codec, counted)
