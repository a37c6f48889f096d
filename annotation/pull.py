"""Pull each Label Studio project's JSON export into the dataset: kept verbatim, then converted
(``annotation/convert.py``)."""

from __future__ import annotations

import os

from annotation.configs import KINDS
from annotation.connect import api_errors, connect
from annotation.convert import ConvertReport, convert_tasks
from annotation.exports import export_name_for, parse_export
from annotation.projects import projects_of
from annotation.resolve import DEFAULT_TOLERANCE
from schemas.dataset_dir import load_dataset
from schemas.errors import ToolkitError
from schemas.io import write_json


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
        projects = projects_of(ds, ls, k, project)
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
