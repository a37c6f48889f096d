"""Label Studio JSON exports: decode and check one (a list of tasks with ``data`` and ``annotations``),
and name it by its content so an unchanged export is not written again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from schemas.errors import ToolkitError
from schemas.ids import check_id


def parse_export(raw: bytes, file: str) -> list[dict[str, Any]]:
    """Decode a Label Studio JSON export (a list of tasks with ``data`` and ``annotations``)."""
    try:
        tasks = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = (
            f"line {e.lineno} column {e.colno}: {e.msg}" if isinstance(e, json.JSONDecodeError) else str(e)
        )
        raise ToolkitError(f"not a JSON export ({where})", file=file) from None
    if not isinstance(tasks, list):
        raise ToolkitError(
            "expected the JSON export format: a list of tasks (JSON_MIN/CSV are not supported)",
            file=file,
            key="$",
        )
    for i, t in enumerate(tasks):
        if not isinstance(t, dict) or not isinstance(t.get("data"), dict):
            raise ToolkitError("task has no 'data' object", file=file, key=f"$[{i}]")
        if not isinstance(t["data"].get("sample_key"), str):
            raise ToolkitError(
                "task data has no 'sample_key' (not a toolkit project?)",
                file=file,
                key=f"$[{i}].data.sample_key",
            )
        check_id(t["data"]["sample_key"], what="sample_key", file=file, key=f"$[{i}].data.sample_key")
        if not isinstance(t.get("annotations", []), list):
            raise ToolkitError("'annotations' is not a list", file=file, key=f"$[{i}].annotations")
    return tasks


def export_name_for(raw: bytes, stem: str) -> str:
    """A stable file name for a raw export: ``<stem>-<sha256[:12]>.json``."""
    return f"{stem}-{hashlib.sha256(raw).hexdigest()[:12]}.json"
