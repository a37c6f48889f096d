"""Difference taxonomies: one versioned JSON file per action, curated by key.

A taxonomy (``DATASET/taxonomies/<action>.json``, schema ``taxonomy``) lists an action's ordered
stages, its keypoints ``{loc_id: {name, description, stage}}`` and its differences
``{key: {name, description, query_string, num_frames, keypoints, status, origin}}``. Difference
keys are strings of integers that are never reused or deleted (``next_key`` remembers the next
one): a retired difference keeps its key and becomes ``null`` in the samples'
``differences_annotated``. Every save validates the file, copies the previous version to
``taxonomies/history/<action>.v<N>.json`` and bumps ``version``.

This module holds the data operations (load, check, save, accept/retire/merge/edit, near-duplicate
flags, diff, apply); proposals by an LLM live in :mod:`curation.taxonomy.propose` and the CSV
format in :mod:`curation.taxonomy.csv_io`.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import check, validate
from schemas.dataset_dir import DATASET_JSON, load_dataset, load_taxonomy, save_dataset
from schemas.dataset_dir import diff_key_order as key_order
from schemas.errors import ToolkitError
from schemas.ids import check_id
from schemas.io import read_json, write_json

TAXONOMY_DIR = "taxonomies"
HISTORY_DIR = "history"
DIFF_FIELDS = ("name", "description", "query_string", "num_frames", "keypoints")
#: Fields of a difference copied into a sample's ``differences_annotated``.
ANNOTATED_FIELDS = ("name", "description", "query_string", "num_frames", "keypoints")
DEFAULT_DUP_THRESHOLD = 90.0


@dataclass
class Issue:
    """One finding of :func:`check_taxonomy`: a JSON path, a message and ``error`` or ``warning``."""

    path: str
    message: str
    level: str = "error"

    def __str__(self) -> str:
        return f"{self.level}: {self.path}: {self.message}"


def next_free_key(tax: dict[str, Any]) -> int:
    """The lowest key above every key ever used: ``next_key``, raised past the keys present."""
    return max([tax.get("next_key") or 0] + [int(k) + 1 for k in tax["differences"]])


def sorted_keys(differences: dict[str, Any]) -> list[str]:
    """Difference keys in numeric order."""
    return sorted(differences, key=key_order)


def taxonomy_path(root: str | os.PathLike, action: str) -> Path:
    """``ROOT/taxonomies/<action>.json``."""
    check_id(action, what="action")  # schemas/ids.py: the one safe-identifier rule
    return Path(root) / TAXONOMY_DIR / f"{action}.json"


def history_path(root: str | os.PathLike, action: str, version: int) -> Path:
    """Where version ``version`` of an action's taxonomy is kept once superseded."""
    return Path(root) / TAXONOMY_DIR / HISTORY_DIR / f"{action}.v{version}.json"


def new_taxonomy(action: str, name: str = "", description: str = "") -> dict[str, Any]:
    """An empty, valid taxonomy for ``action`` (version 0 until first saved)."""
    return {
        "action": action,
        "name": name or action,
        "description": description,
        "version": 0,
        "status": "accepted",
        "stages": [],
        "keypoints": {},
        "differences": {},
        "next_key": 0,
        "history": [],
    }


def load_or_create(root: str | os.PathLike, action: str) -> dict[str, Any]:
    """The action's taxonomy, or a new one named from ``dataset.json`` when there is no file yet."""
    path = taxonomy_path(root, action)
    if path.exists():
        tax = load_taxonomy(path)
        if tax["action"] != action:
            raise ToolkitError(
                f"file is for action {tax['action']!r}, expected {action!r}", file=str(path), key="$.action"
            )
        return tax
    meta_path = Path(root) / DATASET_JSON
    if meta_path.exists():
        actions = read_json(meta_path).get("actions", {})
        if action not in actions:
            raise ToolkitError(
                f"unknown action {action!r}; dataset actions: {', '.join(sorted(actions)) or 'none'}",
                file=str(meta_path),
                key="actions",
            )
        a = actions[action]
        return new_taxonomy(action, a.get("name", action), a.get("description", ""))
    return new_taxonomy(action)


