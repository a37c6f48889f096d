"""What a conversion writes, under ``DATASET/annotation/<kind>/``:

* ``exports/<name>.json``: the raw export, byte for byte, named by its content hash (an unchanged export
  is not written again);
* ``labels.jsonl``: every annotator's labels (0-based frames, half-open spans, with the clip's fps);
* ``resolved.jsonl``: one label per item and the rule that chose it;
* ``problems.json``: bad or missing results, each with its project, task, annotator and video; a
  conversion replaces only the entries of the tasks in its export (so every project's problems are kept);

and into ``samples.jsonl``: ``differences_gt`` (+ ``n_differences_open_prediction`` = ceil(1.5 x non-null))
or ``retrieval_frames`` (0-based indices into the stored clips).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotation.resolve import RESOLUTION_RULE
from annotation.results import ParsedAnnotation, Problem
from schemas.dataset_dir import DatasetDir, save_dataset
from schemas.io import atomic_write, read_json, read_jsonl, write_json, write_jsonl

if TYPE_CHECKING:
    from annotation.convert import ConvertReport


def annotation_dir(ds: DatasetDir, kind: str) -> Path:
    """``DATASET/annotation/<kind>``."""
    return ds.root / "annotation" / kind


def annotator_rows(row, parsed: list[ParsedAnnotation], data, users) -> list[dict[str, Any]]:
    """Every annotator's labels of one task as ``labels.jsonl`` rows (schema ``label``)."""
    out = []
    for p in parsed:
        base = {
            "sample_key": row["sample_key"],
            "action": row["action"],
            "annotator": p.annotator,
            "annotator_email": users.get(p.annotator),
            "annotation_id": p.annotation_id,
            "ground_truth": p.ground_truth,
        }
        if p.created_by:
            base["created_by"] = p.created_by  # someone else created it; `annotator` changed it last
        for k, v in sorted(p.choices.items()):
            out.append({**base, "item": "difference", "diff_key": k, "label": v})
        for (side, loc), idx in sorted(p.keypoints.items()):
            out.append(
                {
                    **base,
                    "item": "keypoint",
                    "video": side,
                    "name": loc,
                    "start": idx,
                    "end": idx + 1,
                    "fps": data[f"fps_{side}"],
                }
            )
        for (side, stage), (s, e) in sorted(p.stages.items()):
            out.append(
                {
                    **base,
                    "item": "stage",
                    "video": side,
                    "name": stage,
                    "start": s,
                    "end": e,
                    "fps": data[f"fps_{side}"],
                }
            )
    return out


def _merge_jsonl(path: Path, keys: set[str], rows: list[dict[str, Any]]) -> None:
    old = read_jsonl(path) if path.exists() else []
    write_jsonl(path, [r for r in old if r.get("sample_key") not in keys] + rows)


def _merge_problems(path: Path, exported: set[str], problems: list[Problem]) -> None:
    """``problems.json`` keeps every project's problems: this export's tasks replace only their own entries."""
    old = read_json(path) if path.exists() else []
    keep = [p for p in old if isinstance(p, dict) and p.get("sample_key") not in exported]
    write_json(path, keep + [p.to_dict() for p in problems])


def write_outputs(
    ds: DatasetDir,
    kind,
    raw: bytes,
    export_name,
    label_rows,
    resolved_rows,
    touched,
    report: ConvertReport,
    exported: set[str],
    *,
    reviewer,
    tolerance,
) -> None:
    """Keep the raw export, merge the label, resolved and problem files, save the touched rows and
    record the round in ``dataset.json``."""
    out = annotation_dir(ds, kind)
    export_path = out / "exports" / export_name
    new_export = not export_path.exists()
    if new_export:
        atomic_write(export_path, raw)
    for r in resolved_rows:  # tuples (stage spans) become lists in JSON
        if isinstance(r["value"], tuple):
            r["value"] = list(r["value"])
    # every converted task's row is in `touched`; its earlier label and resolved rows are replaced
    _merge_jsonl(out / "labels.jsonl", set(touched), label_rows)
    _merge_jsonl(out / "resolved.jsonl", set(touched), resolved_rows)
    _merge_problems(out / "problems.json", exported, report.problems)
    samples = [touched.get(s["sample_key"], s) for s in ds.samples]
    meta = copy.deepcopy(ds.meta)
    ann = meta.setdefault("annotation", {})
    ann["resolution_rule"] = RESOLUTION_RULE
    entry = f"annotation/{kind}/exports/{export_name}"
    rounds = ann.setdefault("rounds", [])
    if new_export or not any(r.get("export") == entry for r in rounds):  # the same export again: no new round
        rounds.append(
            {
                "kind": kind,
                "export": entry,
                "converted_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "reviewer": reviewer,
                "tolerance_frames": tolerance,
                "annotated_tasks": report.annotated_tasks,
                "annotations": report.annotations,
                "resolved": report.resolved,
                "unresolved": len(report.unresolved),
                "problems": len(report.problems),
            }
        )
    save_dataset(ds.root, meta, samples)
    ds.meta, ds.samples = meta, samples
