"""Push a dataset's pairs to Label Studio as tasks, one project per (action, kind).

Push is idempotent: a project is found by its title, tasks by ``data.sample_key``; a second push adds new
pairs and never touches annotations, and a config change on a project that already has annotations is
refused unless ``force``. Each task carries the fingerprint of its inputs (``annotation/tasks.py``): a
re-push replaces the data of an unannotated task whose clips or taxonomy changed, and reports (leaves as
is) an annotated one unless ``force``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation.configs import KINDS, label_config, video_scale
from annotation.connect import api_errors, connect
from annotation.predictions import load_run, prediction_result
from annotation.projects import (
    check_config_change,
    ensure_project,
    ensure_storage,
    list_tasks,
    overlap_settings,
    project_title,
    record_projects,
)
from annotation.tasks import (
    inputs_change,
    local_file_url,
    media_root_from_env,
    relative_to_root,
    task_data,
    task_inputs,
    taxonomy_fingerprint,
)
from annotation.taxonomy import load_action_taxonomy
from schemas.dataset_dir import DatasetDir, load_dataset
from schemas.errors import ToolkitError
from viddiff_runtime import media

IMPORT_BATCH = 250


@dataclass
class PushResult:
    """What a push did to one project (or why an action was skipped)."""

    action: str
    kind: str
    project_id: int | None
    title: str
    created: bool = False
    config_updated: bool = False
    tasks_added: int = 0
    tasks_existing: int = 0
    tasks_updated: int = 0
    predictions_added: int = 0
    predictions_skipped: list[str] = field(default_factory=list)
    overlap: dict[str, Any] | None = None
    skipped: str | None = None
    tasks_refreshed: dict[str, list[str]] = field(default_factory=dict)  # what changed -> sample keys
    inputs_changed_annotated: list[tuple[str, str]] = field(
        default_factory=list
    )  # (sample key, what changed)
    annotated_replaced: list[tuple[str, str]] = field(default_factory=list)  # the same, with --force
    tasks_stamped: int = 0  # tasks pushed without a fingerprint that were given one

    def summary(self) -> str:
        """One line for the CLI."""
        if self.skipped:
            return f"{self.action} ({self.kind}): skipped, {self.skipped}"
        state = "created" if self.created else ("config updated" if self.config_updated else "found")
        pred = f", {self.predictions_added} predictions" if self.predictions_added else ""
        upd = f", {self.tasks_updated} given the composite" if self.tasks_updated else ""
        ov = ""
        if self.overlap:
            ov = (
                f", overlap {self.overlap['maximum_annotations']} annotators on "
                f"{self.overlap['overlap_cohort_percentage']}% of tasks"
            )
        refreshed = "".join(
            f", {len(keys)} updated ({what})" for what, keys in sorted(self.tasks_refreshed.items())
        )
        stamped = f", {self.tasks_stamped} given a fingerprint" if self.tasks_stamped else ""
        left = ""
        if self.inputs_changed_annotated:
            n = len(self.inputs_changed_annotated)
            left = (
                f", {n} annotated task{'s' if n > 1 else ''} left as is: inputs changed (use --force to "
                f"replace {'their' if n > 1 else 'its'} data; {'their' if n > 1 else 'its'} annotations "
                "refer to the old clips)"
            )
        return (
            f"{self.title} (project {self.project_id}, {state}): {self.tasks_added} tasks added, "
            f"{self.tasks_existing} already there{refreshed}{stamped}{upd}{pred}{ov}{left}"
        )


@dataclass
class _Plan:
    """One action's push, checked before the server is touched."""

    action: str
    rows: list[dict[str, Any]]
    xml: str
    title: str
    folders: list[Path]
    composites: dict[str, Path] = field(default_factory=dict)
    found: Any = None  # the project already on the server, if any


def _common_folder(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.parent) for p in paths]))


