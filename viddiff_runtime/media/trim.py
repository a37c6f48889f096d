"""Frame-exact trimming of a video or image folder into a CFR H.264 clip (:func:`trim`), and the
ffmpeg-python graph it runs (:func:`trim_command`)."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import ffmpeg

from schemas.errors import ToolkitError
from schemas.io import atomic_path
from viddiff_runtime.media.check import verify_clip
from viddiff_runtime.media.ffmpeg_cli import Filter, _chain, _rate, _run_ffmpeg
from viddiff_runtime.media.folders import list_frame_files
from viddiff_runtime.media.probe import VideoInfo, _open, count_frames, probe
from viddiff_runtime.media.rates import as_fraction, resample_indices


def frame_times(path: str | os.PathLike) -> tuple[list[Fraction], Fraction] | None:
    """Every frame's presentation time (seconds, display order) from packets alone, and the file's start.

    ``None`` when a packet has no pts or two share one: then frame ``n`` cannot be located by time and
    callers decode from the start instead.
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        origin = Fraction(container.start_time or 0, 1_000_000)  # ffmpeg's -ss counts from here
        try:
            pts = [p.pts for p in container.demux(stream) if p.size > 0]
        except av.error.FFmpegError:
            return None
    if any(p is None for p in pts) or len(set(pts)) != len(pts):
        return None
    return [Fraction(p) * tb for p in sorted(pts)], origin


def seek_window(path: str | os.PathLike, start: int, end: int) -> tuple[float, float, float] | None:
    """How to cut frames ``[start, end)`` by time instead of by decoding from frame 0.

    Returns ``(seek, t_first, t_last)`` in seconds: seek to ``seek`` (the time of frame ``start - 1``,
    relative to the file's start, as ``-ss`` wants it), then keep frames whose own timestamp (``-copyts``)
    lies in ``[t_first, t_last]``, the midpoints between neighbouring frames' times, so rounding can never
    let a neighbour in. ``None`` when the pts do not identify frames (missing or duplicated) or ``start``
    is 0: decode from the first frame then.
    """
    if start <= 0:
        return None
    found = frame_times(path)
    if found is None or end > len(found[0]):
        return None
    t, origin = found
    first = (t[start - 1] + t[start]) / 2
    last = (t[end - 1] + t[end]) / 2 if end < len(t) else t[end - 1] + 1
    return float(max(Fraction(0), t[start - 1] - origin)), float(first), float(last)


def _select_expr(src_fps: Fraction, fps: Fraction) -> str:
    """ffmpeg ``select`` expression keeping the frames of :func:`resample_indices` (relative ``n``)."""
    # frame m is kept iff some k has floor(k*r/F) == m  <=>  ceil(m*F/r) < ceil((m+1)*F/r)
    ratio = fps / src_fps
    p, d = ratio.numerator, ratio.denominator
    return f"lt(floor((n*{p}+{d - 1})/{d}),floor(((n+1)*{p}+{d - 1})/{d}))"


def _scale_filters(max_height: int | None, size: tuple[int, int] | None = None) -> list[Filter]:
    """Even frame sizes for yuv420p: fit inside ``size`` and pad, else cap the height, else round down."""
    if size is not None:  # one frame size for both clips of a pair: fit inside, pad the rest (no distortion)
        w, h = size
        return [
            ("scale", {"w": w, "h": h, "force_original_aspect_ratio": "decrease"}),
            ("pad", {"w": w, "h": h, "x": "(ow-iw)/2", "y": "(oh-ih)/2"}),
            ("setsar", {"sar": 1}),
        ]
    if max_height:
        return [("scale", {"w": -2, "h": f"2*trunc(min(ih,{max_height})/2)"})]
    return [("scale", {"w": "2*trunc(iw/2)", "h": "2*trunc(ih/2)"})]


def _timescale_args(rate: Fraction) -> dict[str, object]:
    """An mp4 track timescale that holds ``rate`` exactly (e.g. 10000000 for JIGSAWS' 10000000/333333).

    ffmpeg's default timescale reduces rates with a large numerator (10000000/333333 became
    999991/33333); integer rates keep ffmpeg's default so their clips stay byte-identical.
    """
    if rate.denominator == 1 or rate.numerator >= 2**31:
        return {}
    scale = rate.numerator * max(1, math.ceil(10000 / rate.numerator))
    return {"video_track_timescale": scale}


def _encode_args(rate: Fraction, crf: int, preset: str, threads: int) -> dict[str, object]:
    """Output options of every trimmed clip: CFR H.264 yuv420p mp4, no other streams or metadata, one
    x264 thread (byte-identical whatever the load). ``None`` values are flags (``-an``)."""
    return {
        "an": None,
        "sn": None,
        "dn": None,
        "map_metadata": -1,
        "c:v": "libx264",
        "preset": preset,
        "crf": crf,
        "pix_fmt": "yuv420p",
        "threads": threads,
        "x264-params": f"threads={threads}:lookahead-threads=1",
        "r": _rate(rate),
        "fps_mode": "cfr",
        "movflags": "+faststart",
        **_timescale_args(rate),
        "format": "mp4",
    }


