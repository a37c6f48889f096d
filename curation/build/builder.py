"""`curate build`: scan sources, select and pair clips per action, trim frame-exact clips, write DATASET.

The build is planned completely before any video work (so bad input fails early and writes nothing), the
source frames every clip needs are then decoded once to check they exist (:func:`check_plan_media`: a
truncated or garbage source stops the build before the first clip is written, or with ``on_bad_media:
skip`` is left out and the plan redone without it), then it runs one task per clip on a local thread pool or on Ray, with a progress bar. Each finished clip
gets a sidecar ``.build/clips/<key>.<side>.json`` holding its task spec and sha256; a rerun reuses a
clip whose spec is unchanged and whose bytes still match, so a build killed with ``kill -9`` resumes,
a finished build does no video work, and a changed config redoes only the clips it changes. Rows whose
clips are unchanged keep what later steps filled in (differences, labels, timestamps).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from curation.build.config import ActionSpec, BuildConfig, load_build_config
from curation.build.pairing import make_pairs
from curation.sources import ClipRecord, get_adapter, source_class
from curation.sources.base import Skip, count_reasons, reason_of
from schemas import toolkit_version
from schemas.dataset_dir import (
    DATASET_JSON,
    SAMPLES_JSONL,
    load_dataset,
    sample_hash,
    save_dataset,
    sha256_file,
)
from schemas.errors import ToolkitError
from schemas.ids import inside
from schemas.io import read_json, write_json
from schemas.outdir import output_folder, remove_temps
from viddiff_runtime.media import fmt_fps

log = logging.getLogger(__name__)

LATER_STEP_FIELDS = (
    "differences_annotated",
    "differences_gt",
    "n_differences_open_prediction",
    "retrieval_frames",
)
BUILD_DIR = ".build"
PAIR_SIZES = ("smaller", "larger", "keep")


@dataclass(frozen=True)
class ClipTask:
    """One stored clip to make: which source frames ``[start, end)`` at which fps, and how to encode."""

    sample_key: str
    side: Literal["a", "b"]
    src: str
    src_kind: Literal["video", "frames"]
    src_fps: float
    start: int
    end: int
    fps: float | None
    crf: int
    preset: str
    max_height: int | None
    size: tuple[int, int] | None = None

    @property
    def rel_path(self) -> str:
        """Where the clip lives inside the dataset directory."""
        return f"videos/{self.sample_key}/{self.side}.mp4"

    def spec_hash(self) -> str:
        """Hash of everything that determines the clip's bytes (the resume key)."""
        spec = asdict(self)
        if spec["size"] is None:  # clips built before pair sizes existed keep their key
            del spec["size"]
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


@dataclass
class ClipResult:
    """What a finished task wrote: frame count, fps, sha256."""

    sample_key: str
    side: str
    n_frames: int
    fps: float
    sha256: str
    reused: bool = False


@dataclass
class BuildPlan:
    """Everything the build will write, computed before any video work."""

    config: BuildConfig
    out: Path
    samples: list[dict[str, Any]]
    tasks: list[ClipTask]
    notes: list[str] = field(default_factory=list)
    actions_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    done: dict[tuple[str, str], ClipResult] = field(default_factory=dict)  # clips an earlier run finished

    def summary(self) -> list[str]:
        """One line per source and action with its dropped clips per reason and its counted facts."""
        lines = []
        for name, m in sorted(self.sources_meta.items()):
            parts = [f"{m['clips']} clip(s)"]
            parts += [f"{k} {v}" for k, v in m.get("facts", {}).items()]
            if m.get("dropped"):
                parts.append("dropped: " + ", ".join(f"{k} {v}" for k, v in m["dropped"].items()))
            if m.get("adjusted"):
                parts.append("kept but adjusted: " + ", ".join(f"{k} {v}" for k, v in m["adjusted"].items()))
            lines.append(f"{name}: " + "; ".join(parts))
        for key, a in self.actions_meta.items():
            if a.get("dropped"):
                lines.append(
                    f"{key}: {a['clips_selected']} clip(s) selected; dropped: "
                    + ", ".join(f"{k} {v}" for k, v in a["dropped"].items())
                )
        return lines


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


# ------------------------------------------------------------------------------------------- planning