def _plan(
    ds: DatasetDir,
    kind: str,
    wanted: list[str],
    explicit: bool,
    root: Path,
    title: str | None,
    composite: bool,
) -> tuple[list[_Plan], list[PushResult]]:
    """Every action's config, title, clips and media folders, validated offline; actions with nothing to
    mark are skipped (an error when the action was asked for by name)."""
    plans, skipped = [], []
    for action in wanted:
        tax = load_action_taxonomy(ds, action)
        rows = [s for s in ds.samples if s["action"] == action]
        videos = [ds.video_path(s, i) for s in rows for i in range(2)]
        for s in rows:
            for i in range(2):
                if not ds.video_path(s, i).is_file():
                    raise ToolkitError(
                        "stored clip not found",
                        file=str(ds.video_path(s, i)),
                        key=f"{s['sample_key']}.videos[{i}].path",
                    )
        sizes = [
            media.probe(v) for v in videos[:4]
        ]  # an action's clips share one source view: its first pairs
        scale = video_scale(max(i.width for i in sizes), max(i.height for i in sizes))
        try:
            xml = label_config(kind, tax, composite=composite, scale=scale)
        except ToolkitError as e:
            if explicit:
                raise
            skipped.append(PushResult(action, kind, None, "", skipped=f"nothing to mark: {e.args[0]}"))
            continue
        folders = [_common_folder(videos)]
        if composite:
            from annotation.composite import composite_path

            folders.append(_common_folder([composite_path(ds, s) for s in rows]))
        for folder in folders:
            relative_to_root(folder / "x", root)  # the folder's files must be served from under the root
        plans.append(_Plan(action, rows, xml, project_title(ds, kind, action, title), folders))
    return plans, skipped


def push(
    dataset: str | os.PathLike,
    kind: str,
    *,
    project: str | None = None,
    predictions: str | os.PathLike | None = None,
    model_version: str | None = None,
    media_root: str | os.PathLike | None = None,
    force: bool = False,
    composite: bool = False,
    actions: list[str] | None = None,
    overlap: int | None = None,
    review: float | None = None,
    ls=None,
    progress: bool = True,
) -> list[PushResult]:
    """Create or find one project per action, set up local-files access and import tasks for new pairs.

    Everything that can fail is checked before the server is changed: paths (made absolute), the media
    root and that every clip is under it, the label configs, config changes on annotated projects, and
    the composites (built first). Actions with nothing to mark are skipped and returned with the reason.
    ``predictions``: a run directory; its outputs are imported as predictions with ``model_version``
    (default: the run directory's name), once per task and model version. ``composite``: existing tasks
    without the side-by-side clip get it. ``overlap`` / ``review``: see :func:`overlap_settings`.
    """
    from tqdm import tqdm

    if kind not in KINDS:
        raise ToolkitError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", key="--kind")
    ds = load_dataset(Path(dataset).resolve())
    root = media_root_from_env(media_root)
    if not root.is_dir():
        raise ToolkitError("the Label Studio media root is not a folder", file=str(root), key="--media-root")
    settings = overlap_settings(overlap, review)
    run = load_run(predictions, kind) if predictions else None
    version = model_version or (Path(predictions).resolve().name if predictions else None)
    wanted = actions or sorted({s["action"] for s in ds.samples})
    unknown = set(wanted) - {s["action"] for s in ds.samples}
    if unknown:
        raise ToolkitError(f"no samples of action {sorted(unknown)[0]!r}", file=str(ds.root), key="--action")
    plans, skipped = _plan(ds, kind, wanted, bool(actions), root, project, composite)
    if not plans:
        raise ToolkitError(
            f"no action has anything to mark in a {kind} project: "
            + "; ".join(f"{r.action}: {r.skipped}" for r in skipped),
            file=str(ds.root),
        )
    ls = ls or connect()
    for plan in plans:
        plan.found = check_config_change(ls, plan.title, plan.xml, force=force)
    if composite:
        from annotation.composite import make_composites

        for plan in plans:
            plan.composites = make_composites(ds, plan.rows)
    results = []
    for plan in plans:
        with api_errors(f"accept the push of {plan.action}", key=plan.title):
            results.append(
                _push_one(ls, ds, kind, plan, root, run, version, settings, progress, tqdm, force=force)
            )
    record_projects(ds, results)
    return results + skipped