def trim_command(
    src: Path,
    tmpdir: str | os.PathLike,
    out: str | os.PathLike,
    start: int,
    end: int,
    *,
    rate: Fraction,
    out_rate: Fraction,
    crf: int,
    preset: str,
    threads: int,
    max_height: int | None,
    size: tuple[int, int] | None,
) -> ffmpeg.nodes.OutputStream:
    """The ffmpeg-python graph that writes frames ``[start, end)`` of ``src`` to ``out`` (see :func:`trim`).

    An image folder is read through numbered links made in ``tmpdir``; a video is cut by timestamp after a
    seek (:func:`seek_window`) when its pts identify frames, else by frame number from the first frame.
    """
    filters: list[Filter] = []
    if src.is_dir():
        files = list_frame_files(src)[start:end]
        ext = files[0].suffix.lower()
        for i, f in enumerate(files):
            link = Path(tmpdir) / f"{i:08d}{ext}"
            try:
                link.symlink_to(f.resolve())
            except OSError:
                shutil.copyfile(f, link)
        stream = ffmpeg.input(str(Path(tmpdir) / f"%08d{ext}"), framerate=_rate(rate), start_number=0)
    else:
        window = seek_window(src, start, end)
        if window is None:  # decode from the first frame and count frames
            stream = ffmpeg.input(str(src), threads=threads)
            filters.append(("trim", {"start_frame": start, "end_frame": end}))
        else:  # jump near the first frame, then keep exactly the frames whose time is in the window
            seek, first, last = window
            stream = ffmpeg.input(str(src), threads=threads, copyts=None, ss=f"{seek:.9f}")
            filters += [
                ("select", {"expr": f"between(t,{first:.9f},{last:.9f})"}),
                ("trim", {"end_frame": end - start}),
            ]
        filters.append(("setpts", {"expr": "PTS-STARTPTS"}))
    if out_rate != rate:
        filters.append(("select", {"expr": _select_expr(rate, out_rate)}))
    filters.append(("setpts", {"expr": f"N/({_rate(out_rate)})/TB"}))
    filters += _scale_filters(max_height, size)
    return _chain(stream, filters).output(str(out), **_encode_args(out_rate, crf, preset, threads))


def trim(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    start: int,
    end: int,
    *,
    src_fps: float | Fraction | None = None,
    fps: float | Fraction | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    max_height: int | None = None,
    size: tuple[int, int] | None = None,
    threads: int = 1,
    info: VideoInfo | None = None,
) -> VideoInfo:
    """Cut frames ``[start, end)`` of a video or image folder into a CFR H.264 mp4 at ``dst``.

    Re-encodes (stream copy is not frame-accurate), sets start_time 0, keeps the source rate unless
    ``fps`` asks for a lower one (see :func:`resample_indices`), verifies the written frame count and
    only then renames the file into place. ``src_fps`` is required for image folders. ``size``
    (even width, height) scales every frame to fit inside it and pads the rest (one size for both clips of
    a pair); else ``max_height`` caps the height. ``threads=1``
    keeps x264 output byte-identical whatever the machine's load (parallelism comes from workers).
    """
    src = Path(src)
    info = info or probe(src, fps=src_fps)
    rate = as_fraction(src_fps) if src_fps is not None and src.is_dir() else info.fps
    if not (0 <= start < end <= info.n_frames):
        raise ToolkitError(
            f"trim [{start}, {end}) is outside the clip's {info.n_frames} frames", file=str(src), key="trim"
        )
    out_rate = as_fraction(fps) if fps is not None else rate
    expected = len(resample_indices(end - start, rate, out_rate))
    with (
        tempfile.TemporaryDirectory(prefix="viddiff-trim-") as tmpdir,
        atomic_path(dst, suffix=".mp4") as tmp,
    ):
        command = trim_command(
            src,
            tmpdir,
            tmp,
            start,
            end,
            rate=rate,
            out_rate=out_rate,
            crf=crf,
            preset=preset,
            threads=threads,
            max_height=max_height,
            size=size,
        )
        _run_ffmpeg(command, what=f"trim frames [{start}, {end})", src=str(src), output=str(tmp))
        got = count_frames(tmp)
        if got < expected:
            raise ToolkitError(
                f"source yielded only {got} of the {expected} frames asked for "
                f"[{start}, {end}) (truncated or corrupt video?)",
                file=str(src),
            )
        written = verify_clip(tmp, expected, out_rate, label=str(dst), counted=got)
    return replace(written, path=str(dst))  # measured on the temporary file, renamed into place
