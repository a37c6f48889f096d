"""The dataset directory: the unit that flows through every command (README, "The dataset directory").

::

    DATASET/
      dataset.json           what the dataset is (schema: dataset)
      samples.jsonl          one row per video pair (schema: sample)
      videos/<key>/a.mp4     stored clips (CFR H.264, start_time 0)
      taxonomies/<action>.json
      annotation/

Rows stay plain dicts (they are the VidDiffBench record, nested values as JSON objects); this module
loads, validates and saves them atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import check, validate
from schemas.errors import SchemaError, ToolkitError
from schemas.io import read_json, read_jsonl, write_json, write_jsonl

DATASET_JSON = "dataset.json"
SAMPLES_JSONL = "samples.jsonl"


@dataclass
class DatasetDir:
    """A loaded dataset directory: its metadata, its rows in file order, and where it lives."""

    root: Path
    meta: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def by_key(self) -> dict[str, dict[str, Any]]:
        """Rows by ``sample_key``."""
        return {s["sample_key"]: s for s in self.samples}

    def video_path(self, sample: dict[str, Any], index: int) -> Path:
        """Absolute path of video ``index`` (0 = A, 1 = B) of ``sample``."""
        return (self.root / sample["videos"][index]["path"]).resolve()

    def taxonomy_path(self, action: str) -> Path:
        """Where the taxonomy of ``action`` lives (the action key must be a safe identifier)."""
        from schemas.ids import check_id

        return self.root / "taxonomies" / f"{check_id(action, what='action')}.json"

    def taxonomy(self, action: str) -> dict[str, Any] | None:
        """The validated taxonomy of ``action``, or None when it has no taxonomy file."""
        path = self.taxonomy_path(action)
        if not path.exists():
            return None
        tax = load_taxonomy(path)
        if tax["action"] != action:
            raise ToolkitError(
                f"taxonomy is for action {tax['action']!r}, expected {action!r}",
                file=str(path),
                key="$.action",
            )
        return tax

    def save(self) -> None:
        """Validate and atomically write ``dataset.json`` and ``samples.jsonl``."""
        save_dataset(self.root, self.meta, self.samples)


def load_dataset(root: str | os.PathLike, *, validate_rows: bool = True) -> DatasetDir:
    """Load and validate a dataset directory; errors name the file and the JSON path (and line)."""
    root = Path(root)
    if not root.is_dir():
        raise ToolkitError("dataset directory not found", file=str(root))
    meta_path = root / DATASET_JSON
    meta = read_json(meta_path)
    check("dataset", meta, file=str(meta_path))
    samples_path = root / SAMPLES_JSONL
    samples = read_jsonl(samples_path) if samples_path.exists() else []
    if validate_rows:
        seen: set[str] = set()
        for i, row in enumerate(samples, 1):
            errors = validate("sample", row)
            if errors:
                raise SchemaError("sample", errors, file=f"{samples_path}:{i}")
            if row["sample_key"] in seen:
                raise ToolkitError(
                    f"duplicate sample_key {row['sample_key']!r}",
                    file=f"{samples_path}:{i}",
                    key="sample_key",
                )
            seen.add(row["sample_key"])
    return DatasetDir(root=root, meta=meta, samples=samples)


def save_dataset(root: str | os.PathLike, meta: dict[str, Any], samples: list[dict[str, Any]]) -> None:
    """Validate everything first, then write ``dataset.json`` and ``samples.jsonl`` atomically."""
    root = Path(root)
    check("dataset", meta, file=str(root / DATASET_JSON))
    keys: set[str] = set()
    for i, row in enumerate(samples, 1):
        check("sample", row, file=f"{root / SAMPLES_JSONL}:{i}")
        if row["sample_key"] in keys:
            raise ToolkitError(f"duplicate sample_key {row['sample_key']!r}", file=str(root / SAMPLES_JSONL))
        keys.add(row["sample_key"])
    write_json(root / DATASET_JSON, meta)
    write_jsonl(root / SAMPLES_JSONL, samples)


def taxonomy_name_mismatch(path: str | os.PathLike, tax: Any) -> str | None:
    """Why ``tax`` cannot live at ``path``: a file ``taxonomies/<action>.json`` must hold that action's
    taxonomy (history copies such as ``taxonomies/history/<action>.v1.json`` are not checked). None: fine."""
    path = Path(path)
    if path.parent.name != "taxonomies" or not isinstance(tax, dict) or path.stem == tax.get("action"):
        return None
    return f"taxonomy is for action {tax.get('action')!r} but the file is named for {path.stem!r}"


def load_taxonomy(path: str | os.PathLike) -> dict[str, Any]:
    """Read and schema-check a taxonomy file; errors name the file and JSON path."""
    tax = read_json(path)
    check("taxonomy", tax, file=str(path))
    if (why := taxonomy_name_mismatch(path, tax)) is not None:
        raise ToolkitError(why, file=str(path), key="$.action")
    return tax


def diff_key_order(key: str) -> tuple[int, int, str]:
    """Sort key for difference keys (strings of integers): "2" before "10"; anything else after, by text."""
    return (0, int(key), key) if key.isdigit() else (1, 0, key)


def open_prediction_budget(differences_gt: dict[str, Any] | None) -> int:
    """N_diff of the public release: ``ceil(1.5 x non-null labels)``, 'c' labels included."""
    return math.ceil(1.5 * sum(v is not None for v in (differences_gt or {}).values()))


def row_open_prediction_budget(row: dict[str, Any]) -> int:
    """A row's ``n_differences_open_prediction``, else :func:`open_prediction_budget` of its labels."""
    n = row.get("n_differences_open_prediction")
    return int(n) if n is not None else open_prediction_budget(row.get("differences_gt"))


def sample_hash(sample_key: str) -> int:
    """A stable int64 per sample, from its key (VidDiff adds it to LLM seeds)."""
    return int(hashlib.sha256(sample_key.encode()).hexdigest()[:15], 16)


def row_sample_hash(row: dict[str, Any]) -> int:
    """A row's ``sample_hash`` (the public release carries one), else :func:`sample_hash` of its key."""
    h = row.get("sample_hash")
    return int(h) if h is not None else sample_hash(row["sample_key"])


def content_hash(obj: Any) -> str:
    """sha256 of ``obj`` as canonical JSON (sorted keys): the fingerprint of a result's inputs.

    Derived results (``RUN_DIR/samples/<key>.json``, proposals, eval outputs) store the fingerprint of what
    they were computed from, so a rerun recomputes exactly the ones whose inputs changed.
    """
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
