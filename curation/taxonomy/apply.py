"""Applying taxonomies to a dataset: fill every sample's ``differences_annotated`` from its action's taxonomy."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from curation.taxonomy.checks import raise_on_errors
from curation.taxonomy.keys import sorted_keys
from curation.taxonomy.store import taxonomy_path
from schemas.dataset_dir import diff_key_order as key_order
from schemas.dataset_dir import load_dataset, save_dataset

#: Fields of a difference copied into a sample's ``differences_annotated``.
ANNOTATED_FIELDS = ("name", "description", "query_string", "num_frames", "keypoints")


def annotated_differences(tax: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """``differences_annotated`` for every row of the action: active entries, retired -> null, drafts left out."""
    out: dict[str, dict[str, Any] | None] = {}
    for k in sorted_keys(tax["differences"]):
        d = tax["differences"][k]
        if d["status"] == "retired":
            out[k] = None
        elif d["status"] == "active":
            out[k] = {f: d[f] for f in ANNOTATED_FIELDS if f in d}
    return out


@dataclass
class ApplyReport:
    """What ``apply`` did: rows updated per action, actions without a taxonomy, and warnings."""

    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"{a}: {n} row(s) updated, {self.unchanged.get(a, 0)} unchanged"
            for a, n in sorted(self.updated.items())
        ]
        lines += [f"{a}: no taxonomy file, rows left as they are" for a in self.missing]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines) or "nothing to apply"


def apply_taxonomies(root: str | os.PathLike, actions: Iterable[str] | None = None) -> ApplyReport:
    """Fill ``differences_annotated`` of every sample from its action's taxonomy (``differences_gt`` untouched).

    Rows of actions without a taxonomy file are left as they are and reported. Everything is
    validated first, then ``samples.jsonl`` and ``dataset.json`` are written atomically.
    """
    ds = load_dataset(root)
    wanted = (
        set(actions) if actions is not None else {s["action"] for s in ds.samples} | set(ds.meta["actions"])
    )
    report = ApplyReport()
    taxes: dict[str, dict[str, Any]] = {}
    for action in sorted(wanted):
        path = taxonomy_path(root, action)  # also refuses action keys that are not file names
        tax = ds.taxonomy(action)
        if tax is None:
            report.missing.append(action)
            continue
        raise_on_errors(tax, file=str(path))
        taxes[action] = tax
        drafts = [k for k, d in tax["differences"].items() if d["status"] == "draft"]
        if drafts:
            report.warnings.append(
                f"{action}: {len(drafts)} draft difference(s) not applied (accept them first)"
            )
    for row in ds.samples:
        tax = taxes.get(row["action"])
        if tax is None:
            continue
        new = annotated_differences(tax)
        stray = sorted(set(row.get("differences_gt") or {}) - set(new), key=key_order)
        if stray:
            report.warnings.append(
                f"{row['sample_key']}: differences_gt has key(s) {', '.join(stray)} that the "
                f"{row['action']} taxonomy does not apply"
            )
        if row.get("differences_annotated") == new:
            report.unchanged[row["action"]] = report.unchanged.get(row["action"], 0) + 1
            report.updated.setdefault(row["action"], 0)
            continue
        row["differences_annotated"] = new
        report.updated[row["action"]] = report.updated.get(row["action"], 0) + 1
    if taxes:
        meta = ds.meta.setdefault("meta", {})
        versions = dict(meta.get("taxonomy_versions") or {})
        versions.update({a: t["version"] for a, t in taxes.items()})
        meta["taxonomy_versions"] = versions
    if taxes:  # rows are only ever updated for an action with a taxonomy
        save_dataset(ds.root, ds.meta, ds.samples)
    return report