def _push_one(
    ls,
    ds: DatasetDir,
    kind: str,
    plan: _Plan,
    root: Path,
    run,
    version,
    settings,
    progress,
    tqdm,
    *,
    force: bool = False,
) -> PushResult:
    """The server side of one action's push (everything was checked by :func:`_plan`)."""
    found = plan.found
    updated = 0
    if found is not None and plan.composites:  # give old tasks the composite before the config shows it
        for folder in plan.folders:
            ensure_storage(ls, found.id, folder, root)
        updated = _fill_composites(ls, ds, found.id, plan, root)
    proj, created, config_updated = ensure_project(
        ls, plan.title, plan.xml, dataset_name=ds.meta["name"], full=found
    )
    res = PushResult(plan.action, kind, proj.id, plan.title, created, config_updated, tasks_updated=updated)
    for folder in plan.folders:
        ensure_storage(ls, proj.id, folder, root)
    existing = {
        t.data.get("sample_key"): t for t in list_tasks(ls, proj.id, with_predictions=run is not None)
    }
    res.tasks_existing = sum(1 for s in plan.rows if s["sample_key"] in existing)
    taxonomy = taxonomy_fingerprint(plan.xml)
    new_tasks, new_preds = [], []
    for s in tqdm(plan.rows, desc=f"push {plan.action}", unit="pair", disable=not progress):
        key = s["sample_key"]
        inputs = task_inputs(ds, s, taxonomy)
        task = existing.get(key)
        if task is not None:
            _refresh_task(ls, ds, kind, task, s, inputs, plan, root, res, force=force)
        if task is not None and (run is None or key not in run or version in _versions(task)):
            continue  # the task is there, and so is this run's prediction (or there is none to add)
        data = task_data(ds, s, root, plan.composites.get(key), inputs)
        pred = None
        if run is not None and key in run:
            result, skipped = prediction_result(kind, proj.label_config, run[key], data)
            res.predictions_skipped += [f"{key}: {m}" for m in skipped]
            if result:
                pred = {"model_version": version, "result": result}
        if task is None:
            new = {"data": data}
            if pred:
                new["predictions"] = [pred]
                res.predictions_added += 1
            new_tasks.append(new)
        elif pred:
            new_preds.append({"task": task.id, **pred})
    for i in range(0, len(new_tasks), IMPORT_BATCH):
        ls.projects.import_tasks(id=proj.id, request=new_tasks[i : i + IMPORT_BATCH], return_task_ids=True)
    res.tasks_added = len(new_tasks)
    if new_preds:
        ls.projects.import_predictions(id=proj.id, request=new_preds)
        res.predictions_added += len(new_preds)
    had = any(version in _versions(t) for t in existing.values())
    if run is not None and (res.predictions_added or had):
        ls.projects.update(id=proj.id, model_version=version)  # these predictions pre-fill the editor
    if settings is not None:
        ls.projects.update(id=proj.id, **settings)
        res.overlap = settings
    return res


def _legacy_matches(ds: DatasetDir, task, sample: dict[str, Any], root: Path) -> bool:
    """Whether a task pushed without a fingerprint still shows the row's clips (URLs and frame counts)."""
    for i, side in enumerate("ab"):
        n = sample["videos"][i].get("n_frames")
        if task.data.get(f"video_{side}") != local_file_url(ds.video_path(sample, i), root) or (
            n is not None and task.data.get(f"n_frames_{side}") != n
        ):
            return False
    return True


def _refresh_task(
    ls,
    ds: DatasetDir,
    kind: str,
    task,
    sample: dict[str, Any],
    inputs: dict[str, Any],
    plan: _Plan,
    root: Path,
    res: PushResult,
    *,
    force: bool,
) -> None:
    """Bring one existing task's data up to its inputs: unchanged, nothing; changed and unannotated (or
    ``force``), its data is replaced in place; changed and annotated, it is left as is and reported.

    A task pushed before fingerprints (no ``inputs``) that still shows the row's clips is only stamped.
    """
    if task.data.get("inputs") == inputs["inputs"]:
        return
    key = sample["sample_key"]
    if task.data.get("inputs") is None:
        if _legacy_matches(ds, task, sample, root):
            ls.tasks.update(id=str(task.id), data={**task.data, **inputs})
            res.tasks_stamped += 1
            return
        change = "clips changed (the task has no fingerprint: pushed by an older toolkit)"
    else:
        change = inputs_change(task.data, inputs, kind)
    annotated = (task.total_annotations or 0) > 0
    if annotated and not force:
        res.inputs_changed_annotated.append((key, change))
        return
    data = task_data(ds, sample, root, plan.composites.get(key), inputs)
    with api_errors(f"update the data of task {task.id}", file=str(ds.root), key=key):
        ls.tasks.update(id=str(task.id), data=data)
    res.tasks_refreshed.setdefault(change, []).append(key)
    if annotated:
        res.annotated_replaced.append((key, change))


def _fill_composites(ls, ds: DatasetDir, project_id: int, plan: _Plan, root: Path) -> int:
    """Add ``video_ab`` (and its fps and frame count) to existing tasks that lack it; returns how many."""
    from annotation.tasks import composite_data

    n = 0
    for t in list_tasks(ls, project_id):
        path = plan.composites.get(t.data.get("sample_key"))
        if path is None:
            continue
        extra = composite_data(path, root)
        if any(t.data.get(k) != v for k, v in extra.items()):
            ls.tasks.update(id=str(t.id), data={**t.data, **extra})
            n += 1
    return n


def _versions(task) -> list[str]:
    return [
        v.strip() for v in (getattr(task, "predictions_model_versions", None) or "").split(",") if v.strip()
    ]
