"""Talk to a Label Studio server through ``label-studio-sdk``: projects, push, pull and status.

The client reads ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``. One project per (action, kind),
because the label config is the action's taxonomy. Push is idempotent: a project is found by its title,
tasks by ``data.sample_key``; a second push adds new pairs and never touches annotations, and a config
change on a project that already has annotations is refused unless ``force``. Each task carries the
fingerprint of its inputs (``annotation/tasks.py``): a re-push replaces the data of an unannotated task
whose clips or taxonomy changed, and reports (leaves as is) an annotated one unless ``force``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation.configs import KINDS, label_config, video_scale
from annotation.convert import DEFAULT_TOLERANCE, ConvertReport, convert_tasks, export_name_for, parse_export
from annotation.predictions import load_run, prediction_result
from annotation.results import config_meaning, norm_xml
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
from schemas.dataset_dir import DatasetDir, load_dataset, save_dataset
from schemas.errors import ToolkitError
from schemas.io import write_json
from schemas.redact import register_secret
from viddiff_runtime import media

TITLE_MAX = 50  # Label Studio's project title limit
IMPORT_BATCH = 250


def connect(url: str | None = None, api_key: str | None = None):
    """A ``LabelStudio`` client from arguments or ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``; checked."""
    from label_studio_sdk import LabelStudio
    from label_studio_sdk.core.api_error import ApiError

    url = url or os.environ.get("LABEL_STUDIO_URL")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not url or not api_key:
        raise ToolkitError(
            "set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (printed by `curate annotate serve`)",
            key="LABEL_STUDIO_URL" if not url else "LABEL_STUDIO_API_KEY",
        )
    register_secret(api_key)
    ls = LabelStudio(base_url=url.rstrip("/"), api_key=api_key)
    try:
        ls.users.whoami()
    except ApiError as e:
        raise ToolkitError(
            f"Label Studio refused the API key (HTTP {e.status_code})", key="LABEL_STUDIO_API_KEY"
        ) from None
    except Exception as e:  # httpx connection errors
        raise ToolkitError(
            f"cannot reach Label Studio at {url}: {type(e).__name__}", key="LABEL_STUDIO_URL"
        ) from None
    return ls


def project_title(ds: DatasetDir, kind: str, action: str, title: str | None = None) -> str:
    """``<dataset> · <action> · <kind>``, or ``--project`` (``{action}`` placeholder, else `` · <action>``)."""
    if title:
        t = title.replace("{action}", action).replace("{kind}", kind)
        if "{action}" not in title and len({s["action"] for s in ds.samples}) > 1:
            t = f"{t} · {action}"
    else:
        t = f"{ds.meta['name']} · {action} · {kind}"
    if not 3 <= len(t) <= TITLE_MAX:
        raise ToolkitError(
            f"project title {t!r} must have 3 to {TITLE_MAX} characters; pass a shorter --project",
            key="--project",
        )
    return t


def find_project(ls, title: str):
    """The project with exactly this title, or None (an error if several share it)."""
    found = [p for p in ls.projects.list(title=title, page_size=100) if p.title == title]
    if len(found) > 1:
        raise ToolkitError(f"{len(found)} projects are titled {title!r}; rename all but one", key="--project")
    return found[0] if found else None


def list_tasks(ls, project_id: int, *, with_predictions: bool = False) -> list[Any]:
    """All tasks of a project with annotation counts (``with_predictions``: also their model versions,
    which Label Studio only fills in the slower ``fields=all`` listing)."""
    return list(
        ls.tasks.list(project=project_id, fields="all" if with_predictions else "task_only", page_size=1000)
    )


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


def _ensure_project(ls, title: str, xml: str, *, dataset_name: str, full=None):
    """Create the project, or set the label config of ``full`` (the existing project, whose change was
    checked by :func:`_check_config_change`); returns ``(project, created, config_updated)``."""
    with api_errors("create or update the project", key=title):
        if full is None:
            p = ls.projects.create(
                title=title,
                label_config=xml,
                description=f"VidDiff toolkit project for dataset {dataset_name}",
            )
            return ls.projects.get(id=p.id), True, False
        if norm_xml(full.label_config) == norm_xml(xml):
            return full, False, False
        ls.projects.update(id=full.id, label_config=xml)
        return ls.projects.get(id=full.id), False, True


def _check_config_change(ls, title: str, xml: str, *, force: bool):
    """The existing project titled ``title`` (None if there is none); refuses (before anything is changed)
    a change of what an annotated project asks, unless ``force``."""
    project = find_project(ls, title)
    if project is None:
        return None
    with api_errors("read the project", key=title):
        full = ls.projects.get(id=project.id)
    annotated = (full.total_annotations_number or 0) > 0
    if config_meaning(full.label_config) != config_meaning(xml) and annotated and not force:
        raise ToolkitError(
            f"the label config of project {full.id} changed (taxonomy edited?) and it already has "
            f"{full.total_annotations_number} annotations; pass --force to update it anyway",
            key=title,
        )
    return full


def _api_detail(e) -> str:
    """The useful part of an SDK ``ApiError`` (status and the body's message), never its HTTP headers."""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        text = json.dumps(body.get("validation_errors") or body.get("detail") or body, ensure_ascii=False)
    else:
        text = str(body)
    text = " ".join(text.split())[:300]
    status = getattr(e, "status_code", None)
    return f"HTTP {status}: {text}" if status else text


@contextlib.contextmanager
def api_errors(what: str, **where):
    """Turn a Label Studio ``ApiError`` raised inside the block into one ToolkitError line (no headers)."""
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as e:
        raise ToolkitError(f"Label Studio refused to {what}: {_api_detail(e)}", **where) from None


def _ensure_storage(ls, project_id: int, folder: Path, media_root: Path) -> None:
    relative_to_root(folder, media_root)  # strictly under the root, else a clear error
    existing = ls.import_storage.local.list(project=project_id)
    if any(Path(s.path or "") == folder for s in existing):
        return
    # Not synced on purpose: it only grants /data/local-files/ access to files under `folder`.
    ls.import_storage.local.create(
        project=project_id, path=str(folder), title=f"viddiff {folder.name}", use_blob_urls=False
    )


def _common_folder(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.parent) for p in paths]))


