"""Talk to a Label Studio server through ``label-studio-sdk``: projects, push, pull and status.

The client reads ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``. One project per (action, kind),
because the label config is the action's taxonomy. Push is idempotent: a project is found by its title,
tasks by ``data.sample_key``; a second push only adds new pairs and never touches annotations, and a
config change on a project that already has annotations is refused unless ``force``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from annotation.configs import KINDS, label_config
from annotation.convert import ConvertReport, DEFAULT_TOLERANCE, convert_tasks, parse_export
from annotation.predictions import load_run, prediction_result
from annotation.taxonomy import load_action_taxonomy
from annotation.tasks import media_root_from_env, relative_to_root, task_data
from schemas.dataset_dir import DatasetDir, load_dataset, save_dataset
from schemas.errors import ToolkitError
from schemas.io import write_json

TITLE_MAX = 50  # Label Studio's project title limit
IMPORT_BATCH = 250


def connect(url: str | None = None, api_key: str | None = None):
    """A ``LabelStudio`` client from arguments or ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``; checked."""
    from label_studio_sdk import LabelStudio
    from label_studio_sdk.core.api_error import ApiError

    url = url or os.environ.get("LABEL_STUDIO_URL")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not url or not api_key:
        raise ToolkitError("set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (printed by `curate annotate serve`)",
                           key="LABEL_STUDIO_URL" if not url else "LABEL_STUDIO_API_KEY")
    ls = LabelStudio(base_url=url.rstrip("/"), api_key=api_key)
    try:
        ls.users.whoami()
    except ApiError as e:
        raise ToolkitError(f"Label Studio refused the API key (HTTP {e.status_code})", key="LABEL_STUDIO_API_KEY") \
            from None
    except Exception as e:  # httpx connection errors
        raise ToolkitError(f"cannot reach Label Studio at {url}: {type(e).__name__}", key="LABEL_STUDIO_URL") from None
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
        raise ToolkitError(f"project title {t!r} must have 3 to {TITLE_MAX} characters; pass a shorter --project",
                           key="--project")
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
    return list(ls.tasks.list(project=project_id, fields="all" if with_predictions else "task_only",
                              page_size=1000))


def _norm_xml(xml: str | None) -> str:
    return "\n".join(line.rstrip() for line in (xml or "").strip().splitlines())


@dataclass
class PushResult:
    """What a push did to one project."""

    action: str
    kind: str
    project_id: int
    title: str
    created: bool = False
    config_updated: bool = False
    tasks_added: int = 0
    tasks_existing: int = 0
    predictions_added: int = 0
    predictions_skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI."""
        state = "created" if self.created else ("config updated" if self.config_updated else "found")
        pred = f", {self.predictions_added} predictions" if self.predictions_added else ""
        return (f"{self.title} (project {self.project_id}, {state}): {self.tasks_added} tasks added, "
                f"{self.tasks_existing} already there{pred}")


def _ensure_project(ls, title: str, xml: str, *, force: bool, dataset_name: str):
    from label_studio_sdk.core.api_error import ApiError

    project = find_project(ls, title)
    try:
        if project is None:
            p = ls.projects.create(title=title, label_config=xml,
                                   description=f"VidDiff toolkit project for dataset {dataset_name}")
            return ls.projects.get(id=p.id), True, False
        full = ls.projects.get(id=project.id)
        if _norm_xml(full.label_config) == _norm_xml(xml):
            return full, False, False
        if (full.total_annotations_number or 0) > 0 and not force:
            raise ToolkitError(f"the label config of project {full.id} changed (taxonomy edited?) and it already has "
                               f"{full.total_annotations_number} annotations; pass --force to update it anyway",
                               key=title)
        ls.projects.update(id=full.id, label_config=xml)
        return ls.projects.get(id=full.id), False, True
    except ApiError as e:
        raise ToolkitError(f"Label Studio refused the project: {_api_detail(e)}", key=title) from None


def _api_detail(e) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        return json.dumps(body.get("validation_errors") or body.get("detail") or body)[:300]
    return str(body)[:300]


def _ensure_storage(ls, project_id: int, folder: Path, media_root: Path) -> None:
    relative_to_root(folder, media_root)  # strictly under the root, else a clear error
    existing = ls.import_storage.local.list(project=project_id)
    if any(Path(s.path or "") == folder for s in existing):
        return
    # Not synced on purpose: it only grants /data/local-files/ access to files under `folder`.
    ls.import_storage.local.create(project=project_id, path=str(folder), title=f"viddiff {folder.name}",
                                   use_blob_urls=False)


def _common_folder(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p.parent) for p in paths]))


