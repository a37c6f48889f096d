"""Curating a taxonomy by key: add, accept, retire, merge and edit differences (in memory; save with
:func:`curation.taxonomy.store.save_taxonomy`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from curation.taxonomy.keys import next_free_key, sorted_keys
from schemas.dataset_dir import diff_key_order as key_order
from schemas.errors import ToolkitError

DIFF_FIELDS = ("name", "description", "query_string", "num_frames", "keypoints")


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
