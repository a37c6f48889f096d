"""The public VidDiffBench row: columns, feature types, and conversion to and from a dataset row.

The release stores nested fields (``videos``, ``differences_annotated``, ``differences_gt``,
``retrieval_frames``) as JSON strings; a dataset directory keeps them as JSON objects. This module is
the one place that converts between the two, in both directions, so that publish and import-release
agree exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets

from schemas.dataset_dir import open_prediction_budget, row_sample_hash
from schemas.errors import ToolkitError

#: Columns of the public release, in its order; the nested ones hold JSON strings.
PUBLIC_COLUMNS = (
    "sample_key",
    "videos",
    "action",
    "action_name",
    "action_description",
    "source_dataset",
    "sample_hash",
    "split",
    "domain",
    "differences_annotated",
    "differences_gt",
    "n_differences_open_prediction",
    "retrieval_frames",
)
JSON_COLUMNS = ("videos", "differences_annotated", "differences_gt", "retrieval_frames")
THUMBNAIL_COLUMNS = ("vid0_thumbnail", "vid1_thumbnail")
#: Extra columns written by ``publish --videos embed``: the clip bytes (Video feature, not decoded).
EMBED_COLUMNS = ("vid0_video", "vid1_video")
#: Name of video ``i`` inside a published folder (and inside the embedded Video column).
VIDEO_NAMES = ("a.mp4", "b.mp4")


def features(embed: bool) -> datasets.Features:
    """The ``datasets`` feature types of a published row (thumbnails are images; videos optional)."""
    cols: dict[str, Any] = {
        "sample_key": datasets.Value("string"),
        "vid0_thumbnail": datasets.Image(),
        "vid1_thumbnail": datasets.Image(),
        "videos": datasets.Value("string"),
        "action": datasets.Value("string"),
        "action_name": datasets.Value("string"),
        "action_description": datasets.Value("string"),
        "source_dataset": datasets.Value("string"),
        "sample_hash": datasets.Value("int64"),
        "split": datasets.Value("string"),
        "domain": datasets.Value("string"),
        "differences_annotated": datasets.Value("string"),
        "differences_gt": datasets.Value("string"),
        "n_differences_open_prediction": datasets.Value("int64"),
        "retrieval_frames": datasets.Value("string"),
    }
    if embed:
        cols.update({c: datasets.Video(decode=False) for c in EMBED_COLUMNS})
    return datasets.Features(cols)


def hub_video_path(sample_key: str, index: int) -> str:
    """Where video ``index`` of a pair lives inside a published folder (POSIX, relative)."""
    return f"videos/{sample_key}/{VIDEO_NAMES[index]}"


def trim_range(trim: list | None, n_frames: int) -> range:
    """The frame indices ``slice(*frames_trim)`` selects from a clip of ``n_frames`` (missing items are None)."""
    return range(*slice(*(list(trim or []) + [None] * 3)[:3]).indices(n_frames))


def _trim3(trim: list | None, n_frames: int | None) -> list:
    trim = list(trim) if trim else [0, n_frames, None]
    return (trim + [None] * 3)[:3]


def public_video(video: dict[str, Any], path: str) -> dict[str, Any]:
    """The release's video dict (``path``, ``fps_original``, ``frames_trim``) plus what the toolkit
    knows (``n_frames``, ``sha256``, ``source``); readers of the release ignore the extras."""
    out = {
        "path": path,
        "fps_original": video["fps_original"],
        "frames_trim": _trim3(video.get("frames_trim"), video.get("n_frames")),
    }
    for key in ("n_frames", "sha256", "source"):
        if video.get(key) is not None:
            out[key] = video[key]
    return out


def to_public(row: dict[str, Any], videos: list[dict[str, Any]]) -> dict[str, Any]:
    """A dataset row as a public record (no thumbnails yet); ``videos`` are the public video dicts."""
    return {
        "sample_key": row["sample_key"],
        "videos": json.dumps(videos),
        "action": row["action"],
        "action_name": row.get("action_name") or "",
        "action_description": row.get("action_description") or "",
        "source_dataset": row.get("source_dataset") or "",
        "sample_hash": row_sample_hash(row),
        "split": row.get("split"),
        "domain": row["domain"],
        "differences_annotated": json.dumps(row.get("differences_annotated")),
        "differences_gt": json.dumps(row.get("differences_gt")),
        "n_differences_open_prediction": row["n_differences_open_prediction"],
        "retrieval_frames": json.dumps(row.get("retrieval_frames")),
    }


def _loads(record: dict[str, Any], column: str, where: str) -> Any:
    value = record.get(column)
    if value is None or not isinstance(value, (str, bytes)):
        return value  # already decoded (a reader with a Json feature) or absent
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise ToolkitError(f"not a JSON string: {e.msg}", file=where, key=column) from None


def from_public(record: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Decode a public record into dataset-row fields (videos keep the release's path and trim).

    Accepts v2 rows and v1 rows (v1 kept the domain in ``split`` and had no ``domain`` or
    ``n_differences_open_prediction``). ``where`` names the file and row for errors.
    """
    for col in ("sample_key", "videos", "action"):
        if record.get(col) in (None, ""):
            raise ToolkitError("missing value", file=where, key=col)
    videos = _loads(record, "videos", where)
    if not isinstance(videos, list) or len(videos) != 2:
        raise ToolkitError("expected a list of 2 video dicts", file=where, key="videos")
    for i, v in enumerate(videos):
        for k in ("path", "fps_original"):
            if not isinstance(v, dict) or v.get(k) in (None, ""):
                raise ToolkitError("missing value", file=where, key=f"videos[{i}].{k}")
    gt = _loads(record, "differences_gt", where)
    domain, split = record.get("domain"), record.get("split")
    if not domain:  # v1: the domain lived in `split`
        domain, split = split, None
    n_diff = record.get("n_differences_open_prediction")
    if n_diff is None:
        n_diff = open_prediction_budget(gt)
    row = {
        "sample_key": str(record["sample_key"]),
        "action": record["action"],
        "action_name": record.get("action_name") or "",
        "action_description": record.get("action_description") or "",
        "domain": domain or "unknown",
        "split": split,
        "source_dataset": record.get("source_dataset") or "",
        "videos": videos,
        "differences_annotated": _loads(record, "differences_annotated", where),
        "differences_gt": gt,
        "n_differences_open_prediction": int(n_diff),
        "retrieval_frames": _loads(record, "retrieval_frames", where),
    }
    if record.get("sample_hash") is not None:
        row["sample_hash"] = int(record["sample_hash"])
    return row


MEDIA_COLUMN_SUFFIXES = ("_thumbnail", "_video")


def iter_public_records(files: list[Path], *, media: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(where, record)`` for every row of published parquet files, in small batches.

    ``where`` is ``"<file>:row <n>"`` (1-based) for error messages. ``media=False`` skips the thumbnail
    and embedded-video columns (readers that only need the labels never load the clips' bytes).
    """
    import pyarrow.parquet as pq

    for f in files:
        try:
            pf = pq.ParquetFile(f)
        except Exception as e:
            raise ToolkitError(f"not a readable parquet file: {e}", file=str(f)) from None
        columns = (
            None if media else [c for c in pf.schema_arrow.names if not c.endswith(MEDIA_COLUMN_SUFFIXES)]
        )
        n = 0
        for batch in pf.iter_batches(batch_size=8, columns=columns):
            for rec in batch.to_pylist():
                n += 1
                yield f"{f}:row {n}", rec
