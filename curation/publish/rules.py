"""Publishing rules taken from the public VidDiffBench release (viddiff_3 ``update_dataset.py``).

* ``n_differences_open_prediction = ceil(1.5 x labelled differences)`` where "labelled" counts every
  non-null label, 'c' included (as the release does): :func:`schemas.dataset_dir.open_prediction_budget`,
  recomputed at publish time;
* rows labelled only 'c'/null carry nothing to score in the closed task and are dropped;
* optional A/B balancing within a split: swap the two videos of some pairs (thumbnails and
  retrieval_frames follow the videos) and flip a<->b, so that a and b labels are about equally common.

Everything here works on plain sample rows (the dataset directory's shape) and returns new rows.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]

FLIP = {"a": "b", "b": "a"}


def labels(row: Row) -> list[str]:
    """The non-null labels of a row (``differences_gt`` values that are a, b or c)."""
    gt = row.get("differences_gt") or {}
    return [v for v in gt.values() if v is not None]


def annotation_state(row: Row) -> str:
    """``"unannotated"`` (no taxonomy or no label at all), ``"c_only"`` (labels, but none a/b) or ``"ok"``."""
    if not row.get("differences_annotated") or not labels(row):
        return "unannotated"
    if not any(v in ("a", "b") for v in labels(row)):
        return "c_only"
    return "ok"


def ab_counts(row: Row) -> tuple[int, int]:
    """How many differences of the row are labelled a and b."""
    values = labels(row)
    return values.count("a"), values.count("b")


def flip_sample(row: Row) -> Row:
    """The same pair with A and B swapped: videos and retrieval_frames swap, a<->b labels flip."""
    out = copy.deepcopy(row)
    out["videos"] = [out["videos"][1], out["videos"][0]]
    if out.get("retrieval_frames"):
        out["retrieval_frames"] = [out["retrieval_frames"][1], out["retrieval_frames"][0]]
    if out.get("differences_gt"):
        out["differences_gt"] = {k: FLIP.get(v, v) for k, v in out["differences_gt"].items()}
    return out


@dataclass
class SplitBalance:
    """What balancing did to one split: a/b counts before and after, and the swapped pairs."""

    split: str
    a_before: int
    b_before: int
    a_after: int
    b_after: int
    swapped: list[str] = field(default_factory=list)


def balance_splits(rows: list[Row]) -> tuple[list[Row], list[SplitBalance]]:
    """Swap A/B of some pairs so that each split has about as many a as b labels.

    Greedy and deterministic: within a split, rows are visited in file order and a row is swapped when
    that strictly shrinks the split's ``|#a - #b|`` (the release swapped the first easy rows with more b
    than a the same way). Returns the new rows (same order) and one :class:`SplitBalance` per split.
    """
    out = list(rows)
    by_split: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_split[str(row.get("split"))].append(i)
    report = []
    for split in sorted(by_split):
        idx = by_split[split]
        a0 = sum(ab_counts(rows[i])[0] for i in idx)
        b0 = sum(ab_counts(rows[i])[1] for i in idx)
        diff = a0 - b0
        swapped = []
        for i in idx:
            a, b = ab_counts(rows[i])
            new = diff - 2 * (a - b)
            if abs(new) < abs(diff):
                out[i] = flip_sample(rows[i])
                swapped.append(rows[i]["sample_key"])
                diff = new
        a1 = sum(ab_counts(out[i])[0] for i in idx)
        b1 = sum(ab_counts(out[i])[1] for i in idx)
        report.append(SplitBalance(split, a0, b0, a1, b1, swapped))
    return out, report
