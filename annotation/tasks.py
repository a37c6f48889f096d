"""Label Studio task data for a video pair: local-file URLs plus fps and frame counts of the stored clips.

The fps and frame counts are measured from the stored clips (``viddiff_runtime.media.probe``), never taken from
Label Studio's default of 24 fps, because TimelineLabels frames are only meaningful with the right fps.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from viddiff_runtime import media
from schemas.dataset_dir import DatasetDir
from schemas.errors import ToolkitError

LOCAL_FILES_PREFIX = "/data/local-files/?d="


def media_root_from_env(media_root: str | os.PathLike | None = None) -> Path:
    """The local-files document root: the argument, else ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``."""
    root = media_root or os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
    if not root:
        raise ToolkitError("no media root: pass --media-root or set LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT "
                           "(the folder `curate annotate serve --media-root` serves)", key="--media-root")
    return Path(root).resolve()


def relative_to_root(path: str | os.PathLike, media_root: Path) -> str:
    """``path`` relative to ``media_root`` (POSIX); an error if it is not strictly inside it."""
    path = Path(path).resolve()
    try:
        rel = path.relative_to(media_root)
    except ValueError:
        raise ToolkitError(f"is not under the Label Studio media root {media_root}; serve with a --media-root "
                           "that contains the dataset", file=str(path)) from None
    if not rel.parts:
        raise ToolkitError("must be strictly inside the media root", file=str(path))
    return rel.as_posix()


def local_file_url(path: str | os.PathLike, media_root: Path) -> str:
    """The URL Label Studio serves a local file under ``media_root`` at (relative, needs login)."""
    return LOCAL_FILES_PREFIX + quote(relative_to_root(path, media_root), safe="/")


def clip_info(path: Path) -> tuple[float, int]:
    """``(fps, n_frames)`` of a stored clip, measured from the file."""
    info = media.probe(path)
    return float(info.fps), int(info.n_frames)


def task_data(ds: DatasetDir, sample: dict[str, Any], media_root: Path,
              composite: Path | None = None) -> dict[str, Any]:
    """Task data of one pair: ``sample_key, action, video_a, video_b, fps_a, fps_b, n_frames_a, n_frames_b``.

    With ``composite`` (a side-by-side clip) also ``video_ab, fps_ab, n_frames_ab``.
    """
    data: dict[str, Any] = {"sample_key": sample["sample_key"], "action": sample["action"]}
    for i, side in enumerate("ab"):
        path = ds.video_path(sample, i)
        if not path.exists():
            raise ToolkitError("stored clip not found", file=str(path), key=f"videos[{i}].path")
        fps, n = clip_info(path)
        data[f"video_{side}"] = local_file_url(path, media_root)
        data[f"fps_{side}"] = fps
        data[f"n_frames_{side}"] = n
    if composite is not None:
        data.update(composite_data(composite, media_root))
    return data


def composite_data(composite: Path, media_root: Path) -> dict[str, Any]:
    """``video_ab, fps_ab, n_frames_ab`` of a side-by-side clip (also added to tasks pushed without one)."""
    fps, n = clip_info(composite)
    return {"video_ab": local_file_url(composite, media_root), "fps_ab": fps, "n_frames_ab": n}