def overlap_settings(overlap: int | None, review: float | None) -> dict[str, Any] | None:
    """Label Studio project fields for "``overlap`` annotators on a ``review`` share of the tasks".

    Label Studio Community distributes tasks by ``maximum_annotations`` (annotators per task) and
    ``overlap_cohort_percentage`` (the share of tasks that get that many; the rest get one). ``--review``
    alone means two annotators on that share (the benchmark's second-annotator share); ``--overlap`` alone
    means every task.
    """
    if overlap is None and review is None:
        return None
    if overlap is not None and overlap < 1:
        raise ToolkitError(f"must be at least 1, got {overlap}", key="--overlap")
    if review is not None and not 0 < review <= 1:
        raise ToolkitError(f"must be a share in (0, 1], got {review}", key="--review")
    return {
        "maximum_annotations": overlap if overlap is not None else 2,
        "overlap_cohort_percentage": round(100 * review) if review is not None else 100,
        "show_overlap_first": True,
    }


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
        plan.found = _check_config_change(ls, plan.title, plan.xml, force=force)
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
    _record_projects(ds, results)
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
            _ensure_storage(ls, found.id, folder, root)
        updated = _fill_composites(ls, ds, found.id, plan, root)
    proj, created, config_updated = _ensure_project(
        ls, plan.title, plan.xml, dataset_name=ds.meta["name"], full=found
    )
    res = PushResult(plan.action, kind, proj.id, plan.title, created, config_updated, tasks_updated=updated)
    for folder in plan.folders:
        _ensure_storage(ls, proj.id, folder, root)
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


def _record_projects(ds: DatasetDir, results: list[PushResult]) -> None:
    meta = json.loads(json.dumps(ds.meta))
    projects = meta.setdefault("annotation", {}).setdefault("projects", {})
    for r in results:
        if r.project_id is not None:
            projects.setdefault(r.kind, {})[r.action] = {"id": r.project_id, "title": r.title}
    if meta != ds.meta:
        save_dataset(ds.root, meta, ds.samples)
        ds.meta = meta


