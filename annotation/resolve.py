"""Resolve several annotators' labels into one label per item, and whose labels an annotation holds.

An annotation's labels belong to the user who **last changed** it (``updated_by``, else ``completed_by``):
a second annotator who opens the first one's annotation and presses *Update* has changed it. The creator
is kept as ``created_by`` in ``labels.jsonl`` when it is someone else.

Resolution rule (one label per item), in order:

1. a named **reviewer** who labelled the item wins;
2. else an annotation marked **ground truth** in Label Studio wins (if those agree);
3. else **agreement**: a/b/c needs a strict majority of the item's annotators (2 annotators: both agree);
   a keypoint needs every annotator's frame within ``tolerance`` frames (max - min), keeping the lower
   median; a stage span needs a strict majority of identical spans. One annotator is trivially agreement;
4. else the item is **unresolved**: written as null and listed, never guessed.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from annotation.configs import KEY_PREFIX
from annotation.results import Problem, config_items
from schemas.dataset_dir import DatasetDir, open_prediction_budget
from schemas.errors import ToolkitError
from schemas.io import read_json

if TYPE_CHECKING:
    from annotation.convert import ConvertReport

DEFAULT_TOLERANCE = 2
RESOLUTION_RULE = (
    "labels belong to the user who last changed the annotation (updated_by, else completed_by); "
    "reviewer > Label Studio ground-truth annotation > agreement (a/b/c: strict majority; "
    "keypoint: all frames within tolerance, lower median; stage: strict majority) > unresolved (null)"
)


def users_map(ds: DatasetDir) -> dict[str, str]:
    """``{"user:<id>": email}`` saved by the last pull (empty offline)."""
    path = ds.root / "annotation" / "users.json"
    return read_json(path) if path.exists() else {}


def reviewer_id(reviewer: str | None, users: dict[str, str]) -> str | None:
    """Normalise ``--reviewer`` (``user:3``, ``3`` or an e-mail known from a pull) to ``user:<id>``."""
    if not reviewer:
        return None
    if reviewer.startswith("user:"):
        return reviewer
    if reviewer.isdigit():
        return f"user:{reviewer}"
    for uid, email in users.items():
        if email == reviewer:
            return uid
    raise ToolkitError(
        f"unknown reviewer {reviewer!r}: give the Label Studio user id (e.g. 3) or run `curate "
        "annotate pull` once so e-mails are known",
        key="--reviewer",
    )


def resolve(
    values: dict[str, Any], *, reviewer: str | None, ground_truth: set[str], tolerance: int | None = None
) -> tuple[Any, str]:
    """One value from several annotators' ``values`` by the module's rule; returns ``(value, rule)``."""
    if reviewer and reviewer in values:
        return values[reviewer], "reviewer"
    gt_values = [values[a] for a in sorted(ground_truth) if a in values]
    if gt_values and all(v == gt_values[0] for v in gt_values):
        return gt_values[0], "ground_truth"
    vals = list(values.values())
    if len(vals) == 1:
        return vals[0], "single"
    if tolerance is not None:  # keypoint frames
        ordered = sorted(vals)
        if ordered[-1] - ordered[0] <= tolerance:
            return ordered[(len(ordered) - 1) // 2], "agreement"
        return None, "unresolved"
    counts: dict[Any, int] = defaultdict(int)
    for v in vals:
        counts[v] += 1
    best, n = max(counts.items(), key=lambda kv: kv[1])
    if n * 2 > len(vals):
        return best, "agreement"
    return None, "unresolved"


def apply_labels(row, kind, config, parsed, data, rev, tolerance, report: ConvertReport):
    """One task's labels resolved into a copy of ``row``; returns it and the ``resolved.jsonl`` rows
    (rules, unresolved items and problems are counted in ``report``)."""
    diff_keys, timelines = config_items(config)
    gt_annotators = {p.annotator for p in parsed if p.ground_truth}
    new_row = copy.deepcopy(row)
    resolved_rows = []

    def settle(item: dict, values: dict, tol=None):
        value, rule = resolve(values, reviewer=rev, ground_truth=gt_annotators, tolerance=tol)
        report.rules[rule] = report.rules.get(rule, 0) + 1
        rec = {
            "sample_key": row["sample_key"],
            "action": row["action"],
            **item,
            "value": value,
            "rule": rule,
            "n_annotators": len(values),
        }
        if rule == "unresolved":
            report.unresolved.append({**rec, "values": values})
        else:
            report.resolved += 1
        resolved_rows.append(rec)
        return value

    if kind == "differences":
        annotated = row.get("differences_annotated") or {}
        gt = dict(row.get("differences_gt") or {})
        for k, v in annotated.items():
            gt.setdefault(k, None)
        for k in diff_keys:
            values = {p.annotator: p.choices[k] for p in parsed if k in p.choices}
            if not values:
                continue
            if annotated.get(k) is None:
                report.problems.append(
                    Problem(
                        row["sample_key"],
                        f"diff_{k}",
                        "difference is labelled but is not in "
                        "the row's differences_annotated (run the taxonomy apply step)",
                    )
                )
                continue
            gt[k] = settle({"item": "difference", "diff_key": k}, values)
        new_row["differences_gt"] = gt
        new_row["n_differences_open_prediction"] = open_prediction_budget(gt)
    else:
        frames = copy.deepcopy(row.get("retrieval_frames")) or [{}, {}]
        for i, side in enumerate("ab"):
            labels = timelines.get(f"tl_{side}", [])
            for label in labels:
                name = label.split(":", 1)[1]
                if label.startswith(KEY_PREFIX):
                    values = {
                        p.annotator: p.keypoints[(side, name)] for p in parsed if (side, name) in p.keypoints
                    }
                    if values:
                        idx = settle(
                            {"item": "keypoint", "video": side, "name": name, "fps": data[f"fps_{side}"]},
                            values,
                            tolerance,
                        )
                        frames[i][name] = None if idx is None else [idx]
                else:
                    values = {p.annotator: p.stages[(side, name)] for p in parsed if (side, name) in p.stages}
                    if values:
                        settle(
                            {"item": "stage", "video": side, "name": name, "fps": data[f"fps_{side}"]}, values
                        )
        new_row["retrieval_frames"] = frames
    return new_row, resolved_rows
