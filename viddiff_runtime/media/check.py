"""Frame checks: the frames a media item must hold really decode (:func:`check_frames`), and a written
clip has exactly the frames, rate and start it should (:func:`verify_clip`)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from schemas.errors import ToolkitError
from viddiff_runtime.media.folders import list_frame_files
from viddiff_runtime.media.probe import VideoInfo, _open, count_frames, probe
from viddiff_runtime.media.rates import fmt_fps


def check_frames(path: str | os.PathLike, needed: int, *, what: str = "") -> int:
    """Check that the first ``needed`` frames of a media item really decode; return how many did.

    A video is decoded up to frame ``needed`` (a header can promise frames a truncated file lacks, and
    garbage inside a file only shows when decoding); an image folder must hold ``needed`` images whose
    headers read. Anything short or unreadable is a one-line error naming the file and both lengths
    (``what`` says what needs those frames, e.g. the trim of an action).
    """
    path = Path(path)
    why = f" ({what})" if what else ""
    if path.is_dir():
        from PIL import Image

        files = list_frame_files(path)
        if len(files) < needed:
            raise ToolkitError(
                f"image folder has {len(files)} images, but {needed} frames are needed{why}", file=str(path)
            )
        for f in files[:needed]:
            try:
                with Image.open(f) as im:
                    im.size  # noqa: B018 - reads the header
            except OSError as e:
                raise ToolkitError(f"unreadable image: {e}", file=str(f)) from None
        return needed
    got = 0
    with _open(path) as container:
        if not container.streams.video:
            raise ToolkitError("no video stream", file=str(path))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for _ in container.decode(stream):
                got += 1
                if got >= needed:
                    return got
        except av.error.FFmpegError as e:
            raise ToolkitError(
                f"corrupt video: decoding stops at frame {got} of the {needed} needed{why} "
                f"({e.strerror or type(e).__name__})",
                file=str(path),
            ) from None
    raise ToolkitError(
        f"video is shorter than needed: it decodes {got} frames, {needed} are needed{why}", file=str(path)
    )


def verify_clip(
    path: str | os.PathLike,
    n_frames: int,
    fps: Fraction,
    *,
    label: str | None = None,
    counted: int | None = None,
) -> VideoInfo:
    """Check a written clip: exactly ``n_frames`` frames, rate ``fps``, start_time 0 (else ToolkitError).

    ``counted``: a frame count the caller already took from this file (saves a second demux).
    """
    info = probe(path)
    got = counted if counted is not None else count_frames(path)
    where = label or str(path)
    if got != n_frames:
        raise ToolkitError(f"wrote {got} frames, expected {n_frames}", file=where)
    if info.fps != fps:
        raise ToolkitError(f"wrote {fmt_fps(info.fps)} fps, expected {fmt_fps(fps)}", file=where)
    if abs(info.start_time) > 1e-6:
        raise ToolkitError(f"start_time is {info.start_time}, expected 0", file=where)
    return VideoInfo(
        info.path, info.fps, got, info.duration, info.start_time, info.width, info.height, info.codec, True
    )
