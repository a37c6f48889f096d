"""Frame-exact video I/O: probe, trim, decode and encode, on PyAV and the ffmpeg binary.

Probing and decoding use PyAV; every ffmpeg command line (trim, encode) is built with ffmpeg-python
(``import ffmpeg``) from an input, a chain of named filters and output options, never by hand.

Conventions (README, "Frame conventions"): frame indices are 0-based, ranges half-open ``[start, end)``, and always go
with their fps. A *media* item is a video file or a folder of images ordered by the integer value of the
file stem. Every clip written here is constant-frame-rate H.264 yuv420p with start_time 0, written to a
temporary file, its frame count verified, then renamed into place.

Resampling to a lower fps keeps source frame ``start + floor(k * src_fps / fps)`` as output frame ``k``
(:func:`resample_indices`); the same rule is used by :func:`trim` and :func:`decode`, so a decoded
frame's index always names the source frame it shows.
"""

from __future__ import annotations

import math
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import ffmpeg
import numpy as np
from av.video.reformatter import VideoReformatter

from schemas.errors import ToolkitError
from schemas.io import atomic_path

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


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


@dataclass
class Decoded:
    """Decoded frames as ``[T, H, W, 3]`` uint8 RGB, the source index of each row, and their fps."""

    frames: np.ndarray
    indices: list[int]
    fps: float


