"""What every evaluator reads: the ground truth (a dataset directory or a published Hub-layout folder).

Both inputs become one :class:`EvalData`: the rows in the VidDiffBench shape (nested values decoded),
plus where the clips and the annotation folder are, and each clip's fps and length in frames. The
published folder (``README.md`` + ``data/test-*.parquet``) stores ``videos``, ``differences_annotated``,
``differences_gt`` and ``retrieval_frames`` as JSON strings, exactly like the public release; they are
decoded here, and a cell that is not valid JSON is a one-line error naming the file, row and column.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.dataset_dir import DATASET_JSON, SAMPLES_JSONL, load_dataset
from schemas.errors import ToolkitError


@dataclass
class EvalData:
    """Ground truth for evaluation: rows in file order, and where their media lives."""

    source: Path
    kind: str  # "dataset_dir" | "hub_folder"
    rows: list[dict[str, Any]]
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def by_key(self) -> dict[str, dict[str, Any]]:
        """Rows by ``sample_key``."""
        return {r["sample_key"]: r for r in self.rows}

    @property
    def annotation_dir(self) -> Path:
        """``DATASET/annotation`` (may not exist)."""
        return self.source / "annotation"

    def video_path(self, row: dict[str, Any], index: int) -> Path | None:
        """Absolute path of clip ``index`` (0 = A, 1 = B), or None when it is not on disk."""
        rel = row["videos"][index].get("path")
        if not rel:
            return None
        p = Path(rel) if os.path.isabs(rel) else self.source / rel
        return p.resolve() if p.exists() else None

    def fingerprint(self) -> str:
        """sha256 of the ground truth the metrics depend on (labels, descriptions, timestamps, clip info)."""
        h = hashlib.sha256()
        for r in self.rows:
            keep = {
                k: r.get(k)
                for k in (
                    "sample_key",
                    "action",
                    "split",
                    "domain",
                    "differences_gt",
                    "differences_annotated",
                    "retrieval_frames",
                    "n_differences_open_prediction",
                )
            }
            keep["clips"] = [(v.get("fps_original"), clip_length(v)) for v in r["videos"]]
            h.update(json.dumps(keep, sort_keys=True).encode())
        return h.hexdigest()


def clip_fps(video: dict[str, Any]) -> float:
    """The stored clip's frame rate (``fps_original``: the rate of the media at ``path``)."""
    return float(video["fps_original"])


def clip_length(video: dict[str, Any]) -> int | None:
    """Frames in the stored clip: ``n_frames``, else the ``frames_trim`` slice length, else None."""
    if video.get("n_frames"):
        return int(video["n_frames"])
    trim = video.get("frames_trim") or []
    if len(trim) >= 2 and isinstance(trim[0], int) and isinstance(trim[1], int):
        step = trim[2] if len(trim) > 2 and trim[2] else 1
        return max(0, math.ceil((trim[1] - trim[0]) / step))
    return None


def load_eval_data(path: str | os.PathLike) -> EvalData:
    """Load ground truth from a dataset directory or a published folder (``data/*.parquet``)."""
    root = Path(path)
    if not root.exists():
        raise ToolkitError("dataset not found", file=str(root))
    if (root / DATASET_JSON).exists():
        if not (root / SAMPLES_JSONL).is_file():
            raise ToolkitError(
                "no samples.jsonl: the dataset has no pairs to score (build or import it first)",
                file=str(root / SAMPLES_JSONL),
            )
        ds = load_dataset(root)
        return EvalData(
            source=root,
            kind="dataset_dir",
            rows=ds.samples,
            name=ds.meta.get("name", root.name),
            meta=ds.meta,
        )
    files = sorted((root / "data").glob("test-*.parquet")) or sorted((root / "data").glob("*.parquet"))
    if files:
        return EvalData(source=root, kind="hub_folder", rows=_read_parquet_rows(files), name=root.name)
    raise ToolkitError(
        "neither a dataset directory (dataset.json) nor a published folder (data/test-*.parquet)",
        file=str(root),
    )


def _read_parquet_rows(files: list[Path]) -> list[dict[str, Any]]:
    """Decode published rows with the same converter ``curate publish``/``import-release`` use (v1 and v2)."""
    from schemas.public import from_public, iter_public_records

    rows = [from_public(rec, where=where) for where, rec in iter_public_records(files, media=False)]
    keys = [r["sample_key"] for r in rows]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ToolkitError(f"duplicate sample_key {dup!r}", file=str(files[0].parent))
    return rows


def gt_labels(row: dict[str, Any]) -> dict[str, str]:
    """The row's non-null ground-truth labels ``{diff_key: "a"|"b"|"c"}``."""
    return {k: v for k, v in (row.get("differences_gt") or {}).items() if v is not None}


def gt_description(row: dict[str, Any], key: str) -> str | None:
    """The taxonomy statement of ``key`` for this row, or None when it was removed (null)."""
    entry = (row.get("differences_annotated") or {}).get(key)
    return entry.get("description") if entry else None