def trim_range(clip: ClipRecord, action: ActionSpec) -> tuple[int, int] | str:
    """The ``[start, end)`` of ``clip`` that ``action.trim`` asks for, or the reason it has none.

    ``by: clip`` takes the source's own segment (else the whole media); ``by: subactions`` runs from the
    start of the first sub-action labelled ``first`` to the end of the last one labelled ``last`` after
    it; ``by: frames`` takes ``start``/``end`` as given. ``pad`` widens the range, clamped to the media.
    """
    trim = action.trim
    by = trim.get("by", "clip")
    if by == "clip":
        start, end = clip.segment if clip.segment is not None else (0, clip.n_frames)
    elif by == "subactions":
        firsts = [s for s in clip.subactions if s["label"] == trim["first"]]
        if not firsts:
            return f"no sub-action labelled {trim['first']!r}"
        start = firsts[0]["start"]
        lasts = [s for s in clip.subactions if s["label"] == trim["last"] and s["end"] > start]
        if not lasts:
            return f"no sub-action labelled {trim['last']!r} after {trim['first']!r}"
        end = lasts[-1]["end"]
    else:
        start, end = int(trim["start"]), int(trim["end"])
    pad = int(trim.get("pad", 0))
    if pad:
        start, end = max(0, start - pad), min(clip.n_frames, end + pad)
    if not (0 <= start < end <= clip.n_frames):
        raise ToolkitError(
            f"trim [{start}, {end}) is outside clip {clip.clip_id} ({clip.n_frames} frames)",
            file=clip.media_path,
            key=f"{action.where}.trim",
        )
    return start, end


def _provenance(clip: ClipRecord, root: Path, start: int, end: int) -> dict[str, Any]:
    try:
        rel = str(Path(clip.media_path).resolve().relative_to(root.resolve()))
    except ValueError:
        rel = clip.media_path
    skill = None
    if clip.skill is not None:
        skill = {k: clip.skill.get(k) for k in ("level", "score", "scale", "rank")}
    return {
        "dataset": clip.dataset,
        "clip_id": clip.clip_id,
        "path": rel,
        "frames": [start, end],
        "fps": float(clip.fps),
        "participant": clip.participant,
        "skill": skill,
        "view": clip.view,
    }


def _size(clip: ClipRecord) -> tuple[int, int] | None:
    """The clip's frame size (width, height) as its scan recorded it, else probed."""
    w, h = clip.meta.get("width"), clip.meta.get("height")
    if isinstance(w, int) and isinstance(h, int):
        return w, h
    from viddiff_runtime import media

    try:
        info = media.probe(clip.media_path, fps=clip.fps if clip.media_kind == "frames" else None)
    except ToolkitError:
        return None
    return info.width, info.height


def pair_size(
    a: tuple[int, int] | None, b: tuple[int, int] | None, mode: str, max_height: int | None
) -> tuple[int, int] | None:
    """One (even) frame size for both clips of a pair, or None when they already match or ``mode`` is keep.

    ``smaller`` (the default) scales the larger clip down to the smaller one, ``larger`` scales the smaller
    one up; ``max_height`` then caps the height (width scaled alike).
    """
    if mode == "keep" or a is None or b is None or a == b:
        return None
    w, h = min(a, b, key=lambda s: s[0] * s[1]) if mode == "smaller" else max(a, b, key=lambda s: s[0] * s[1])
    if max_height and h > max_height:
        w, h = round(w * max_height / h), max_height
    return w - w % 2, h - h % 2


