"""Taxonomies in the public benchmark's CSV columns: ``action, diff_key, name, num_frames, description, query_string``.

Import merges rows into the per-action taxonomy files by key (the CSV key becomes the taxonomy key);
export writes the active differences back in the same columns, so a public CSV round-trips.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from curation.taxonomy.edits import add_difference, edit, retire
from curation.taxonomy.keys import sorted_keys
from curation.taxonomy.store import (
    list_actions,
    load_or_create,
    load_taxonomy,
    save_taxonomy,
    taxonomy_path,
)
from schemas.dataset_dir import DATASET_JSON
from schemas.errors import ToolkitError
from schemas.ids import check_id, check_text, is_safe
from schemas.io import atomic_write, read_json

COLUMNS = ("action", "diff_key", "name", "num_frames", "description", "query_string")


def _read_table(path: Path) -> tuple[list[str], pd.DataFrame]:
    """The header fields and the data records of a CSV, every cell as text, each record with ``line``.

    Cells stay exactly as written: an empty cell is ``""`` and ``NA``/``null`` stay strings (``dtype=str``,
    ``keep_default_na=False``). The records are read as :class:`csv.DictReader` reads them (this module's
    earlier reader, whose line numbers the error messages keep): an empty first line is an empty header,
    empty lines are skipped, a short record's missing cells are ``""``, cells past the header are ignored,
    and a repeated column name takes its last cell. ``line`` is the physical line the record ends on
    (a quoted cell may hold newlines).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ToolkitError("file not found", file=str(path)) from None
    if not text or text.startswith("\n"):
        return [], pd.DataFrame()
    opts = {"header": None, "dtype": str, "keep_default_na": False, "skip_blank_lines": False}
    try:
        header = pd.read_csv(io.StringIO(text), nrows=1, **opts).iloc[0].tolist()
        n = len(header)
        # every physical line outside quotes is a record here (empty lines too), so lines can be counted
        table = pd.read_csv(io.StringIO(text), names=range(n), usecols=range(n), index_col=False, **opts)
    except pd.errors.ParserError as e:
        raise ToolkitError(f"not a readable CSV: {str(e).strip()}", file=str(path)) from None
    spans = 1 + table.apply(lambda cells: cells.str.count("\n")).sum(axis=1)
    table["line"] = spans.cumsum()
    starts = (table["line"] - spans).to_numpy()
    empty = pd.Series(text.split("\n")).iloc[starts].eq("").to_numpy()  # an empty line holds no record
    last = {name: i for i, name in enumerate(header)}  # a repeated column name: its last cell
    records = table[~empty].iloc[1:]
    columns = {last[c]: c for c in COLUMNS if c in last}
    return header, records[[*columns, "line"]].rename(columns=columns)


def read_taxonomy_csv(path: str | os.PathLike) -> dict[str, dict[str, dict[str, str]]]:
    """``{action: {key: {name, num_frames, description, query_string}}}`` from a CSV; errors name file and line."""
    path = Path(path)
    header, records = _read_table(path)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ToolkitError(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}",
            file=str(path),
            key="line 1",
        )
    out: dict[str, dict[str, dict[str, str]]] = {}
    for row in records.to_dict("records"):
        line = f"line {row['line']}"
        action, key = row["action"].strip(), row["diff_key"].strip()
        if not action:
            raise ToolkitError("empty action", file=str(path), key=line)
        check_id(action, what="action", file=f"{path}:{line}", key="action")
        if not is_safe(key, "diff"):
            raise ToolkitError(f"diff_key {key!r} is not a non-negative integer", file=str(path), key=line)
        for col in COLUMNS:
            check_text(row[col], what=col, file=f"{path}:{line}", key=col)
        key = str(int(key))
        if row["num_frames"] not in ("1", "gt_1"):
            raise ToolkitError(
                f"num_frames {row['num_frames']!r} must be 1 or gt_1", file=str(path), key=line
            )
        if not row["name"].strip() or not row["description"].strip():
            raise ToolkitError("empty name or description", file=str(path), key=line)
        if key in out.get(action, {}):
            raise ToolkitError(f"duplicate diff_key {key} for action {action}", file=str(path), key=line)
        out.setdefault(action, {})[key] = {
            c: row[c] for c in ("name", "num_frames", "description", "query_string")
        }
    return out


