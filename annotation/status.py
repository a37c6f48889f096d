"""Annotation progress of a dataset's Label Studio projects, per kind and action."""

from __future__ import annotations

import os
from dataclasses import dataclass

from annotation.configs import KINDS
from annotation.connect import api_errors, connect
from annotation.projects import list_tasks, projects_of
from schemas.dataset_dir import load_dataset


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
        projects = projects_of(ds, ls, kind, project)
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
