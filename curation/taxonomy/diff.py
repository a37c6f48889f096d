"""What changed between two versions of a taxonomy, as data and as readable lines."""

from __future__ import annotations

from typing import Any

from curation.taxonomy.keys import sorted_keys


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