def list_actions(root: str | os.PathLike) -> list[str]:
    """Actions that have a taxonomy file under ``root``."""
    d = Path(root) / TAXONOMY_DIR
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


# -- checking -----------------------------------------------------------------------------------
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


_ORDINAL = re.compile(r"^(\d+(st|nd|rd|th)?|first|second|third|fourth|last|left|right|one|two|three)$")


def _only_ordinals_differ(a: str, b: str) -> bool:
    """True when two texts differ only by numbers/ordinals/sides ("shot 1" vs "shot 2"): distinct items."""
    ta, tb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    diff = (ta - tb) | (tb - ta)
    return bool(ta - tb) and bool(tb - ta) and all(_ORDINAL.match(t) for t in diff)


def similarity(a: dict[str, Any], b: dict[str, Any]) -> float:
    """0-100 text similarity of two differences: the highest of name, statement and statement-subset scores.

    Texts that differ only by a number, ordinal or side ("... shot 1" / "... shot 2") count as distinct (0).
    """
    from rapidfuzz import fuzz, utils

    if _only_ordinals_differ(a.get("name", ""), b.get("name", "")) or _only_ordinals_differ(
        a.get("description", ""), b.get("description", "")
    ):
        return 0.0
    da, db = a.get("description", ""), b.get("description", "")
    return max(
        fuzz.token_sort_ratio(a.get("name", ""), b.get("name", ""), processor=utils.default_process),
        fuzz.token_sort_ratio(da, db, processor=utils.default_process),
        # one statement containing the other ("the movement is deeper" / "the squat movement is deeper")
        fuzz.token_set_ratio(da, db, processor=utils.default_process),
    )


def near_duplicates(
    tax: dict[str, Any],
    *,
    threshold: float = DEFAULT_DUP_THRESHOLD,
    statuses: Iterable[str] = ("active", "draft"),
) -> list[tuple[str, str, float]]:
    """Pairs ``(key_a, key_b, score)`` of live differences whose texts are at least ``threshold`` similar."""
    statuses = set(statuses)
    live = [
        (k, tax["differences"][k])
        for k in sorted_keys(tax["differences"])
        if tax["differences"][k]["status"] in statuses
    ]
    out = []
    for i, (ka, a) in enumerate(live):
        for kb, b in live[i + 1 :]:
            s = similarity(a, b)
            if s >= threshold:
                out.append((ka, kb, s))
    return out


# -- saving with history ------------------------------------------------------------------------
def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _content(tax: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tax.items() if k not in ("version", "history")}


def save_taxonomy(root: str | os.PathLike, tax: dict[str, Any], *, op: str, detail: str = "") -> bool:
    """Validate and write ``tax`` as the next version, keeping the previous one under ``history/``.

    Refuses to drop a difference key that the previous version had (retire it instead) and to lower
    ``next_key``. Returns False (and writes nothing) when nothing changed.
    """
    path = taxonomy_path(root, tax["action"])
    tax = copy.deepcopy(tax)
    tax["next_key"] = next_free_key(tax)
    drafts = any(d["status"] == "draft" for d in tax["differences"].values()) or any(
        kp.get("status") == "draft" for kp in tax["keypoints"].values()
    )
    tax["status"] = "draft" if drafts else "accepted"
    tax["differences"] = {k: tax["differences"][k] for k in sorted_keys(tax["differences"])}
    old = load_taxonomy(path) if path.exists() else None
    if old is not None:
        gone = sorted(set(old["differences"]) - set(tax["differences"]), key=key_order)
        if gone:
            raise ToolkitError(
                f"difference key(s) {', '.join(gone)} would be removed; keys are never removed or "
                f"reused, retire them instead",
                file=str(path),
                key="$.differences",
            )
        if tax["next_key"] < old.get("next_key", 0):
            tax["next_key"] = old["next_key"]
        if _content(old) == _content(tax):
            return False
        tax["version"] = old["version"] + 1
        tax["history"] = list(old.get("history") or [])
    else:
        tax["version"] = max(1, tax.get("version") or 0)
        tax.setdefault("history", [])
    tax["history"].append({"version": tax["version"], "time": _now(), "op": op, "detail": detail[:500]})
    check("taxonomy", tax, file=str(path))
    raise_on_errors(tax, file=str(path))
    if old is not None:
        write_json(history_path(root, tax["action"], old["version"]), old)
    write_json(path, tax)
    return True