def plan_build(config: BuildConfig, out: Path, *, exclude: dict[str, Skip] | None = None) -> BuildPlan:
    """Scan, select, trim and pair everything; return the samples (without clip facts) and clip tasks.

    ``exclude``: media path -> why, for sources that failed :func:`check_plan_media` with
    ``on_bad_media: skip``; their clips are left out (and counted) as if the scan had skipped them.
    """
    exclude = exclude or {}
    scans: dict[str, list[ClipRecord]] = {}
    sources_meta: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    warnings: list[str] = []
    for name in sorted({a.source for a in config.actions}):
        adapter = get_adapter(name)
        block = config.sources[name]
        result = adapter.scan(Path(block["root"]), block)
        bad = [exclude[c.media_path] for c in result.clips if c.media_path in exclude]
        result.skipped.extend(bad)
        result.clips = [c for c in result.clips if c.media_path not in exclude]
        scans[name] = result.clips
        sources_meta[name] = {
            "root": config.raw["sources"][name]["root"],
            "options": {k: v for k, v in config.raw["sources"][name].items() if k != "root"},
            "clips": len(result.clips),
            "skipped": len(result.skipped),
            "dropped": result.dropped(),
            "adjusted": result.adjusted_counts(),
            "facts": dict(result.facts),
            "assumptions": list(result.assumptions),
        }
        warnings.extend(result.assumptions)
        strict = block.get("on_bad_media", "error") != "skip"
        for item in result.skipped:
            what, why = item
            if strict and getattr(item, "bad_media", False):
                raise ToolkitError(
                    f"{why} (set sources.{name}.on_bad_media: skip to leave it out)",
                    file=what,
                    key=f"sources.{name}",
                )
            log.info("%s: skipped %s: %s", name, what, why)
        for what, why in result.adjusted:
            log.info("%s: adjusted %s: %s", name, what, why)
        if result.skipped:
            notes.append(
                f"{name}: {len(result.skipped)} item(s) skipped during scan "
                f"(see `curate sources scan {name} ROOT`)"
            )

    samples: list[dict[str, Any]] = []
    tasks: list[ClipTask] = []
    actions_meta: dict[str, dict[str, Any]] = {}
    enc = config.encode
    for action in config.actions:
        adapter = get_adapter(action.source)
        clips = adapter.select(scans[action.source], action.select, where=action.where)
        dropped = adapter.missing_counts(scans[action.source], action.select)
        ranged: list[tuple[ClipRecord, tuple[int, int]]] = []
        trim_drops: list[tuple[str, str]] = []
        for clip in clips:
            r = trim_range(clip, action)
            if isinstance(r, str):
                trim_drops.append((clip.clip_id, r))
                log.info("%s: clip %s left out: %s", action.key, clip.clip_id, r)
            else:
                ranged.append((clip, r))
        for why, n in count_reasons(trim_drops).items():
            dropped[why] = dropped.get(why, 0) + n
            example = next(c for c, w in trim_drops if reason_of(w) == why)
            notes.append(f"{action.key}: {n} clip(s) left out: {why} (e.g. {example})")
        if not ranged:
            raise ToolkitError(
                f"no selected clip can be trimmed as asked ({action.trim})",
                file=str(config.path),
                key=f"{action.where}.trim",
            )
        if action.fps is None:
            rates = sorted({float(c.fps) for c, _ in ranged})
            if len(rates) > 1:
                raise ToolkitError(
                    f"fps mismatch between clips that could be paired ({', '.join(map(fmt_fps, rates))}"
                    " fps): set `fps` for this action",
                    file=str(config.path),
                    key=f"{action.where}.fps",
                )
        else:
            slow = sorted({float(c.fps) for c, _ in ranged if float(c.fps) < action.fps})
            if slow:
                raise ToolkitError(
                    f"fps {fmt_fps(action.fps)} is above the source fps {fmt_fps(slow[0])}",
                    file=str(config.path),
                    key=f"{action.where}.fps",
                )
        by_id = {c.clip_id: r for c, r in ranged}
        result = make_pairs(
            [c for c, _ in ranged],
            action.count,
            action.strategy,
            seed=config.seed,
            key=action.key,
            distinct_participants=action.distinct_participants,
            min_gap=action.min_gap,
        )
        if result.note:
            notes.append(f"{action.key}: {result.note}")
            log.warning("%s: %s", action.key, result.note)
        out_fps = action.fps if action.fps is not None else float(ranged[0][0].fps)
        actions_meta[action.key] = {
            "name": action.name,
            "description": action.description,
            "domain": action.domain,
            "split": action.split,
            "split_origin": "config" if action.split else None,
            "source_dataset": source_class(action.source).dataset_name,
            "fps": out_fps,
            "pairs_requested": action.count,
            "pairs_built": len(result.pairs),
            "pair_size": action.pair_size,
            "clips_selected": len(clips),
            "dropped": dict(sorted(dropped.items())),
        }
        root = Path(config.sources[action.source]["root"])
        for i, pair in enumerate(result.pairs):
            key = f"{action.key}_{i}"
            videos = []
            sizes = {"a": _size(pair.a), "b": _size(pair.b)}
            size = pair_size(sizes["a"], sizes["b"], action.pair_size, enc["max_height"])
            for side, clip in (("a", pair.a), ("b", pair.b)):
                start, end = by_id[clip.clip_id]
                task = ClipTask(
                    sample_key=key,
                    side=side,
                    src=str(clip.media_path),
                    src_kind=clip.media_kind,
                    src_fps=float(clip.fps),
                    start=start,
                    end=end,
                    fps=action.fps,
                    crf=enc["crf"],
                    preset=enc["preset"],
                    max_height=enc["max_height"],
                    size=size,
                )
                tasks.append(task)
                prov = _provenance(clip, root, start, end)
                prov.update(
                    size=list(sizes[side]) if sizes[side] else None,
                    resized_to=list(size) if size and tuple(size) != sizes[side] else None,
                    pair_size=action.pair_size,
                )
                videos.append(
                    {
                        "path": task.rel_path,
                        "fps_original": out_fps,
                        "frames_trim": None,
                        "n_frames": None,
                        "sha256": None,
                        "source": prov,
                    }
                )
            samples.append(
                {
                    "sample_key": key,
                    "action": action.key,
                    "action_name": action.name,
                    "action_description": action.description,
                    "domain": action.domain,
                    "split": action.split,
                    "source_dataset": source_class(action.source).dataset_name,
                    "sample_hash": sample_hash(key),
                    "videos": videos,
                    "differences_annotated": None,
                    "differences_gt": None,
                    "n_differences_open_prediction": None,
                    "retrieval_frames": None,
                    "pairing": pair.info,
                }
            )
    return BuildPlan(config, out, samples, tasks, notes, actions_meta, sources_meta, warnings)


