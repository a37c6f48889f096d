"""Difference taxonomies: one versioned JSON file per action, curated by key.

A taxonomy (``DATASET/taxonomies/<action>.json``, schema ``taxonomy``) lists an action's ordered
stages, its keypoints ``{loc_id: {name, description, stage}}`` and its differences
``{key: {name, description, query_string, num_frames, keypoints, status, origin}}``. Difference
keys are strings of integers that are never reused or deleted (``next_key`` remembers the next
one): a retired difference keeps its key and becomes ``null`` in the samples'
``differences_annotated``. Every save validates the file, copies the previous version to
``taxonomies/history/<action>.v<N>.json`` and bumps ``version``.

This module holds storage (paths, load, create, save with history); the other operations live beside it:
:mod:`curation.taxonomy.checks`, :mod:`curation.taxonomy.dups` (near-duplicate flags),
:mod:`curation.taxonomy.edits` (accept/retire/merge/edit), :mod:`curation.taxonomy.diff` and
:mod:`curation.taxonomy.apply`; key rules are in :mod:`curation.taxonomy.keys`, proposals by an LLM in
:mod:`curation.taxonomy.propose` and the CSV format in :mod:`curation.taxonomy.csv_io`.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
from pathlib import Path
from typing import Any

from curation.taxonomy.checks import raise_on_errors
from curation.taxonomy.keys import next_free_key, sorted_keys
from schemas import check
from schemas.dataset_dir import DATASET_JSON, load_taxonomy
from schemas.dataset_dir import diff_key_order as key_order
from schemas.errors import ToolkitError
from schemas.ids import check_id
from schemas.io import read_json, write_json

TAXONOMY_DIR = "taxonomies"
HISTORY_DIR = "history"


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