# -- curation by key ----------------------------------------------------------------------------
def _need(tax: dict[str, Any], key: str) -> dict[str, Any]:
    if key not in tax["differences"]:
        raise ToolkitError(
            f"no difference with key {key!r} (keys: {', '.join(sorted_keys(tax['differences']))})",
            key=f"$.differences.{key}",
        )
    return tax["differences"][key]


def add_difference(
    tax: dict[str, Any],
    entry: dict[str, Any],
    *,
    status: str = "draft",
    origin: str = "manual",
    key: str | None = None,
) -> str:
    """Add a difference under a fresh key (or the given unused ``key``); returns its key."""
    if key is None:
        key = str(next_free_key(tax))
    elif key in tax["differences"]:
        raise ToolkitError(f"key {key!r} already exists; keys are never reused", key=f"$.differences.{key}")
    d = {f: entry[f] for f in DIFF_FIELDS if f in entry}
    d.setdefault("query_string", d.get("description", ""))
    d.setdefault("keypoints", [])
    d.update(status=status, origin=entry.get("origin", origin))
    tax["differences"][key] = d
    tax["next_key"] = max(tax.get("next_key") or 0, int(key) + 1)
    return key


def accept(tax: dict[str, Any], keys: Iterable[str] | None = None) -> list[str]:
    """Make draft differences active (all drafts when ``keys`` is None); their draft keypoints too."""
    keys = (
        [k for k, d in tax["differences"].items() if d["status"] == "draft"] if keys is None else list(keys)
    )
    done = []
    for k in keys:
        d = _need(tax, k)
        if d["status"] == "retired":
            raise ToolkitError(
                "is retired; retired keys stay retired (add a new difference instead)",
                key=f"$.differences.{k}",
            )
        if d["status"] != "active":
            d["status"] = "active"
            done.append(k)
        for loc in d.get("keypoints") or []:
            kp = tax["keypoints"].get(loc)
            if kp is not None and kp.get("status") == "draft":
                kp["status"] = "active"
    return sorted(done, key=key_order)


def accept_keypoints(tax: dict[str, Any], locs: Iterable[str] | None = None) -> list[str]:
    """Make draft keypoints active (all when ``locs`` is None)."""
    locs = (
        [l for l, kp in tax["keypoints"].items() if kp.get("status") == "draft"]
        if locs is None
        else list(locs)
    )
    for loc in locs:
        if loc not in tax["keypoints"]:
            raise ToolkitError(f"no keypoint {loc!r}", key=f"$.keypoints.{loc}")
        tax["keypoints"][loc]["status"] = "active"
    return locs


