"""The ffmpeg binary, and command lines built with ffmpeg-python: filter chains, the toolkit's global
options, running a command and turning its failure into one ToolkitError line."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import ffmpeg

from schemas.errors import ToolkitError


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


def _rate(rate: Fraction) -> str:
    """A rate as ffmpeg takes it exactly: ``30000/1001``, ``30/1``."""
    return f"{rate.numerator}/{rate.denominator}"