def push(dataset: str | os.PathLike, kind: str, *, project: str | None = None,
         predictions: str | os.PathLike | None = None, model_version: str | None = None,
         media_root: str | os.PathLike | None = None, force: bool = False, composite: bool = False,
         actions: list[str] | None = None, ls=None, progress: bool = True) -> list[PushResult]:
    """Create or find one project per action, set up local-files access and import tasks for new pairs.

    ``predictions``: a run directory; its outputs are imported as predictions with ``model_version``
    (default: the run directory's name), once per task and model version.
    """
    from tqdm import tqdm

    if kind not in KINDS:
        raise ToolkitError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", key="--kind")
    ds = load_dataset(dataset)
    root = media_root_from_env(media_root)
    run = load_run(predictions, kind) if predictions else None
    version = model_version or (Path(predictions).resolve().name if predictions else None)
    ls = ls or connect()
    wanted = actions or sorted({s["action"] for s in ds.samples})
    unknown = set(wanted) - {s["action"] for s in ds.samples}
    if unknown:
        raise ToolkitError(f"no samples of action {sorted(unknown)[0]!r}", file=str(ds.root), key="--action")
    results = []
    for action in wanted:
        rows = [s for s in ds.samples if s["action"] == action]
        xml = label_config(kind, load_action_taxonomy(ds, action), composite=composite)
        title = project_title(ds, kind, action, project)
        proj, created, updated = _ensure_project(ls, title, xml, force=force, dataset_name=ds.meta["name"])
        res = PushResult(action, kind, proj.id, title, created, updated)
        comps = {}
        if composite:
            from annotation.composite import make_composites

            comps = make_composites(ds, rows)
        _ensure_storage(ls, proj.id, _common_folder([ds.video_path(s, i) for s in rows for i in range(2)]), root)
        if comps:
            _ensure_storage(ls, proj.id, _common_folder(list(comps.values())), root)
        existing = {t.data.get("sample_key"): t for t in list_tasks(ls, proj.id, with_predictions=run is not None)}
        res.tasks_existing = sum(1 for s in rows if s["sample_key"] in existing)
        new_tasks, new_preds = [], []
        for s in tqdm(rows, desc=f"push {action}", unit="pair", disable=not progress):
            key = s["sample_key"]
            if key in existing and (run is None or key not in run or version in _versions(existing[key])):
                continue  # the task is there, and so is this run's prediction (or there is none to add)
            data = task_data(ds, s, root, comps.get(key))
            pred = None
            if run is not None and key in run:
                result, skipped = prediction_result(kind, proj.label_config, run[key], data)
                res.predictions_skipped += [f"{key}: {m}" for m in skipped]
                if result:
                    pred = {"model_version": version, "result": result}
            if key not in existing:
                task = {"data": data}
                if pred:
                    task["predictions"] = [pred]
                    res.predictions_added += 1
                new_tasks.append(task)
            elif pred:
                new_preds.append({"task": existing[key].id, **pred})
        for i in range(0, len(new_tasks), IMPORT_BATCH):
            ls.projects.import_tasks(id=proj.id, request=new_tasks[i:i + IMPORT_BATCH], return_task_ids=True)
        res.tasks_added = len(new_tasks)
        if new_preds:
            ls.projects.import_predictions(id=proj.id, request=new_preds)
            res.predictions_added += len(new_preds)
        had = any(version in _versions(t) for t in existing.values())
        if run is not None and (res.predictions_added or had):
            ls.projects.update(id=proj.id, model_version=version)  # these predictions pre-fill the editor
        results.append(res)
    _record_projects(ds, results)
    return results


def _versions(task) -> list[str]:
    return [v.strip() for v in (getattr(task, "predictions_model_versions", None) or "").split(",") if v.strip()]


def _record_projects(ds: DatasetDir, results: list[PushResult]) -> None:
    meta = json.loads(json.dumps(ds.meta))
    projects = meta.setdefault("annotation", {}).setdefault("projects", {})
    for r in results:
        projects.setdefault(r.kind, {})[r.action] = {"id": r.project_id, "title": r.title}
    if meta != ds.meta:
        save_dataset(ds.root, meta, ds.samples)
        ds.meta = meta


def _projects_of(ds: DatasetDir, ls, kind: str, project: str | None) -> dict[str, Any]:
    recorded = (ds.meta.get("annotation") or {}).get("projects", {}).get(kind, {})
    out = {}
    for action in sorted({s["action"] for s in ds.samples}):
        title = recorded.get(action, {}).get("title") if not project else project_title(ds, kind, action, project)
        p = find_project(ls, title or project_title(ds, kind, action))
        if p is not None:
            out[action] = p
    return out


def pull(dataset: str | os.PathLike, kind: str | None = None, *, project: str | None = None,
         reviewer: str | None = None, tolerance: int = DEFAULT_TOLERANCE, ls=None) -> list[ConvertReport]:
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
            raise ToolkitError(f"no {k} project of this dataset on the server (push first)", file=str(ds.root))
        for action, p in projects.items():
            full = ls.projects.get(id=p.id)
            raw = b"".join(ls.projects.exports.download_sync(id=p.id, export_type="JSON", download_all_tasks=True))
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            tasks = parse_export(raw, f"project {p.id} export")
            reports.append(convert_tasks(ds, k, tasks, raw=raw, export_name=f"{action}-project{p.id}-{stamp}.json",
                                         configs={action: full.label_config}, reviewer=reviewer,
                                         tolerance=tolerance))
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
                for t in list_tasks(ls, p.id):
                    n = (t.total_annotations or 0)
                    st.tasks += 1
                    st.annotated += n >= 1
                    st.doubly_annotated += n >= 2
            out.append(st)
    return out