def check_plan_media(
    tasks: list[ClipTask], *, workers: int = 4, progress: bool | None = None
) -> dict[str, str]:
    """Decode the source frames every task needs (once per source, up to its largest end), in parallel.

    Returns ``{source path: why}`` for sources that are shorter than needed or do not decode; nothing is
    written. Run before the first clip, so a truncated or garbage source cannot stop a build half-way.
    """
    from viddiff_runtime import media

    needed: dict[str, int] = {}
    for t in tasks:
        needed[t.src] = max(needed.get(t.src, 0), t.end)
    bad: dict[str, str] = {}
    if not needed:
        return bad

    def one(item: tuple[str, int]) -> tuple[str, str | None]:
        src, end = item
        try:
            media.check_frames(src, end, what=f"clip frames up to {end}")
        except ToolkitError as e:
            return src, str(e).split(": ", 1)[-1] if e.file == src else str(e)
        return src, None

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(needed)))) as pool:
        for src, why in tqdm(
            pool.map(one, sorted(needed.items())),
            total=len(needed),
            desc="check media",
            unit="source",
            leave=False,
            disable=None if progress is None else not progress,
        ):
            if why is not None:
                bad[src] = why
    return bad


# ------------------------------------------------------------------------------------------ execution


def _sidecar(out: Path, task: ClipTask) -> Path:
    return out / BUILD_DIR / "clips" / f"{task.sample_key}.{task.side}.json"


def finished(out: Path, task: ClipTask) -> ClipResult | None:
    """The result of an earlier run of ``task`` if its clip is still there, unchanged (sha256)."""
    side = _sidecar(out, task)
    clip = out / task.rel_path
    if not (side.exists() and clip.exists()):
        return None
    try:
        rec = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if rec.get("spec") != task.spec_hash() or rec.get("sha256") != sha256_file(clip):
        return None
    return ClipResult(task.sample_key, task.side, rec["n_frames"], rec["fps"], rec["sha256"], reused=True)


def run_task(out: str, task: ClipTask) -> ClipResult:
    """Make one clip (trim + verify, atomic) and record its sidecar. Safe to run in any worker."""
    from viddiff_runtime import media

    out_path = Path(out)
    inside(out_path, task.rel_path, what="sample_key")  # a key can never make a clip land outside --out
    done = finished(out_path, task)
    if done is not None:
        return done
    info = media.trim(
        task.src,
        out_path / task.rel_path,
        task.start,
        task.end,
        src_fps=task.src_fps if task.src_kind == "frames" else None,
        fps=task.fps,
        crf=task.crf,
        preset=task.preset,
        max_height=task.max_height,
        size=task.size,
    )
    digest = sha256_file(out_path / task.rel_path)
    write_json(
        _sidecar(out_path, task),
        {
            "spec": task.spec_hash(),
            "task": asdict(task),
            "sha256": digest,
            "n_frames": info.n_frames,
            "fps": float(info.fps),
        },
    )
    return ClipResult(task.sample_key, task.side, info.n_frames, float(info.fps), digest)


def _run_local(out: Path, tasks: list[ClipTask], workers: int, bar: tqdm) -> list[ClipResult]:
    results = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(run_task, str(out), t) for t in tasks]
        try:
            for fut in as_completed(futures):
                results.append(fut.result())
                bar.update(1)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return results


