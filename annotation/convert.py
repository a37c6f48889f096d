"""Convert a Label Studio JSON export into dataset labels (offline; ``pull`` reuses it after downloading).

What it writes, under ``DATASET/annotation/<kind>/``:

* ``exports/<name>.json``: the raw export, byte for byte, named by its content hash (an unchanged export
  is not written again);
* ``labels.jsonl``: every annotator's labels (0-based frames, half-open spans, with the clip's fps);
* ``resolved.jsonl``: one label per item and the rule that chose it;
* ``problems.json``: bad or missing results, each with its project, task, annotator and video; a
  conversion replaces only the entries of the tasks in its export (so every project's problems are kept);

and into ``samples.jsonl``: ``differences_gt`` (+ ``n_differences_open_prediction`` = ceil(1.5 x non-null))
or ``retrieval_frames`` (0-based indices into the stored clips).

An annotation's labels belong to the user who **last changed** it (``updated_by``, else ``completed_by``):
a second annotator who opens the first one's annotation and presses *Update* has changed it. The creator
is kept as ``created_by`` in ``labels.jsonl`` when it is someone else.

Resolution rule (one label per item), in order:

1. a named **reviewer** who labelled the item wins;
2. else an annotation marked **ground truth** in Label Studio wins (if those agree);
3. else **agreement**: a/b/c needs a strict majority of the item's annotators (2 annotators: both agree);
   a keypoint needs every annotator's frame within ``tolerance`` frames (max - min), keeping the lower
   median; a stage span needs a strict majority of identical spans. One annotator is trivially agreement;
4. else the item is **unresolved**: written as null and listed, never guessed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from annotation.configs import KEY_PREFIX, KINDS, label_config
from annotation.results import ParsedAnnotation, Problem, config_items, parse_annotation
from annotation.tasks import clip_info, inputs_change, task_inputs, taxonomy_fingerprint
from annotation.taxonomy import load_action_taxonomy
from schemas.dataset_dir import DatasetDir, load_dataset, open_prediction_budget, save_dataset
from schemas.errors import ToolkitError
from schemas.ids import check_id
from schemas.io import atomic_write, read_json, read_jsonl, write_json, write_jsonl

DEFAULT_TOLERANCE = 2
RESOLUTION_RULE = (
    "labels belong to the user who last changed the annotation (updated_by, else completed_by); "
    "reviewer > Label Studio ground-truth annotation > agreement (a/b/c: strict majority; "
    "keypoint: all frames within tolerance, lower median; stage: strict majority) > unresolved (null)"
)


@dataclass
class ConvertReport:
    """What a conversion did: counts, unresolved items, problems and the files it wrote."""

    kind: str
    export: str
    tasks: int = 0
    annotated_tasks: int = 0
    annotations: int = 0
    resolved: int = 0
    unresolved: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rules: dict[str, int] = field(default_factory=dict)
    note: str | None = None  # set instead of a conversion, e.g. for a project without annotations

    def summary(self) -> str:
        """One line for the CLI."""
        if self.note:
            return f"{self.kind}: {self.note}"
        return (
            f"{self.kind}: {self.annotated_tasks}/{self.tasks} tasks annotated, {self.annotations} annotations, "
            f"{self.resolved} items resolved {dict(sorted(self.rules.items()))}, {len(self.unresolved)} unresolved, "
            f"{len(self.problems)} problems; raw export kept as {self.export}"
        )


def annotation_dir(ds: DatasetDir, kind: str) -> Path:
    """``DATASET/annotation/<kind>``."""
    return ds.root / "annotation" / kind


def users_map(ds: DatasetDir) -> dict[str, str]:
    """``{"user:<id>": email}`` saved by the last pull (empty offline)."""
    path = ds.root / "annotation" / "users.json"
    return read_json(path) if path.exists() else {}


def reviewer_id(reviewer: str | None, users: dict[str, str]) -> str | None:
    """Normalise ``--reviewer`` (``user:3``, ``3`` or an e-mail known from a pull) to ``user:<id>``."""
    if not reviewer:
        return None
    if reviewer.startswith("user:"):
        return reviewer
    if reviewer.isdigit():
        return f"user:{reviewer}"
    for uid, email in users.items():
        if email == reviewer:
            return uid
    raise ToolkitError(
        f"unknown reviewer {reviewer!r}: give the Label Studio user id (e.g. 3) or run `curate "
        "annotate pull` once so e-mails are known",
        key="--reviewer",
    )


def resolve(
    values: dict[str, Any], *, reviewer: str | None, ground_truth: set[str], tolerance: int | None = None
) -> tuple[Any, str]:
    """One value from several annotators' ``values`` by the module's rule; returns ``(value, rule)``."""
    if reviewer and reviewer in values:
        return values[reviewer], "reviewer"
    gt_values = [values[a] for a in sorted(ground_truth) if a in values]
    if gt_values and all(v == gt_values[0] for v in gt_values):
        return gt_values[0], "ground_truth"
    vals = list(values.values())
    if len(vals) == 1:
        return vals[0], "single"
    if tolerance is not None:  # keypoint frames
        ordered = sorted(vals)
        if ordered[-1] - ordered[0] <= tolerance:
            return ordered[(len(ordered) - 1) // 2], "agreement"
        return None, "unresolved"
    counts: dict[Any, int] = defaultdict(int)
    for v in vals:
        counts[v] += 1
    best, n = max(counts.items(), key=lambda kv: kv[1])
    if n * 2 > len(vals):
        return best, "agreement"
    return None, "unresolved"


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


def _check_task_clips(ds: DatasetDir, row: dict, data: dict, problems: list[Problem]) -> bool:
    ok = True
    for i, side in enumerate("ab"):
        fps, n = clip_info(ds.video_path(row, i))
        task_fps, task_n = data.get(f"fps_{side}"), data.get(f"n_frames_{side}")
        if not isinstance(task_fps, (int, float)) or abs(task_fps - fps) > 1e-6 * fps:
            problems.append(
                Problem(
                    row["sample_key"],
                    f"data.fps_{side}",
                    f"task fps {task_fps!r} differs from the stored clip's {fps:g}; frames "
                    "cannot be converted (re-push the task)",
                )
            )
            ok = False
        elif task_n != n:
            problems.append(
                Problem(
                    row["sample_key"],
                    f"data.n_frames_{side}",
                    f"task frame count {task_n!r} differs from the stored clip's {n}",
                )
            )
            ok = False
    return ok


def _stale(
    ds: DatasetDir,
    kind: str,
    row: dict,
    data: dict,
    taxonomies: dict[str, str | None],
    problems: list[Problem],
) -> bool:
    """Whether the task was pushed with other inputs than the row and taxonomy have now (its fingerprint,
    ``annotation/tasks.py``); then its labels are not used and a problem says what changed."""
    if data.get("inputs") is None:
        return False  # pushed before fingerprints: only the clip check below applies
    action = row["action"]
    if action not in taxonomies:
        try:
            taxonomies[action] = taxonomy_fingerprint(label_config(kind, load_action_taxonomy(ds, action)))
        except ToolkitError:
            taxonomies[action] = None
    if taxonomies[action] is None:
        return False
    change = inputs_change(data, task_inputs(ds, row, taxonomies[action]), kind)
    if change is None:
        return False
    problems.append(
        Problem(
            row["sample_key"],
            "data.inputs",
            f"stale: annotated on other inputs ({change} since the push); its labels are not used "
            "(re-push with --force and annotate the task again)",
        )
    )
    return True


def convert_tasks(
    ds: DatasetDir,
    kind: str,
    tasks: list[dict[str, Any]],
    *,
    raw: bytes,
    export_name: str,
    configs: dict[str, str] | None = None,
    reviewer: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> ConvertReport:
    """Convert exported ``tasks`` of project ``kind`` into the dataset (see the module doc for the rule).

    ``configs`` maps action to the label config the annotators used (from the server on pull); missing
    actions get the config generated from the taxonomy.
    """
    if kind not in KINDS:
        raise ToolkitError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", key="--kind")
    users = users_map(ds)
    rev = reviewer_id(reviewer, users)
    configs = dict(configs or {})
    by_key = ds.by_key
    report = ConvertReport(kind, export_name, tasks=len(tasks))
    label_rows: list[dict[str, Any]] = []
    resolved_rows: list[dict[str, Any]] = []
    touched: dict[str, dict[str, Any]] = {}
    seen_keys: set[str] = set()
    taxonomies: dict[str, str | None] = {}
    mark, previous = 0, None
    for t in tasks:
        if previous is not None:  # the previous task's problems are its own (not this task's)
            _stamp(report.problems[mark:], previous)
        mark, previous = len(report.problems), t
        data = t["data"]
        key = data["sample_key"]
        row = by_key.get(key)
        if row is None:
            report.problems.append(Problem(key, "data.sample_key", "no such sample in the dataset"))
            continue
        if key in seen_keys:
            report.problems.append(
                Problem(key, "data.sample_key", "two tasks for the same sample; later one skipped")
            )
            continue
        seen_keys.add(key)
        anns = [a for a in t.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
        if not anns:
            continue
        if row["action"] not in configs:
            configs[row["action"]] = label_config(kind, load_action_taxonomy(ds, row["action"]))
        config = configs[row["action"]]
        if _stale(ds, kind, row, data, taxonomies, report.problems):
            continue
        if not _check_task_clips(ds, row, data, report.problems):
            continue
        parsed = [parse_annotation(a, config, data, sample_key=key, problems=report.problems) for a in anns]
        report.annotated_tasks += 1
        report.annotations += len(parsed)
        label_rows += _label_rows(row, parsed, data, users)
        new_row, resolved = _apply(row, kind, config, parsed, data, rev, tolerance, report)
        touched[key] = new_row
        resolved_rows += resolved
    if tasks:
        _stamp(report.problems[mark:], tasks[-1])
    exported = {t["data"]["sample_key"] for t in tasks}
    _write(
        ds,
        kind,
        raw,
        export_name,
        label_rows,
        resolved_rows,
        touched,
        report,
        exported,
        reviewer=rev,
        tolerance=tolerance,
    )
    return report


def _stamp(problems: list[Problem], task: dict[str, Any]) -> None:
    """Fill in the Label Studio project and task ids of the problems found in one exported task."""
    for p in problems:
        p.project = p.project if p.project is not None else task.get("project")
        p.task = p.task if p.task is not None else task.get("id")


def _label_rows(row, parsed: list[ParsedAnnotation], data, users) -> list[dict[str, Any]]:
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


def _apply(row, kind, config, parsed, data, rev, tolerance, report: ConvertReport):
    diff_keys, timelines = config_items(config)
    gt_annotators = {p.annotator for p in parsed if p.ground_truth}
    new_row = copy.deepcopy(row)
    resolved_rows = []

    def settle(item: dict, values: dict, tol=None):
        value, rule = resolve(values, reviewer=rev, ground_truth=gt_annotators, tolerance=tol)
        report.rules[rule] = report.rules.get(rule, 0) + 1
        rec = {
            "sample_key": row["sample_key"],
            "action": row["action"],
            **item,
            "value": value,
            "rule": rule,
            "n_annotators": len(values),
        }
        if rule == "unresolved":
            report.unresolved.append({**rec, "values": values})
        else:
            report.resolved += 1
        resolved_rows.append(rec)
        return value

    if kind == "differences":
        annotated = row.get("differences_annotated") or {}
        gt = dict(row.get("differences_gt") or {})
        for k, v in annotated.items():
            gt.setdefault(k, None)
        for k in diff_keys:
            values = {p.annotator: p.choices[k] for p in parsed if k in p.choices}
            if not values:
                continue
            if annotated.get(k) is None:
                report.problems.append(
                    Problem(
                        row["sample_key"],
                        f"diff_{k}",
                        "difference is labelled but is not in "
                        "the row's differences_annotated (run the taxonomy apply step)",
                    )
                )
                continue
            gt[k] = settle({"item": "difference", "diff_key": k}, values)
        new_row["differences_gt"] = gt
        new_row["n_differences_open_prediction"] = open_prediction_budget(gt)
    else:
        frames = copy.deepcopy(row.get("retrieval_frames")) or [{}, {}]
        for i, side in enumerate("ab"):
            labels = timelines.get(f"tl_{side}", [])
            for label in labels:
                name = label.split(":", 1)[1]
                if label.startswith(KEY_PREFIX):
                    values = {
                        p.annotator: p.keypoints[(side, name)] for p in parsed if (side, name) in p.keypoints
                    }
                    if values:
                        idx = settle(
                            {"item": "keypoint", "video": side, "name": name, "fps": data[f"fps_{side}"]},
                            values,
                            tolerance,
                        )
                        frames[i][name] = None if idx is None else [idx]
                else:
                    values = {p.annotator: p.stages[(side, name)] for p in parsed if (side, name) in p.stages}
                    if values:
                        settle(
                            {"item": "stage", "video": side, "name": name, "fps": data[f"fps_{side}"]}, values
                        )
        new_row["retrieval_frames"] = frames
    return new_row, resolved_rows


def _merge_jsonl(path: Path, keys: set[str], rows: list[dict[str, Any]]) -> None:
    old = read_jsonl(path) if path.exists() else []
    write_jsonl(path, [r for r in old if r.get("sample_key") not in keys] + rows)


def _merge_problems(path: Path, exported: set[str], problems: list[Problem]) -> None:
    """``problems.json`` keeps every project's problems: this export's tasks replace only their own entries."""
    old = read_json(path) if path.exists() else []
    keep = [p for p in old if isinstance(p, dict) and p.get("sample_key") not in exported]
    write_json(path, keep + [p.to_dict() for p in problems])


def _write(
    ds: DatasetDir,
    kind,
    raw: bytes,
    export_name,
    label_rows,
    resolved_rows,
    touched,
    report,
    exported: set[str],
    *,
    reviewer,
    tolerance,
) -> None:
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


def export_name_for(raw: bytes, stem: str) -> str:
    """A stable file name for a raw export: ``<stem>-<sha256[:12]>.json``."""
    return f"{stem}-{hashlib.sha256(raw).hexdigest()[:12]}.json"


def convert_file(
    export: str | os.PathLike,
    dataset: str | os.PathLike,
    kind: str,
    *,
    reviewer: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    config: str | os.PathLike | None = None,
) -> ConvertReport:
    """``curate annotate convert``: convert a JSON export file into ``dataset``.

    Results are validated against ``config`` (the project's label config XML, e.g. saved from the project's
    settings) when given, else against the config generated from each action's current taxonomy.
    """
    export = Path(export)
    try:
        raw = export.read_bytes()
    except FileNotFoundError:
        raise ToolkitError("export file not found", file=str(export)) from None
    tasks = parse_export(raw, str(export))
    ds = load_dataset(dataset)
    configs = None
    if config is not None:
        try:
            xml = Path(config).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ToolkitError("label config file not found", file=str(config)) from None
        try:
            config_items(xml)
        except Exception as e:
            raise ToolkitError(f"not a valid label config: {e}", file=str(config)) from None
        configs = dict.fromkeys({s["action"] for s in ds.samples}, xml)
    return convert_tasks(
        ds,
        kind,
        tasks,
        raw=raw,
        export_name=export_name_for(raw, export.stem),
        configs=configs,
        reviewer=reviewer,
        tolerance=tolerance,
    )
