"""Read one action's taxonomy (differences, keypoints, stages) for building label configs.

The taxonomy commands (another package) write ``DATASET/taxonomies/<action>.json``; this is a small,
read-only loader validated against ``schemas/taxonomy.schema.json``. When an action has no taxonomy file
the differences come from the rows' ``differences_annotated`` and the keypoints from the rows'
``retrieval_frames`` keys, so a released dataset (which has no taxonomy files) can still be annotated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.dataset_dir import DatasetDir, diff_key_order
from schemas.errors import ToolkitError


@dataclass
class ActionTaxonomy:
    """What annotators label for one action: active differences, keypoints (``loc_id``) and stages."""

    action: str
    differences: dict[str, dict[str, Any]]
    keypoints: dict[str, dict[str, Any]]
    stages: list[dict[str, Any]] = field(default_factory=list)
    source: str = "samples"

    @property
    def stage_names(self) -> list[str]:
        """Stage names in order."""
        return [s["name"] for s in self.stages]


def load_action_taxonomy(ds: DatasetDir, action: str) -> ActionTaxonomy:
    """The taxonomy of ``action``: from its taxonomy file when present, else derived from the rows.

    Only ``active`` differences and keypoints (no status means active) are kept, in key order.
    """
    tax = ds.taxonomy(action)
    if tax is not None:
        diffs = {k: v for k, v in tax["differences"].items() if v.get("status", "active") == "active"}
        kps = {k: v for k, v in tax["keypoints"].items() if v.get("status", "active") == "active"}
        return ActionTaxonomy(
            action,
            dict(sorted(diffs.items(), key=lambda kv: diff_key_order(kv[0]))),
            kps,
            list(tax["stages"]),
            source=str(ds.taxonomy_path(action)),
        )
    rows = [s for s in ds.samples if s["action"] == action]
    if not rows:
        raise ToolkitError(f"no samples of action {action!r}", file=str(ds.root))
    diffs: dict[str, dict[str, Any]] = {}
    kps: dict[str, dict[str, Any]] = {}
    for row in rows:
        for k, v in (row.get("differences_annotated") or {}).items():
            if v is not None:
                diffs.setdefault(k, v)
                for loc in v.get("keypoints") or []:
                    kps.setdefault(loc, {"name": loc, "description": ""})
        for per_video in row.get("retrieval_frames") or []:
            for loc in per_video:
                kps.setdefault(loc, {"name": loc, "description": ""})
    return ActionTaxonomy(
        action, dict(sorted(diffs.items(), key=lambda kv: diff_key_order(kv[0]))), kps, [], source="samples"
    )
