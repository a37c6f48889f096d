"""What a run reads from a dataset's rows: an action's keypoints and the differences a closed run predicts."""

from __future__ import annotations

from typing import Any

from schemas.dataset_dir import DatasetDir, diff_key_order


def sample_keypoints(ds: DatasetDir, action: str, samples: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Keypoints of an action: its taxonomy's active keypoints, else the loc_ids in retrieval_frames."""
    tax = ds.taxonomy(action)
    if tax is not None:
        return {
            k: {"name": v.get("name", k), "description": v.get("description", ""), "stage": v.get("stage")}
            for k, v in tax["keypoints"].items()
            if v.get("status", "active") == "active"
        }
    keys: dict[str, dict[str, Any]] = {}
    for s in samples:
        for locs in s.get("retrieval_frames") or []:
            for k in locs or {}:
                keys.setdefault(k, {"name": k, "description": k, "stage": None})
    return keys


def closed_differences(sample: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sample's differences to predict in closed mode: every non-null ground-truth key."""
    gt = sample.get("differences_gt") or {}
    ann = sample.get("differences_annotated") or {}
    return {k: ann[k] for k in sorted(gt, key=diff_key_order) if gt[k] is not None and ann.get(k)}
