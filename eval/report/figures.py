"""The report's plots (per-action accuracy and recall, localization hit rates and errors) from the runs'
metrics; drawn by ``eval/report/plots.py``."""

from __future__ import annotations

from typing import Any

from eval.report import plots
from eval.report.runs import Run

MAX_KEYPOINT_BARS = 40


def figures(runs: list[Run]) -> list[dict[str, Any]]:
    """The report's plots as ``{id, title, png}``; only those with data."""
    out = []
    closed = {r.name: r.metrics["closed"]["by_action"] for r in runs if r.metrics.get("closed")}
    if any(closed.values()):
        out.append(
            {
                "id": "closed_by_action",
                "title": "Closed accuracy per action",
                "png": plots.action_accuracy_bars(closed),
            }
        )
    opened = {r.name: r.metrics["open"]["by_action"] for r in runs if r.metrics.get("open")}
    if any(opened.values()):
        out.append(
            {
                "id": "open_by_action",
                "title": "Open recall per action",
                "png": plots.action_accuracy_bars(opened, field="recall", title="Open recall per action"),
            }
        )
    errors: dict[str, list[float]] = {}
    kps: dict[str, dict[str, Any]] = {}
    n_kp = len({k for r in runs for k in (r.metrics.get("localization") or {}).get("by_keypoint", {})})
    by = "by_keypoint" if n_kp <= MAX_KEYPOINT_BARS else "by_action"  # keep the chart readable
    for r in runs:
        m = r.metrics.get("localization")
        if not m:
            continue
        its = r.items.get("localization") or []
        errors[r.name] = [it["err_seconds"] for it in its if it.get("err_seconds") is not None]
        kps[r.name] = m.get(by) or {}
        hh = m.get("human_vs_human")
        if hh:
            kps.setdefault("human vs human", hh.get(by) or {})
            human = r.items.get("human")
            if human and "human vs human" not in errors:
                errors["human vs human"] = [
                    it["err_seconds"] for it in human if it.get("err_seconds") is not None
                ]
    if any(errors.values()):
        out.append(
            {
                "id": "loc_hits",
                "title": "Localization hit rate vs tolerance",
                "png": plots.hit_rate_curves(errors),
            }
        )
    if any(kps.values()):
        what = "keypoint" if by == "by_keypoint" else "action"
        out.append(
            {
                "id": "loc_keypoints",
                "title": f"Localization error per {what}",
                "png": plots.keypoint_error_bars(kps, title=f"Localization error per {what}"),
            }
        )
    return out
