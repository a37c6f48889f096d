"""Label Studio task data for a video pair: local-file URLs plus fps and frame counts of the stored clips.

The fps and frame counts are measured from the stored clips (``viddiff_runtime.media.probe``), never taken from
Label Studio's default of 24 fps, because TimelineLabels frames are only meaningful with the right fps.

Every task also carries the fingerprint of its inputs (:func:`task_inputs`): ``inputs``, a sha256 over
exactly what the task shows (each clip's path, sha256, frame count and fps from ``samples.jsonl``, and what
the label config asks for the action), and ``inputs_parts``, the same per clip and for the taxonomy, so a
re-push and a pull can tell which tasks are stale and say why (:func:`inputs_change`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from schemas.dataset_dir import DatasetDir, content_hash, sha256_file
from schemas.errors import ToolkitError
from viddiff_runtime import media

LOCAL_FILES_PREFIX = "/data/local-files/?d="


def media_root_from_env(media_root: str | os.PathLike | None = None) -> Path:
    """The local-files document root: the argument, else ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``."""
    root = media_root or os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
    if not root:
        raise ToolkitError(
            "no media root: pass --media-root or set LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT "
            "(the folder `curate annotate serve --media-root` serves)",
            key="--media-root",
        )
    return Path(root).resolve()


def relative_to_root(path: str | os.PathLike, media_root: Path) -> str:
    """``path`` relative to ``media_root`` (POSIX); an error if it is not strictly inside it."""
    path = Path(path).resolve()
    try:
        rel = path.relative_to(media_root)
    except ValueError:
        raise ToolkitError(
            f"is not under the Label Studio media root {media_root}; serve with a --media-root "
            "that contains the dataset",
            file=str(path),
        ) from None
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


def task_data(
    ds: DatasetDir,
    sample: dict[str, Any],
    media_root: Path,
    composite: Path | None = None,
    inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Task data of one pair: ``sample_key, action, video_a, video_b, fps_a, fps_b, n_frames_a, n_frames_b``.

    With ``composite`` (a side-by-side clip) also ``video_ab, fps_ab, n_frames_ab``; with ``inputs`` (from
    :func:`task_inputs`) also the fingerprint fields.
    """
    data: dict[str, Any] = {"sample_key": sample["sample_key"], "action": sample["action"]}
    if inputs is not None:
        data.update(inputs)
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


def clip_fingerprint(ds: DatasetDir, sample: dict[str, Any], index: int) -> str:
    """sha256 over what a task shows of clip ``index``: its path, sha256, frame count and fps.

    Taken from the row's ``videos[index]`` (no probing); a row without ``sha256`` gets the file's.
    """
    v = sample["videos"][index]
    sha = v.get("sha256") or sha256_file(ds.video_path(sample, index))
    return content_hash(
        {"path": v["path"], "sha256": sha, "n_frames": v.get("n_frames"), "fps": v.get("fps_original")}
    )


def taxonomy_fingerprint(label_config_xml: str) -> str:
    """sha256 over what a label config asks (differences and statements, or keypoints and stages), not its
    layout: a composite player or a larger video leaves it unchanged."""
    from annotation.results import config_meaning

    return content_hash(config_meaning(label_config_xml))


def task_inputs(ds: DatasetDir, sample: dict[str, Any], taxonomy: str) -> dict[str, Any]:
    """The fingerprint fields of one pair's task: ``inputs`` (the whole) and ``inputs_parts`` (``clip_a``,
    ``clip_b`` and ``taxonomy``, from :func:`taxonomy_fingerprint`), so a change can be named."""
    parts = {
        "clip_a": clip_fingerprint(ds, sample, 0),
        "clip_b": clip_fingerprint(ds, sample, 1),
        "taxonomy": taxonomy,
    }
    return {"inputs": content_hash(parts), "inputs_parts": parts}


def inputs_change(data: dict[str, Any], inputs: dict[str, Any], kind: str) -> str | None:
    """What changed between the inputs a task was pushed with (its ``data``) and ``inputs`` now, in words
    (``"A and B swapped"``, ``"clip B changed"``, ``"differences changed"``...), or None if nothing did.

    A task pushed before fingerprints existed has none: None (push stamps it, see ``annotation/push.py``).
    """
    old = data.get("inputs")
    if old is None or old == inputs["inputs"]:
        return None
    was = data.get("inputs_parts") if isinstance(data.get("inputs_parts"), dict) else {}
    now = inputs["inputs_parts"]
    what = []
    if (
        was.get("clip_a") == now["clip_b"]
        and was.get("clip_b") == now["clip_a"]
        and now["clip_a"] != now["clip_b"]
    ):
        what.append("A and B swapped")
    else:
        sides = [s.upper() for s in "ab" if was.get(f"clip_{s}") != now[f"clip_{s}"]]
        if sides:
            what.append(f"clip {sides[0]} changed" if len(sides) == 1 else "clips changed")
    if was.get("taxonomy") != now["taxonomy"]:
        what.append(
            "differences or statements changed" if kind == "differences" else "keypoints or stages changed"
        )
    return ", ".join(what) or "inputs changed"