# --------------------------------------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg binary: the system one if on PATH (or ``$FFMPEG_BINARY``), else imageio-ffmpeg's."""
    env = os.environ.get("FFMPEG_BINARY")
    if env:
        return env
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


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


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """Image files of a frame folder, ordered by the integer value of the stem (not string order)."""
    folder = Path(folder)
    files = [
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    bad = [p.name for p in files if not p.stem.lstrip("-").isdigit()]
    if bad:
        raise ToolkitError(f"image file name is not an integer frame number: {bad[0]}", file=str(folder))
    return sorted(files, key=lambda p: int(p.stem))


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


def _disk_refusal(returncode: int, stderr: str, output: str) -> ToolkitError | None:
    """ffmpeg stopped because the disk refused its output (full, ``ulimit -f``): one line naming the
    output (the final name, not ``atomic_path``'s temporary), not the source."""
    import errno
    import signal

    from schemas.io import WRITE_ERRNOS
    from schemas.outdir import TEMP_NAME

    if returncode == -signal.SIGXFSZ or "File too large" in stderr:
        why = WRITE_ERRNOS[errno.EFBIG]
    elif "No space left on device" in stderr:
        why = WRITE_ERRNOS[errno.ENOSPC]
    else:
        return None
    out = Path(output)
    if m := TEMP_NAME.match(out.name):
        out = out.with_name(m.group("name"))
    return ToolkitError(
        f"cannot write: {why}; nothing was half-written, free space or fix it and rerun", file=str(out)
    )


Filter = tuple[str, dict[str, object]]
"""One ffmpeg filter as ffmpeg-python takes it: its name and its named options (``("trim", {"end_frame": 9})``).
Named options, not positional ones: ffmpeg-python 0.2.0 escapes positional filter arguments twice."""


def _chain(stream: ffmpeg.nodes.FilterableStream, filters: Sequence[Filter]) -> ffmpeg.nodes.FilterableStream:
    """Apply ``filters`` in order (ffmpeg-python compiles them to one ``-filter_complex`` chain)."""
    for name, options in filters:
        stream = stream.filter(name, **options)
    return stream


def _finish(stream: ffmpeg.nodes.OutputStream) -> ffmpeg.nodes.OutputStream:
    """The toolkit's global options: quiet but for errors, never read the terminal, overwrite (the
    output is always ``atomic_path``'s temporary)."""
    return stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error").overwrite_output()


def ffmpeg_command(stream: ffmpeg.nodes.OutputStream) -> list[str]:
    """The full argv ffmpeg-python compiles for ``stream`` with the toolkit's global options and binary."""
    return _finish(stream).compile(cmd=ffmpeg_exe())


def _ffmpeg_failed(returncode: int, stderr: str, *, what: str, src: str, output: str) -> ToolkitError:
    """One line for a failed ffmpeg run: a disk refusal names ``output``, anything else names ``src``."""
    if (refused := _disk_refusal(returncode, stderr, output)) is not None:
        return refused
    last = (stderr.strip().splitlines() or ["ffmpeg failed"])[-1]
    return ToolkitError(f"ffmpeg could not {what}: {last}", file=src)


def _run_ffmpeg(stream: ffmpeg.nodes.OutputStream, *, what: str, src: str, output: str) -> None:
    """Run the ffmpeg command of ``stream`` to completion; a failure is one ToolkitError line."""
    proc = _finish(stream).run_async(cmd=ffmpeg_exe(), pipe_stdout=True, pipe_stderr=True)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise _ffmpeg_failed(proc.returncode, err.decode(errors="replace"), what=what, src=src, output=output)


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


# ---------------------------------------------------------------------------------------------- probe


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


# ----------------------------------------------------------------------------------------------- trim


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


def _rate(rate: Fraction) -> str:
    """A rate as ffmpeg takes it exactly: ``30000/1001``, ``30/1``."""
    return f"{rate.numerator}/{rate.denominator}"


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
    return VideoInfo(
        str(dst),
        written.fps,
        written.n_frames,
        written.duration,
        written.start_time,
        written.width,
        written.height,
        written.codec,
        written.frames_counted,
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


# --------------------------------------------------------------------------------------------- decode


def _target_size(width: int, height: int, size: int | tuple[int, int] | None) -> tuple[int, int]:
    if size is None:
        return width, height
    if isinstance(size, int):  # short side
        if width <= height:
            return size, max(1, round(height * size / width))
        return max(1, round(width * size / height)), size
    return int(size[0]), int(size[1])


def select_indices(
    n: int,
    rate: Fraction,
    *,
    fps: float | Fraction | None = None,
    max_frames: int | None = None,
    indices: Sequence[int] | None = None,
) -> list[int]:
    """Which source frames :func:`decode` returns: explicit ``indices``, else every frame resampled to
    ``fps``, then thinned evenly to at most ``max_frames`` (first and last kept)."""
    if indices is not None:
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise ToolkitError(f"frame index {bad[0]} is outside the clip's {n} frames", key="indices")
        return list(indices)
    chosen = resample_indices(n, rate, as_fraction(fps) if fps is not None else None)
    if max_frames is not None and len(chosen) > max_frames:
        picks = np.linspace(0, len(chosen) - 1, max_frames).round().astype(int)
        chosen = [chosen[i] for i in picks]
    return chosen


def _decoded_frames(path: Path, wanted: set[int], last: int) -> Iterator[tuple[int, av.VideoFrame]]:
    """Yield ``(index, frame)`` for the wanted indices, decoding in a background thread.

    Decoding (PyAV's codec threads) and the caller's colour conversion then overlap: about 1.5x the
    throughput of doing both in one loop on 2 cores (bench/bench_media.py).
    """
    q: queue.Queue = queue.Queue(maxsize=16)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            with _open(path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for n, frame in enumerate(container.decode(stream)):
                    if stop.is_set():
                        return
                    if n in wanted:
                        q.put((n, frame))
                    if n >= last:
                        break
                else:
                    raise ToolkitError(f"video ended before frame {last} (truncated?)", file=str(path))
        except av.error.FFmpegError as e:
            q.put(
                ToolkitError(f"corrupt or truncated video ({e.strerror or type(e).__name__})", file=str(path))
            )
        except BaseException as e:
            q.put(e)
        finally:
            q.put(done)

    worker = threading.Thread(target=produce, name="viddiff-decode", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # drain so the producer can finish
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()


def decode(
    path: str | os.PathLike,
    *,
    fps: float | Fraction | None = None,
    max_frames: int | None = None,
    size: int | tuple[int, int] | None = None,
    indices: Sequence[int] | None = None,
    src_fps: float | Fraction | None = None,
    info: VideoInfo | None = None,
) -> Decoded:
    """Decode a video or image folder to uint8 RGB ``[T, H, W, 3]``, frame-exact.

    ``fps`` resamples (same rule as :func:`trim`), ``max_frames`` caps the count, ``size`` is a short
    side or ``(width, height)``, ``indices`` picks explicit frames. ``Decoded.indices[i]`` is the source
    index of row ``i``. ``info``: this file's :func:`probe` result when the caller already has it.
    """
    path = Path(path)
    info = info or probe(path, fps=src_fps if path.is_dir() else None)
    wanted = select_indices(info.n_frames, info.fps, fps=fps, max_frames=max_frames, indices=indices)
    out_fps = float(as_fraction(fps)) if fps is not None and indices is None else float(info.fps)
    width, height = _target_size(info.width, info.height, size)
    frames = np.empty((len(wanted), height, width, 3), dtype=np.uint8)
    if not wanted:
        return Decoded(frames, [], out_fps)
    if path.is_dir():
        from PIL import Image

        files = list_frame_files(path)
        for row, idx in enumerate(wanted):
            with Image.open(files[idx]) as im:
                im = im.convert("RGB")
                if im.size != (width, height):
                    im = im.resize((width, height), Image.BILINEAR)
                frames[row] = np.asarray(im)
        return Decoded(frames, wanted, out_fps)

    rows_for: dict[int, list[int]] = {}
    for row, idx in enumerate(wanted):
        rows_for.setdefault(idx, []).append(row)
    reformatter = (
        VideoReformatter()
    )  # one swscale context for the whole clip (a new one per frame is 1.7x slower)
    for n, frame in _decoded_frames(path, set(rows_for), max(wanted)):
        arr = reformatter.reformat(frame, format="rgb24", width=width, height=height).to_ndarray()
        for row in rows_for[n]:
            frames[row] = arr
    return Decoded(frames, wanted, out_fps)


# --------------------------------------------------------------------------------------------- encode

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
    return VideoInfo(
        str(dst),
        written.fps,
        written.n_frames,
        written.duration,
        written.start_time,
        written.width,
        written.height,
        written.codec,
        True,
    )
