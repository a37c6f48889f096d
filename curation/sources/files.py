"""Media helpers the adapters share: listing and checking image folders, reading image sizes, probing videos.

Probing is PyAV's (:mod:`viddiff_runtime.media`); what makes a folder or file unusable is raised as a
:class:`~curation.sources.records.FolderProblem` or returned as a
:class:`~curation.sources.records.Skip`, with its reason class as data.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from curation.sources.records import FolderProblem, Skip
from schemas.errors import ToolkitError
from viddiff_runtime.media.folders import BadFrameName


def list_images(folder: Path) -> list[Path]:
    """Image files of a frame folder in integer-stem order (delegates to :mod:`viddiff_runtime.media`)."""
    from viddiff_runtime.media import list_frame_files

    return list_frame_files(folder)


def image_folder(folder: Path, *, step: int | None) -> tuple[list[Path], list[int]]:
    """List a frame folder and check its frame numbers; returns ``(files, ids)``.

    Raises :class:`FolderProblem` (the reason to skip the folder) when it cannot be used. ``step``: the
    expected difference between consecutive frame numbers (HuMMan Recon 6, FineDiving 1); ``None`` accepts
    any increasing numbering.
    """
    try:
        files = list_images(folder)
    except BadFrameName as e:
        raise FolderProblem(e.reason, e.name) from None
    if not files:
        raise FolderProblem("image folder is empty")
    ids = [int(p.stem) for p in files]
    dup = [a for a, b in zip(ids, ids[1:]) if a == b]
    if dup:
        raise FolderProblem(
            "image folder has two files for a frame", why=f"image folder has two files for frame {dup[0]}"
        )
    if step is not None:
        gaps = [(a, b) for a, b in zip(ids, ids[1:]) if b - a != step]
        if gaps:
            a, b = gaps[0]
            raise FolderProblem(
                "image folder with gaps",
                f"frame {b} follows {a} (expected step {step}; "
                f"{len(gaps)} gap{'s' if len(gaps) > 1 else ''})",
                bad_media=True,
            )
    return files, ids


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image from its header, or None when unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        return None


@dataclass
class Probed:
    """The measured facts of a video file that a clip record needs."""

    fps: float
    n_frames: int
    width: int
    height: int
    codec: str


def probe_videos(
    paths: Iterable[Path], *, on_error: str = "error", source: str = "", workers: int = 8
) -> tuple[dict[Path, Probed], list[Skip]]:
    """Probe video files in parallel (threads) with a progress bar.

    Returns the probed facts by path and, with ``on_error="skip"``, the unreadable files and why; with
    ``on_error="error"`` the first unreadable file raises its one-line :class:`ToolkitError`.
    """
    from viddiff_runtime.media import probe

    paths = list(dict.fromkeys(paths))
    out: dict[Path, Probed] = {}
    bad: list[Skip] = []

    def one(p: Path) -> tuple[Path, Probed | ToolkitError]:
        try:
            info = probe(p)
        except ToolkitError as e:
            return p, e
        return p, Probed(float(info.fps), int(info.n_frames), info.width, info.height, info.codec)

    if not paths:
        return out, bad
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(paths)))) as pool:
        results = pool.map(one, paths)
        for p, res in tqdm(
            results, total=len(paths), desc=f"probe {source}".strip(), unit="video", disable=None, leave=False
        ):
            if isinstance(res, ToolkitError):
                if on_error == "error":
                    raise res
                bad.append(Skip(str(p), "unreadable video", res.message, bad_media=True))
            else:
                out[p] = res
    return out, bad