def _run_ray(out: Path, tasks: list[ClipTask], workers: int, bar: tqdm) -> list[ClipResult]:
    """Run the same tasks on Ray: ``RAY_ADDRESS`` picks a cluster, else a local Ray with ``workers`` CPUs."""
    import ray

    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": max(1, workers)}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(run_task)
        pending = [remote.remote(str(out), t) for t in tasks]
        results = []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                results.append(ray.get(done[0]))
            except ray.exceptions.RayTaskError as e:
                cause = e.cause if isinstance(getattr(e, "cause", None), Exception) else None
                raise (
                    cause if isinstance(cause, ToolkitError) else ToolkitError(str(e).splitlines()[0])
                ) from None
            bar.update(1)
        return results
    finally:
        if started:
            ray.shutdown()


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
    config, out_path = plan.config, plan.out
    for line in plan.warnings:
        log.info("assumption: %s", line)

    out_path.mkdir(parents=True, exist_ok=True)
    _remove_leftover_temps(out_path)
    results = dict(plan.done)
    todo = [t for t in plan.tasks if (t.sample_key, t.side) not in results]
    with tqdm(
        total=len(plan.tasks),
        initial=len(plan.tasks) - len(todo),
        desc="build clips",
        unit="clip",
        disable=None if progress is None else not progress,
    ) as bar:
        runner = _run_ray if executor == "ray" else _run_local
        for r in runner(out_path, todo, workers, bar) if todo else []:
            results[(r.sample_key, r.side)] = r

    previous = {}
    if (out_path / SAMPLES_JSONL).exists() and (out_path / DATASET_JSON).exists():
        try:
            previous = load_dataset(out_path).by_key
        except ToolkitError as e:
            log.warning("previous samples not reused: %s", e)
    for row in plan.samples:
        for side, video in zip("ab", row["videos"]):
            r = results[(row["sample_key"], side)]
            video.update(
                frames_trim=[0, r.n_frames, None], n_frames=r.n_frames, sha256=r.sha256, fps_original=r.fps
            )
        old = previous.get(row["sample_key"])
        if old and [v.get("sha256") for v in old["videos"]] == [v["sha256"] for v in row["videos"]]:
            for f in LATER_STEP_FIELDS:
                row[f] = old.get(f)
            row["split"] = old.get("split", row["split"])
    meta = {
        "name": config.name,
        "version": config.version,
        "toolkit_version": toolkit_version(),
        "config_sha256": config.sha256,
        "seed": config.seed,
        "actions": plan.actions_meta,
        "sources": plan.sources_meta,
        "assumptions": list(plan.warnings),
    }
    if (out_path / DATASET_JSON).exists():
        old_meta = read_json(out_path / DATASET_JSON)
        for k in ("annotation", "publish", "meta"):
            if k in old_meta:
                meta[k] = old_meta[k]
        for key, a in meta["actions"].items():
            old_a = old_meta.get("actions", {}).get(key, {})
            if old_a.get("split_origin") in ("llm", "manual"):
                a.update(
                    split=old_a["split"],
                    split_origin=old_a["split_origin"],
                    split_reason=old_a.get("split_reason"),
                )
    _save_if_changed(out_path, meta, plan.samples)
    _remove_stale(out_path, {t.rel_path for t in plan.tasks})
    made = sum(not r.reused for r in results.values())
    return BuildReport(
        out_path, len(plan.samples), made, len(results) - made, plan.notes, plan.warnings, plan.summary()
    )


def _save_if_changed(out: Path, meta: dict, samples: list[dict]) -> None:
    """Write dataset.json and samples.jsonl only when their content changes (a rerun touches nothing)."""
    meta_text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    rows_text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in samples)
    same = (
        (out / DATASET_JSON).exists()
        and (out / DATASET_JSON).read_text("utf-8") == meta_text
        and (out / SAMPLES_JSONL).exists()
        and (out / SAMPLES_JSONL).read_text("utf-8") == rows_text
    )
    if not same:
        save_dataset(out, meta, samples)


def _remove_leftover_temps(out: Path) -> None:
    """Delete temporary files a killed run left behind (finished files are only ever renamed into place)."""
    remove_temps(out, ("videos/*/.*", f"{BUILD_DIR}/clips/.*", ".dataset.json.*", ".samples.jsonl.*"))


def _remove_stale(out: Path, keep: set[str]) -> None:
    """Delete clips (and sidecars) of pairs the config no longer produces.

    Only clips the build recorded as its own (a sidecar in ``.build/clips/``) are deleted: a user's mp4
    in ``videos/`` is never touched.
    """
    videos = out / "videos"
    if not videos.is_dir():
        return
    for clip in videos.glob("*/*.mp4"):
        rel = clip.relative_to(out).as_posix()
        side = out / BUILD_DIR / "clips" / f"{clip.parent.name}.{clip.stem}.json"
        if rel not in keep and side.is_file():
            clip.unlink()
            side.unlink(missing_ok=True)
    for d in videos.iterdir():
        if d.is_dir() and not any(d.iterdir()):
            shutil.rmtree(d)