def retire(tax: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """Retire differences: they keep their key and become null in ``differences_annotated``."""
    done = []
    for k in keys:
        d = _need(tax, k)
        if d["status"] != "retired":
            d["status"] = "retired"
            done.append(k)
    return done


def merge(
    tax: dict[str, Any], keep: str, others: Iterable[str], *, description: str | None = None
) -> list[str]:
    """Merge ``others`` into ``keep``: they are retired with ``merged_into``; their keypoints join ``keep``'s."""
    target = _need(tax, keep)
    if target["status"] == "retired":
        raise ToolkitError("cannot merge into a retired difference", key=f"$.differences.{keep}")
    merged = []
    for k in others:
        if k == keep:
            raise ToolkitError("cannot merge a difference into itself", key=f"$.differences.{k}")
        d = _need(tax, k)
        for loc in d.get("keypoints") or []:
            if loc not in target.setdefault("keypoints", []):
                target["keypoints"].append(loc)
        d["status"] = "retired"
        d["merged_into"] = keep
        merged.append(k)
    if description is not None:
        target["description"] = description
    return merged


def edit(tax: dict[str, Any], key: str, **changes: Any) -> dict[str, tuple[Any, Any]]:
    """Change fields of one difference; returns ``{field: (old, new)}`` for what actually changed."""
    d = _need(tax, key)
    out = {}
    for f, v in changes.items():
        if v is None:
            continue
        if f not in DIFF_FIELDS:
            raise ToolkitError(
                f"field {f!r} cannot be edited (editable: {', '.join(DIFF_FIELDS)})",
                key=f"$.differences.{key}",
            )
        if f == "keypoints":
            unknown = [l for l in v if l not in tax["keypoints"]]
            if unknown:
                raise ToolkitError(
                    f"unknown keypoint(s) {', '.join(unknown)}", key=f"$.differences.{key}.keypoints"
                )
        if d.get(f) != v:
            out[f] = (d.get(f), v)
            d[f] = v
    return out


# -- diff ---------------------------------------------------------------------------------------
def diff_taxonomies(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two taxonomies: differences added/removed/changed (per field), keypoints, stages."""
    od, nd = old["differences"], new["differences"]
    changed = {}
    for k in sorted_keys({**od, **nd}):
        if k in od and k in nd:
            fields = {
                f: (od[k].get(f), nd[k].get(f))
                for f in sorted(set(od[k]) | set(nd[k]))
                if od[k].get(f) != nd[k].get(f)
            }
            if fields:
                changed[k] = fields
    ok, nk = old["keypoints"], new["keypoints"]
    return {
        "versions": (old.get("version"), new.get("version")),
        "added": [k for k in sorted_keys(nd) if k not in od],
        "removed": [k for k in sorted_keys(od) if k not in nd],
        "changed": changed,
        "keypoints_added": sorted(set(nk) - set(ok)),
        "keypoints_removed": sorted(set(ok) - set(nk)),
        "keypoints_changed": sorted(l for l in set(ok) & set(nk) if ok[l] != nk[l]),
        "stages": ([s["name"] for s in old["stages"]], [s["name"] for s in new["stages"]]),
        "meta_changed": sorted(f for f in ("action", "name", "description") if old.get(f) != new.get(f)),
    }


def format_diff(d: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> str:
    """Human-readable lines for :func:`diff_taxonomies` output (``+`` added, ``-`` removed, ``~`` changed)."""
    lines = [f"version {d['versions'][0]} -> {d['versions'][1]}"]
    for f in d["meta_changed"]:
        lines.append(f"~ {f}: {old.get(f)!r} -> {new.get(f)!r}")
    if d["stages"][0] != d["stages"][1]:
        lines.append(
            f"~ stages: {' > '.join(d['stages'][0]) or '(none)'}  ->  {' > '.join(d['stages'][1]) or '(none)'}"
        )
    for k in d["added"]:
        lines.append(f"+ {k} [{new['differences'][k]['status']}] {new['differences'][k]['name']}")
    for k in d["removed"]:
        lines.append(f"- {k} {old['differences'][k]['name']}")
    for k, fields in d["changed"].items():
        for f, (a, b) in fields.items():
            lines.append(f"~ {k}.{f}: {a!r} -> {b!r}")
    for l in d["keypoints_added"]:
        lines.append(f"+ keypoint {l}")
    for l in d["keypoints_removed"]:
        lines.append(f"- keypoint {l}")
    for l in d["keypoints_changed"]:
        lines.append(f"~ keypoint {l}")
    if len(lines) == 1:
        lines.append("no differences")
    return "\n".join(lines)


# -- apply to the dataset -----------------------------------------------------------------------
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
