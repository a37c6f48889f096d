"""Label Studio projects of a dataset: titles, lookup, creation and label-config updates, local-files
storage, overlap settings, and the projects recorded in ``dataset.json``.

One project per (action, kind), because the label config is the action's taxonomy. A project is found by
its title; a config change on a project that already has annotations is refused unless ``force``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotation.connect import api_errors
from annotation.results import config_meaning, norm_xml
from annotation.tasks import relative_to_root
from schemas.dataset_dir import DatasetDir, save_dataset
from schemas.errors import ToolkitError

if TYPE_CHECKING:
    from annotation.push import PushResult

TITLE_MAX = 50  # Label Studio's project title limit


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


def ensure_project(ls, title: str, xml: str, *, dataset_name: str, full=None):
    """Create the project, or set the label config of ``full`` (the existing project, whose change was
    checked by :func:`check_config_change`); returns ``(project, created, config_updated)``."""
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


def check_config_change(ls, title: str, xml: str, *, force: bool):
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


def ensure_storage(ls, project_id: int, folder: Path, media_root: Path) -> None:
    """Give the project local-files access to ``folder`` (under ``media_root``), once."""
    relative_to_root(folder, media_root)  # strictly under the root, else a clear error
    existing = ls.import_storage.local.list(project=project_id)
    if any(Path(s.path or "") == folder for s in existing):
        return
    # Not synced on purpose: it only grants /data/local-files/ access to files under `folder`.
    ls.import_storage.local.create(
        project=project_id, path=str(folder), title=f"viddiff {folder.name}", use_blob_urls=False
    )


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


def record_projects(ds: DatasetDir, results: list[PushResult]) -> None:
    """Record each pushed project's id and title in ``dataset.json`` (``annotation.projects``)."""
    meta = json.loads(json.dumps(ds.meta))
    projects = meta.setdefault("annotation", {}).setdefault("projects", {})
    for r in results:
        if r.project_id is not None:
            projects.setdefault(r.kind, {})[r.action] = {"id": r.project_id, "title": r.title}
    if meta != ds.meta:
        save_dataset(ds.root, meta, ds.samples)
        ds.meta = meta


def projects_of(ds: DatasetDir, ls, kind: str, project: str | None) -> dict[str, Any]:
    """``{action: project}`` on the server for ``kind``: by ``--project``, else the recorded or default title."""
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
