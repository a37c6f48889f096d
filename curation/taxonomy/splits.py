"""Difficulty splits per action: an LLM ranks each action easy / medium / hard, people can override.

As in the benchmark, one call sees every action's description, its taxonomy (names and statements)
and its median clip length, and returns a split and a reason per action; it is told not to treat the
number of differences as difficulty. The result goes to ``dataset.json`` (``actions.<key>.split``,
``split_reason``, ``split_origin: "llm"``) and to every sample's ``split``. ``--set ACTION=SPLIT``
is a manual override (``split_origin: "manual"``) that later LLM runs keep unless forced.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from curation.taxonomy.keys import sorted_keys
from schemas.dataset_dir import DatasetDir, load_dataset, save_dataset
from schemas.errors import ToolkitError
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.request import LLMRequest

SPLITS = ("easy", "medium", "hard")
MAX_REASON = 500

SPLITS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["actions"],
    "properties": {
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["action", "split", "reason"],
                "properties": {
                    "action": {"type": "string"},
                    "split": {"enum": list(SPLITS)},
                    "reason": {"type": "string"},
                },
            },
        }
    },
}

SYSTEM = "You design benchmarks of fine-grained visual comparison between two videos of the same action."

PROMPT = """Below are the actions of a video action differencing benchmark. For each action, a model sees two \
videos of people performing it and must say which video each listed difference is more true of.
Assign each action to a difficulty split: easy, medium or hard, with a one-sentence reason. Judge how hard the \
differences are to see and to localize in time: how subtle or fine-grained they are, how long the clips are, \
and how much the camera view varies. Do not treat the number of differences as difficulty. Return every action \
key exactly as given.

{actions}"""


@dataclass
class SplitReport:
    """Per action: the split set and where it came from; notes on odd answers."""

    assigned: dict[str, tuple[str, str]] = field(default_factory=dict)  # action -> (split, origin)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples_updated: int = 0

    def __str__(self) -> str:
        lines = [f"{a}: {s} ({o})" for a, (s, o) in sorted(self.assigned.items())]
        lines += [f"{a}: kept (manual override; use --force to re-rank)" for a in self.kept]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"{self.samples_updated} sample row(s) updated")
        return "\n".join(lines)


def median_clip_seconds(ds: DatasetDir, action: str) -> float | None:
    """Median length in seconds of the action's stored clips (from ``n_frames`` or ``frames_trim``)."""
    lengths = []
    for row in ds.samples:
        if row["action"] != action:
            continue
        for v in row["videos"]:
            n = v.get("n_frames")
            if n is None:
                start, end = (v.get("frames_trim") or [None, None])[:2]
                n = (end - (start or 0)) if end is not None else None
            if n:
                lengths.append(n / v["fps_original"])
    return round(statistics.median(lengths), 2) if lengths else None


def action_differences(ds: DatasetDir, action: str) -> list[tuple[str, str]]:
    """(name, statement) of the action's live differences: from its taxonomy file, else from its rows."""
    tax = ds.taxonomy(action)
    if tax is not None:
        return [
            (tax["differences"][k]["name"], tax["differences"][k]["description"])
            for k in sorted_keys(tax["differences"])
            if tax["differences"][k]["status"] == "active"
        ]
    for row in ds.samples:
        if row["action"] == action and row.get("differences_annotated"):
            da = row["differences_annotated"]
            return [(da[k]["name"], da[k]["description"]) for k in sorted_keys(da) if da[k] is not None]
    return []


def _describe(ds: DatasetDir, action: str) -> str:
    a = ds.meta["actions"][action]
    secs = median_clip_seconds(ds, action)
    diffs = action_differences(ds, action)
    lines = [
        f"action key: {action}",
        f"name: {a.get('name', action)}",
        f"description: {a.get('description', '')}",
        f"median clip length: {f'{secs} s' if secs is not None else 'unknown'}",
        "differences:",
    ]
    lines += [f"  - {n}: {d}" for n, d in diffs] or ["  (none yet)"]
    return "\n".join(lines)


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``["fitness_0=hard", ...]`` -> ``{"fitness_0": "hard"}``; bad items are one-line errors."""
    out = {}
    for p in pairs:
        action, sep, split = p.partition("=")
        if not sep or not action.strip():
            raise ToolkitError(f"expected ACTION=SPLIT, got {p!r}", key="--set")
        if split.strip() not in SPLITS:
            raise ToolkitError(f"split {split!r} must be one of {', '.join(SPLITS)}", key="--set")
        out[action.strip()] = split.strip()
    return out


def assign_splits(
    root: str | os.PathLike,
    *,
    client: LLMClient | None = None,
    model: str | None = None,
    overrides: dict[str, str] | None = None,
    force: bool = False,
    actions: Iterable[str] | None = None,
) -> SplitReport:
    """Rank actions with the LLM (when ``client`` is given), apply manual ``overrides``, write the dataset.

    Actions whose split was set by hand are not re-ranked unless ``force``. Everything is validated
    before ``dataset.json`` and ``samples.jsonl`` are written (atomically).
    """
    ds = load_dataset(root)
    known = ds.meta["actions"]
    overrides = dict(overrides or {})
    for a in list(overrides) + list(actions or []):
        if a not in known:
            raise ToolkitError(
                f"unknown action {a!r}; dataset actions: {', '.join(sorted(known))}",
                file=str(ds.root / "dataset.json"),
                key="actions",
            )
    report = SplitReport()
    wanted = sorted(actions) if actions is not None else sorted(known)
    if client is not None:
        if not model:
            raise ToolkitError("no model given for split assignment", key="--model")
        todo = []
        for a in wanted:
            if a in overrides:
                continue
            if known[a].get("split_origin") == "manual" and not force:
                report.kept.append(a)
            else:
                todo.append(a)
        if todo:
            answer = client.complete(
                LLMRequest(
                    stage="splits",
                    model=model,
                    system=SYSTEM,
                    schema=SPLITS_SCHEMA,
                    schema_name="splits",
                    prompt=PROMPT.format(actions="\n\n".join(_describe(ds, a) for a in todo)),
                )
            )
            seen: set[str] = set()
            for item in answer.get("actions") or []:
                a = str(item.get("action", "")).strip()
                if a not in todo:
                    report.notes.append(f"answer names unknown action {a[:60]!r}, ignored")
                    continue
                if a in seen:
                    report.notes.append(f"answer lists {a} twice; the first one kept")
                    continue
                seen.add(a)
                reason = " ".join(str(item.get("reason") or "").split())
                if not reason:
                    report.notes.append(f"{a}: no reason given")
                elif len(reason) > MAX_REASON:
                    report.notes.append(f"{a}: reason cut to {MAX_REASON} characters")
                    reason = reason[: MAX_REASON - 1] + "…"
                known[a].update(split=item["split"], split_reason=reason or None, split_origin="llm")
                report.assigned[a] = (item["split"], "llm")
            for a in todo:
                if a not in seen:
                    report.notes.append(f"the answer has no split for {a}; left as {known[a].get('split')!r}")
    for a, split in overrides.items():
        known[a].update(split=split, split_reason="set by hand", split_origin="manual")
        report.assigned[a] = (split, "manual")
    for row in ds.samples:
        split = known.get(row["action"], {}).get("split")
        if split is not None and row.get("split") != split:
            row["split"] = split
            report.samples_updated += 1
    save_dataset(ds.root, ds.meta, ds.samples)
    return report
