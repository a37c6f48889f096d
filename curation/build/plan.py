"""Planning a build: scan the sources, select, trim and pair clips per action, into samples and clip tasks.

Everything the build will write is computed here before any video work, so bad input fails early and
writes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.build.config import ActionSpec, BuildConfig
from curation.build.pairing import make_pairs
from curation.build.tasks import ClipResult, ClipTask
from curation.sources import ClipRecord, get_adapter, source_class
from curation.sources.records import Skip, count_reasons
from schemas.dataset_dir import sample_hash
from schemas.errors import ToolkitError
from viddiff_runtime.media import fmt_fps

log = logging.getLogger(__name__)

PAIR_SIZES = ("smaller", "larger", "keep")


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


class NotTrimmable(Exception):
    """A clip has no range for its action's ``trim`` (no sub-action with the asked label): it is left out
    and counted under this reason, while a range outside the clip is a :class:`ToolkitError`."""


def clip_range(clip: ClipRecord, action: ActionSpec) -> tuple[int, int]:
    """The ``[start, end)`` of ``clip`` that ``action.trim`` asks for; :class:`NotTrimmable` when it has none.

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
            raise NotTrimmable(f"no sub-action labelled {trim['first']!r}")
        start = firsts[0]["start"]
        lasts = [s for s in clip.subactions if s["label"] == trim["last"] and s["end"] > start]
        if not lasts:
            raise NotTrimmable(f"no sub-action labelled {trim['last']!r} after {trim['first']!r}")
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

    ``exclude``: media path -> why, for sources that failed :func:`curation.build.media_check.check_plan_media` with
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
        trim_drops: list[Skip] = []
        for clip in clips:
            try:
                ranged.append((clip, clip_range(clip, action)))
            except NotTrimmable as e:
                trim_drops.append(Skip(clip.clip_id, str(e)))
                log.info("%s: clip %s left out: %s", action.key, clip.clip_id, e)
        for why, n in count_reasons(trim_drops).items():
            dropped[why] = dropped.get(why, 0) + n
            example = next(s[0] for s in trim_drops if s.reason == why)
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
