"""`curate build`: scan sources, select and pair clips per action, trim frame-exact clips, write DATASET.

The build is planned completely before any video work (so bad input fails early and writes nothing), the
source frames every clip needs are then decoded once to check they exist (:func:`check_plan_media`: a
truncated or garbage source stops the build before the first clip is written, or with ``on_bad_media:
skip`` is left out and the plan redone without it), then it runs one task per clip on a local thread pool or on Ray, with a progress bar. Each finished clip
gets a sidecar ``.build/clips/<key>.<side>.json`` holding its task spec and sha256; a rerun reuses a
clip whose spec is unchanged and whose bytes still match, so a build killed with ``kill -9`` resumes,
a finished build does no video work, and a changed config redoes only the clips it changes. Rows whose
clips are unchanged keep what later steps filled in (differences, labels, timestamps).

This module holds the entry points (:func:`load_plan`, :func:`build`); the pieces live beside it:
:mod:`curation.build.plan` (scan, select, trim, pair), :mod:`curation.build.media_check`,
:mod:`curation.build.tasks` (one clip to make), :mod:`curation.build.resume` (making a clip with its
sidecar, cleanup), :mod:`curation.build.executors` (local and Ray) and :mod:`curation.build.rows`
(rows and ``dataset.json``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from curation.build.config import BuildConfig, load_build_config
from curation.build.executors import run_local, run_ray
from curation.build.media_check import check_plan_media
from curation.build.plan import BuildPlan, plan_build
from curation.build.resume import BUILD_DIR, finished, remove_leftover_temps, remove_stale
from curation.build.rows import dataset_meta, merge_rows, save_if_changed
from curation.sources.records import Skip
from schemas.dataset_dir import DATASET_JSON
from schemas.errors import ToolkitError
from schemas.outdir import output_folder

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did: how many clips were made or reused, notes, where the dataset is."""

    out: Path
    n_samples: int
    made: int
    reused: int
    notes: list[str]
    warnings: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def _plan_checked(config: BuildConfig, out: Path, *, workers: int, progress: bool | None) -> BuildPlan:
    """Plan, check the media of every clip still to make, and replan without bad media a skip allows."""
    exclude: dict[str, Skip] = {}
    while True:
        plan = plan_build(config, out, exclude=exclude)
        todo = []
        for t in plan.tasks:
            done = finished(out, t)
            if done is None:
                todo.append(t)
            else:
                plan.done[(t.sample_key, t.side)] = done
        bad = {
            src: why
            for src, why in check_plan_media(todo, workers=workers, progress=progress).items()
            if src not in exclude
        }
        if not bad:
            return plan
        action_source = {a.key: a.source for a in config.actions}
        src_source = {t.src: action_source[t.sample_key.rsplit("_", 1)[0]] for t in plan.tasks}
        for src, why in sorted(bad.items()):
            name = src_source.get(src, "")
            if config.sources.get(name, {}).get("on_bad_media", "error") != "skip":
                raise ToolkitError(
                    f"{why} (set sources.{name}.on_bad_media: skip to leave it out)",
                    file=src,
                    key=f"sources.{name}",
                )
            kind = "unreadable image" if Path(src).is_dir() else "unreadable video"
            exclude[src] = Skip(src, kind, why, bad_media=True)


def load_plan(
    config_path: str | Path, *, out: str | Path | None = None, workers: int = 1, progress: bool | None = None
) -> BuildPlan:
    """Load a config, plan its build and check the media it needs (what `curate build --dry-run` shows);
    writes nothing."""
    config = load_build_config(config_path)
    out_path = Path(out) if out is not None else config.output
    if out_path is None:
        raise ToolkitError(
            "no output directory: pass --out or set `output`", file=str(config.path), key="output"
        )
    try:
        return _plan_checked(config, out_path, workers=workers, progress=progress)
    except ToolkitError as e:
        if e.file is None:  # an adapter's option/select error names the key; add the config file
            raise ToolkitError(str(e), file=str(config.path)) from None
        raise


def build(
    config_path: str | Path,
    *,
    out: str | Path | None = None,
    workers: int = 1,
    executor: Literal["local", "ray"] = "local",
    progress: bool | None = None,
) -> BuildReport:
    """Build the dataset directory a config describes (see the module docstring); returns a report.

    The output folder is claimed first (:func:`schemas.outdir.output_folder`): a non-empty folder that
    is not a dataset folder is refused, and a second build into the same folder fails at once.
    """
    plan = load_plan(config_path, out=out, workers=max(1, workers), progress=progress)
    # the config itself may sit in the folder it builds (`curate build ds/config.yaml --out ds`)
    own_config = (plan.config.path.name,) if plan.config.path.resolve().parent == plan.out.resolve() else ()
    with output_folder(plan.out, "dataset", legacy=(DATASET_JSON, BUILD_DIR), ignore=own_config):
        return _build_planned(plan, workers=workers, executor=executor, progress=progress)


def _build_planned(plan: BuildPlan, *, workers: int, executor: str, progress: bool | None) -> BuildReport:
    out_path = plan.out
    for line in plan.warnings:
        log.info("assumption: %s", line)

    out_path.mkdir(parents=True, exist_ok=True)
    remove_leftover_temps(out_path)
    results = dict(plan.done)
    todo = [t for t in plan.tasks if (t.sample_key, t.side) not in results]
    with tqdm(
        total=len(plan.tasks),
        initial=len(plan.tasks) - len(todo),
        desc="build clips",
        unit="clip",
        disable=None if progress is None else not progress,
    ) as bar:
        runner = run_ray if executor == "ray" else run_local
        for r in runner(out_path, todo, workers, bar) if todo else []:
            results[(r.sample_key, r.side)] = r

    merge_rows(out_path, plan.samples, results)
    meta = dataset_meta(plan, out_path)
    save_if_changed(out_path, meta, plan.samples)
    remove_stale(out_path, {t.rel_path for t in plan.tasks})
    made = sum(not r.reused for r in results.values())
    return BuildReport(
        out_path, len(plan.samples), made, len(results) - made, plan.notes, plan.warnings, plan.summary()
    )
