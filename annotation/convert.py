"""Convert a Label Studio JSON export into dataset labels (offline; ``pull`` reuses it after downloading).

The export is decoded and checked (``annotation/exports.py``); each task is checked against the stored
clips and its inputs' fingerprint, its results are parsed (``annotation/results.py``), resolved to one
label per item (``annotation/resolve.py``, which states the rule) and written (``annotation/outputs.py``,
which lists the files): ``labels.jsonl``, ``resolved.jsonl``, ``problems.json``, the raw export, and
``differences_gt`` or ``retrieval_frames`` in ``samples.jsonl``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation.configs import KINDS, label_config
from annotation.exports import export_name_for, parse_export
from annotation.outputs import annotator_rows, write_outputs
from annotation.resolve import DEFAULT_TOLERANCE, apply_labels, reviewer_id, users_map
from annotation.results import Problem, config_items, parse_annotation
from annotation.tasks import clip_info, inputs_change, task_inputs, taxonomy_fingerprint
from annotation.taxonomy import load_action_taxonomy
from schemas.dataset_dir import DatasetDir, load_dataset
from schemas.errors import ToolkitError


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
    """Convert exported ``tasks`` of project ``kind`` into the dataset (``annotation/resolve.py`` for the rule).

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
        label_rows += annotator_rows(row, parsed, data, users)
        new_row, resolved = apply_labels(row, kind, config, parsed, data, rev, tolerance, report)
        touched[key] = new_row
        resolved_rows += resolved
    if tasks:
        _stamp(report.problems[mark:], tasks[-1])
    exported = {t["data"]["sample_key"] for t in tasks}
    write_outputs(
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
