"""Checking a taxonomy: schema errors, stage/keypoint links and key rules; near-duplicates as warnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation.taxonomy.dups import DEFAULT_DUP_THRESHOLD, near_duplicates
from schemas import validate
from schemas.dataset_dir import diff_key_order as key_order
from schemas.errors import ToolkitError


@dataclass
class Issue:
    """One finding of :func:`check_taxonomy`: a JSON path, a message and ``error`` or ``warning``."""

    path: str
    message: str
    level: str = "error"

    def __str__(self) -> str:
        return f"{self.level}: {self.path}: {self.message}"


def check_taxonomy(tax: Any, *, dup_threshold: float = DEFAULT_DUP_THRESHOLD) -> list[Issue]:
    """Every problem of a taxonomy: schema errors, then links and key rules; near-duplicates as warnings."""
    issues = [Issue(p, m) for p, m in validate("taxonomy", tax)]
    if issues:
        return issues
    stage_names = [s["name"] for s in tax["stages"]]
    seen: set[str] = set()
    for i, name in enumerate(stage_names):
        if name in seen:
            issues.append(Issue(f"$.stages[{i}].name", f"duplicate stage name {name!r}"))
        seen.add(name)
    for loc, kp in tax["keypoints"].items():
        if kp.get("stage") is not None and kp["stage"] not in stage_names:
            issues.append(Issue(f"$.keypoints.{loc}.stage", f"unknown stage {kp['stage']!r}"))
    next_key = tax.get("next_key")
    diffs = tax["differences"]
    for k, d in diffs.items():
        if next_key is not None and int(k) >= next_key:
            issues.append(
                Issue(f"$.differences.{k}", f"key is not below next_key {next_key} (keys are never reused)")
            )
        for j, loc in enumerate(d.get("keypoints") or []):
            if loc not in tax["keypoints"]:
                issues.append(Issue(f"$.differences.{k}.keypoints[{j}]", f"unknown keypoint {loc!r}"))
        m = d.get("merged_into")
        if m is not None:
            if m not in diffs or m == k:
                issues.append(Issue(f"$.differences.{k}.merged_into", f"no difference {m!r} to merge into"))
            elif d["status"] != "retired":
                issues.append(
                    Issue(
                        f"$.differences.{k}.merged_into", "set on a difference that is not retired", "warning"
                    )
                )
    for a, b, score in near_duplicates(tax, threshold=dup_threshold):
        issues.append(
            Issue(
                f"$.differences.{b}",
                f"near-duplicate of {a} ({score:.0f}%): {diffs[a]['name']!r} ~ {diffs[b]['name']!r}",
                "warning",
            )
        )
    drafts = [k for k, d in diffs.items() if d["status"] == "draft"]
    if drafts:
        issues.append(
            Issue(
                "$.differences",
                f"{len(drafts)} draft difference(s) await accept/retire: "
                f"{', '.join(sorted(drafts, key=key_order))}",
                "warning",
            )
        )
    return issues


def raise_on_errors(tax: Any, file: str | None = None) -> None:
    """Raise a one-line error for the first error-level issue (warnings pass)."""
    errs = [i for i in check_taxonomy(tax) if i.level == "error"]
    if errs:
        more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise ToolkitError(errs[0].message + more, file=file, key=errs[0].path)
