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

from viddiff_runtime.media.check import check_frames, verify_clip
from viddiff_runtime.media.decode import Decoded, decode, select_indices
from viddiff_runtime.media.encode import write_frames
from viddiff_runtime.media.ffmpeg_cli import Filter, ffmpeg_command, ffmpeg_exe
from viddiff_runtime.media.folders import IMAGE_EXTENSIONS, BadFrameName, list_frame_files
from viddiff_runtime.media.probe import VideoInfo, count_frames, probe
from viddiff_runtime.media.rates import as_fraction, fmt_fps, resample_indices
from viddiff_runtime.media.trim import frame_times, seek_window, trim, trim_command

__all__ = [
    "IMAGE_EXTENSIONS",
    "BadFrameName",
    "Decoded",
    "Filter",
    "VideoInfo",
    "as_fraction",
    "check_frames",
    "count_frames",
    "decode",
    "ffmpeg_command",
    "ffmpeg_exe",
    "fmt_fps",
    "frame_times",
    "list_frame_files",
    "probe",
    "resample_indices",
    "seek_window",
    "select_indices",
    "trim",
    "trim_command",
    "verify_clip",
    "write_frames",
]
