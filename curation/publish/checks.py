"""Is a dataset directory fit to publish? Every reason it is not, listed, before anything is written.

Checks each row against the sample schema, each stored clip against the sha256 recorded in its row
(missing or altered videos), and each row's annotation state (unannotated rows). Rows labelled only
'c' are not a problem: the publishing rules drop them (see :mod:`curation.publish.rules`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from curation.publish.rules import annotation_state
from schemas import validate
from schemas.dataset_dir import SAMPLES_JSONL, DatasetDir, load_dataset, sha256_file


@dataclass(frozen=True)
class Problem:
    """One reason a row cannot be published: which row, what kind, and a one-line message."""

    sample_key: str | None
    kind: str  # "schema" | "duplicate" | "video_missing" | "video_altered" | "unannotated"
    message: str

    def __str__(self) -> str:
        return f"{self.sample_key or '?'}: {self.message}"


@dataclass
class Review:
    """The outcome of :func:`review_dataset`: the dataset, rows fit to publish, and the problems."""

    dataset: DatasetDir
    ok: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    c_only: list[str] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)  # resolved video path -> digest


def _check_videos(ds: DatasetDir, row: dict[str, Any], sums: dict[str, str]) -> list[Problem]:
    problems = []
    key = row["sample_key"]
    for i, video in enumerate(row["videos"]):
        path = ds.video_path(row, i)
        where = f"videos[{i}].path"
        if not path.is_file():
            problems.append(Problem(key, "video_missing", f"{where}: video file not found: {path}"))
            continue
        digest = sha256_file(path)
        sums[str(path)] = digest
        if video.get("sha256") and video["sha256"] != digest:
            problems.append(
                Problem(
                    key,
                    "video_altered",
                    f"{where}: {path} does not match videos[{i}].sha256 (altered since the build)",
                )
            )
    return problems


def review_dataset(root: str | os.PathLike, *, progress: bool = True) -> Review:
    """Load ``root`` without stopping at the first bad row, and list every reason not to publish.

    A broken ``dataset.json`` still raises at once (nothing can be published without it).
    """
    ds = load_dataset(root, validate_rows=False)
    review = Review(dataset=ds)
    samples_file = Path(root) / SAMPLES_JSONL
    seen: set[str] = set()
    for line, row in enumerate(
        tqdm(ds.samples, desc="checking samples", unit="pair", disable=not progress), 1
    ):
        key = row.get("sample_key") if isinstance(row, dict) else None
        errors = validate("sample", row)
        if errors:
            path, msg = errors[0]
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            review.problems.append(Problem(key, "schema", f"{samples_file}:{line}: {path}: {msg}{more}"))
            continue
        if key in seen:
            review.problems.append(Problem(key, "duplicate", f"{samples_file}:{line}: duplicate sample_key"))
            continue
        seen.add(key)
        row_problems = _check_videos(ds, row, review.sha256)
        state = annotation_state(row)
        if state == "unannotated":
            row_problems.append(
                Problem(key, "unannotated", "differences_gt: no a/b/c label (unannotated row)")
            )
        if row_problems:
            review.problems.extend(row_problems)
        elif state == "c_only":
            review.c_only.append(key)
        else:
            review.ok.append(row)
    return review