@dataclass
class ImportReport:
    """Per action: keys added, updated, unchanged, retired (absent from the CSV with ``retire_missing``)."""

    added: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: dict[str, list[str]] = field(default_factory=dict)
    retired: dict[str, list[str]] = field(default_factory=dict)
    not_in_csv: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # CSV actions that the dataset does not have

    def __str__(self) -> str:
        lines = []
        for a in sorted(set(self.added) | set(self.updated) | set(self.unchanged)):
            lines.append(
                f"{a}: {len(self.added.get(a, []))} added, {len(self.updated.get(a, []))} updated, "
                f"{len(self.unchanged.get(a, []))} unchanged, {len(self.retired.get(a, []))} retired"
            )
            if self.not_in_csv.get(a):
                lines.append(f"  keys not in the CSV (kept): {', '.join(self.not_in_csv[a])}")
        if self.skipped:
            lines.append(f"skipped (not actions of this dataset): {', '.join(self.skipped)}")
        return "\n".join(lines) or "nothing imported"


def import_csv(
    root: str | os.PathLike,
    csv_path: str | os.PathLike,
    *,
    actions: Iterable[str] | None = None,
    status: str = "active",
    retire_missing: bool = False,
) -> ImportReport:
    """Merge a taxonomy CSV into ``ROOT/taxonomies/<action>.json`` (one new version per changed action).

    Rows keep their CSV keys. An existing key with other text is updated; keys the CSV lacks are kept
    (or retired with ``retire_missing``). ``ROOT`` may be a dataset directory (then CSV actions it does not
    have are skipped and reported, unless named in ``actions``) or any folder.
    """
    data = read_taxonomy_csv(csv_path)
    if actions is not None:
        wanted = set(actions)
        unknown = wanted - set(data)
        if unknown:
            raise ToolkitError(f"action(s) {', '.join(sorted(unknown))} not in the CSV", file=str(csv_path))
        data = {a: v for a, v in data.items() if a in wanted}
    report = ImportReport()
    meta_path = Path(root) / DATASET_JSON
    if actions is None and meta_path.exists():
        known = read_json(meta_path).get("actions", {})
        report.skipped = sorted(a for a in data if a not in known)
        data = {a: v for a, v in data.items() if a in known}
    origin = f"csv:{Path(csv_path).name}"
    for action in sorted(data):
        tax = load_or_create(root, action)
        for key in sorted_keys(data[action]):
            row = data[action][key]
            if key in tax["differences"]:
                if tax["differences"][key]["status"] == "retired":
                    report.unchanged.setdefault(action, []).append(key)  # a retired key stays retired
                    continue
                changes = edit(
                    tax, key, **{f: row[f] for f in ("name", "num_frames", "description", "query_string")}
                )
                if changes:
                    report.updated.setdefault(action, []).append(key)
                else:
                    report.unchanged.setdefault(action, []).append(key)
            else:
                add_difference(tax, row, status=status, origin=origin, key=key)
                report.added.setdefault(action, []).append(key)
        absent = [
            k
            for k in sorted_keys(tax["differences"])
            if k not in data[action] and tax["differences"][k]["status"] != "retired"
        ]
        if absent:
            if retire_missing:
                report.retired[action] = retire(tax, absent)
            else:
                report.not_in_csv[action] = absent
        save_taxonomy(root, tax, op="import", detail=f"from {Path(csv_path).name}")
    return report


def export_rows(
    root: str | os.PathLike, actions: Iterable[str] | None = None, *, include_drafts: bool = False
) -> list[dict[str, str]]:
    """Rows in the public CSV columns for the active (and optionally draft) differences, by action then key."""
    rows = []
    for action in sorted(actions) if actions is not None else list_actions(root):
        path = taxonomy_path(root, action)
        if not path.exists():
            raise ToolkitError("no taxonomy file", file=str(path))
        tax = load_taxonomy(path)
        ok = {"active", "draft"} if include_drafts else {"active"}
        for k in sorted_keys(tax["differences"]):
            d = tax["differences"][k]
            if d["status"] in ok:
                rows.append(
                    {
                        "action": action,
                        "diff_key": k,
                        "name": d["name"],
                        "num_frames": d["num_frames"],
                        "description": d["description"],
                        "query_string": d.get("query_string", ""),
                    }
                )
    return rows


def export_csv(
    root: str | os.PathLike,
    out: str | os.PathLike | None,
    actions: Iterable[str] | None = None,
    *,
    include_drafts: bool = False,
) -> str:
    """Write (atomically, when ``out`` is given) and return the CSV text of :func:`export_rows`."""
    rows = export_rows(root, actions, include_drafts=include_drafts)
    text = pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(index=False, lineterminator="\n")
    if out is not None:
        atomic_write(out, text)
    return text


__all__ = [
    "COLUMNS",
    "ImportReport",
    "export_csv",
    "export_rows",
    "import_csv",
    "load_taxonomy",
    "read_taxonomy_csv",
]