def _projects_of(ds: DatasetDir, ls, kind: str, project: str | None) -> dict[str, Any]:
    recorded = (ds.meta.get("annotation") or {}).get("projects", {}).get(kind, {})
    out = {}
    for action in sorted({s["action"] for s in ds.samples}):
        title = (
            recorded.get(action, {}).get("title") if not project else project_title(ds, kind, action, project)
        )
        p = find_project(ls, title or project_title(ds, kind, action))
        if p is not None:
            out[action] = p
    return out


def pull(
    dataset: str | os.PathLike,
    kind: str | None = None,
    *,
    project: str | None = None,
    reviewer: str | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
    ls=None,
) -> list[ConvertReport]:
    """Download each project's JSON export, keep it verbatim and convert it (``convert`` for the rules)."""
    kinds = [kind] if kind else list(KINDS)
    ds = load_dataset(dataset)
    ls = ls or connect()
    users = {f"user:{u.id}": u.email for u in ls.users.list()}
    write_json(ds.root / "annotation" / "users.json", users)
    reports = []
    for k in kinds:
        projects = _projects_of(ds, ls, k, project)
        if not projects and kind:
            raise ToolkitError(
                f"no {k} project of this dataset on the server (push first)", file=str(ds.root)
            )
        for action, p in projects.items():
            with api_errors(f"export project {p.id}", key=p.title):
                full = ls.projects.get(id=p.id)
                raw = b"".join(
                    ls.projects.exports.download_sync(id=p.id, export_type="JSON", download_all_tasks=True)
                )
            tasks = parse_export(raw, f"project {p.id} export")
            if not any(a for t in tasks for a in t.get("annotations") or []):
                reports.append(
                    ConvertReport(
                        k,
                        "",
                        tasks=len(tasks),
                        note=f"{p.title} (project {p.id}): no annotations yet, nothing kept",
                    )
                )
                continue  # an empty export is not kept
            name = export_name_for(
                raw, f"{action}-project{p.id}"
            )  # by content: unchanged => not written again
            reports.append(
                convert_tasks(
                    ds,
                    k,
                    tasks,
                    raw=raw,
                    export_name=name,
                    configs={action: full.label_config},
                    reviewer=reviewer,
                    tolerance=tolerance,
                )
            )
    return reports


@dataclass
class ActionStatus:
    """Annotation progress of one (kind, action) project."""

    kind: str
    action: str
    project_id: int | None
    tasks: int = 0
    annotated: int = 0
    doubly_annotated: int = 0
    pairs_in_dataset: int = 0
    overlap_tasks: int = 0  # tasks Label Studio hands to two or more annotators
    max_annotations: int = 1  # the project's maximum_annotations
    cohort_percent: int | None = None  # the project's overlap_cohort_percentage


def status(dataset: str | os.PathLike, *, project: str | None = None, ls=None) -> list[ActionStatus]:
    """Per kind and action: tasks on the server, tasks with >= 1 and >= 2 (non-cancelled) annotations."""
    ds = load_dataset(dataset)
    ls = ls or connect()
    out = []
    counts = {}
    for s in ds.samples:
        counts[s["action"]] = counts.get(s["action"], 0) + 1
    for kind in KINDS:
        projects = _projects_of(ds, ls, kind, project)
        for action in sorted(counts):
            p = projects.get(action)
            st = ActionStatus(kind, action, p.id if p else None, pairs_in_dataset=counts[action])
            if p is not None:
                with api_errors(f"list the tasks of project {p.id}", key=p.title):
                    full = ls.projects.get(id=p.id)
                    tasks = list_tasks(ls, p.id)
                st.max_annotations = full.maximum_annotations or 1
                st.cohort_percent = full.overlap_cohort_percentage
                for t in tasks:
                    n = t.total_annotations or 0
                    st.tasks += 1
                    st.annotated += n >= 1
                    st.doubly_annotated += n >= 2
                    st.overlap_tasks += (getattr(t, "overlap", None) or 1) >= 2
            out.append(st)
    return out
