"""Ego-Exo4D (basketball, soccer, music): one clip per downloaded take and camera, resolved via takes.json.

Layout (``reference/sources.md`` §2)::

    ROOT/takes.json                                       list of takes (take_uid, take_name, root_dir, …)
    ROOT/<root_dir>/frame_aligned_videos/cam01.mp4 …      root_dir already starts with ``takes/``
    ROOT/<root_dir>/frame_aligned_videos/downscaled/448/cam01.mp4 …   (preferred when present)
    ROOT/annotations/proficiency_demonstrator_{train,val}.json        {"annotations": [...]} or a bare list

Every path comes from ``takes.json`` (take names are not regular). Exo cameras are named ``camNN`` or
``gpNN``; the ego view is the Aria ``rgb`` stream (view ``ego``). ``best_exo`` and the task times may be
null: a take without ``best_exo`` simply has no ``best_exo`` view, a take without task times has no segment.
Task times are seconds from the take start; frame = round(t * fps), clamped to the video.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from curation.sources.base import (
    ON_BAD_MEDIA,
    BaseAdapter,
    ClipRecord,
    Option,
    ScanResult,
    norm,
    positive,
    probe_videos,
)
from schemas.errors import ToolkitError
from schemas.io import read_json

PROFICIENCY_RANK = {"novice": 0, "early expert": 1, "intermediate expert": 2, "late expert": 3}
SKIP_CAMS = {"collage", "best_exo"}


def _match_view(clip: ClipRecord, want: Any) -> bool:
    want = norm(want)
    if want == "best_exo":
        return bool(clip.meta.get("is_best_exo"))
    if want == "exo":
        return clip.view != "ego"
    return norm(clip.view) == want


class EgoExo4DAdapter(BaseAdapter):
    """Parses an ``egoexo`` download (takes.json + takes/ + annotations/)."""

    name = "egoexo4d"
    OPTIONS = {
        "fps": Option(float, 30.0, "declared frame rate of the frame-aligned videos", positive),
        "prefer_downscaled": Option(bool, True, "use downscaled/<resolution>/ when present"),
        "resolution": Option(int, 448, "the downscaled variant to prefer", positive),
        "takes_json": Option(str, "takes.json", "takes metadata, relative to the root"),
        "proficiency_glob": Option(str, "annotations/**/proficiency_demonstrator*.json",
                                   "proficiency label files, relative to the root"),
        "on_bad_media": ON_BAD_MEDIA,
    }
    SELECT = {
        "task_name": lambda c, v: norm(c.action) == norm(v),
        "parent_task_name": lambda c, v: norm(c.meta.get("parent_task_name") or "") == norm(v),
        "view": _match_view,
        "participant": lambda c, v: c.participant == str(v),
        "university": lambda c, v: norm(c.meta.get("university_name") or "") == norm(v),
    }

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        takes_file = root / opts["takes_json"]
        takes = _read_takes(takes_file)
        proficiency = _read_proficiency(root, opts["proficiency_glob"])
        skipped: list[tuple[str, str]] = []
        wanted: list[tuple[Path, dict[str, Any], dict[str, Any]]] = []
        for i, take in enumerate(takes):
            where = f"[{i}]"
            take_dir = _take_dir(root, take, takes_file, where)
            if take_dir is None:
                skipped.append((take["take_name"], "not downloaded (take folder missing)"))
                continue
            streams = _streams(take, takes_file, where)
            found = 0
            for cam_id, view, rel in streams:
                path = _resolve(take_dir, rel, opts)
                if path is None:
                    continue
                found += 1
                wanted.append((path, take, {"cam_id": cam_id, "view": view,
                                            "downscaled": "downscaled" in path.parts}))
            if not found:
                skipped.append((take["take_name"], "no video of this take on disk"))
        probed, bad = probe_videos([w[0] for w in wanted], on_error=opts["on_bad_media"], source=self.name)
        skipped.extend(bad)
        clips = []
        for path, take, cam in wanted:
            if path not in probed:
                continue
            pr = probed[path]
            fps = pr.fps or opts["fps"]
            segment = _segment(take.get("task_start_sec"), take.get("task_end_sec"), fps, pr.n_frames)
            level = proficiency.get(str(take.get("take_uid")))
            skill = None
            if level is not None:
                skill = {"level": level, "score": None, "scale": "egoexo4d proficiency_demonstrator",
                         "rank": PROFICIENCY_RANK.get(norm(level))}
            best = take.get("best_exo")
            meta = {
                "take_uid": take.get("take_uid"), "take_name": take["take_name"],
                "parent_task_name": take.get("parent_task_name"), "task_id": take.get("task_id"),
                "university_name": take.get("university_name"), "cam_id": cam["cam_id"],
                "best_exo": best, "is_best_exo": best is not None and cam["cam_id"] == best,
                "task_start_sec": take.get("task_start_sec"), "task_end_sec": take.get("task_end_sec"),
                "downscaled": cam["downscaled"], "rel_path": str(path.relative_to(root)),
                "width": pr.width, "height": pr.height,
            }
            clips.append(ClipRecord(
                clip_id=f"{take['take_name']}.{cam['cam_id']}", dataset=self.name, action=str(take["task_name"]),
                action_name=str(take["task_name"]), media_path=str(path), media_kind="video", view=cam["view"],
                n_frames=pr.n_frames, fps_declared=opts["fps"], fps_measured=pr.fps, segment=segment,
                skill=skill, participant=None if take.get("participant_uid") is None else str(take["participant_uid"]),
                meta=meta))
        return ScanResult(clips, skipped)


def _read_takes(path: Path) -> list[dict[str, Any]]:
    """takes.json as a list of take dicts; a wrong shape is an error naming the file and JSON path."""
    if not path.is_file():
        raise ToolkitError("takes.json not found (Ego-Exo4D metadata: egoexo --parts metadata)", file=str(path))
    takes = read_json(path)
    if not isinstance(takes, list):
        raise ToolkitError(f"expected a list of takes, got {type(takes).__name__}", file=str(path), key="$")
    for i, take in enumerate(takes):
        if not isinstance(take, dict):
            raise ToolkitError(f"expected a take object, got {type(take).__name__}", file=str(path), key=f"$[{i}]")
        for key in ("take_name", "root_dir", "task_name"):
            if not isinstance(take.get(key), str) or not take[key]:
                raise ToolkitError(f"missing or not a string: {take.get(key)!r}", file=str(path),
                                   key=f"$[{i}].{key}")
        fav = take.get("frame_aligned_videos")
        if not isinstance(fav, dict):
            raise ToolkitError("missing or not an object", file=str(path), key=f"$[{i}].frame_aligned_videos")
        for key in ("task_start_sec", "task_end_sec"):
            v = take.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ToolkitError(f"expected seconds or null, got {v!r}", file=str(path), key=f"$[{i}].{key}")
    return takes


def _take_dir(root: Path, take: dict[str, Any], file: Path, where: str) -> Path | None:
    """The take's folder (``root/root_dir``; also the old downloader's nested ``takes/takes/``)."""
    rel = Path(take["root_dir"])
    if rel.is_absolute() or ".." in rel.parts:
        raise ToolkitError(f"root_dir must be relative inside the download: {take['root_dir']!r}",
                           file=str(file), key=f"${where}.root_dir")
    for cand in (root / rel, root / "takes" / rel):
        if cand.is_dir():
            return cand
    return None


def _streams(take: dict[str, Any], file: Path, where: str) -> list[tuple[str, str, str]]:
    """(cam_id, view, relative_path) of each exo camera and the ego RGB stream of a take."""
    out = []
    for cam_id, streams in sorted(take["frame_aligned_videos"].items()):
        if cam_id in SKIP_CAMS or not isinstance(streams, dict):
            continue
        is_ego = cam_id.startswith("aria")
        for key, stream in sorted(streams.items()):
            if not isinstance(stream, dict):
                raise ToolkitError("expected a stream object", file=str(file),
                                   key=f"${where}.frame_aligned_videos.{cam_id}.{key}")
            rel = stream.get("relative_path")
            if not rel:
                continue
            if is_ego and "rgb" not in (key, stream.get("readable_stream_id")):
                continue
            out.append((cam_id, "ego" if is_ego else cam_id, rel))
    return out


def _resolve(take_dir: Path, rel: str, opts: dict[str, Any]) -> Path | None:
    """The file for a stream: ``downscaled/<res>/<name>`` when preferred and present, else the original."""
    full = take_dir / rel
    if opts["prefer_downscaled"]:
        small = full.parent / "downscaled" / str(opts["resolution"]) / full.name
        if small.is_file():
            return small
    return full if full.is_file() else None


def _segment(start_sec: float | None, end_sec: float | None, fps: float, n: int) -> tuple[int, int] | None:
    """Task times (seconds from the take start) as a half-open frame range, clamped to the video."""
    if start_sec is None and end_sec is None:
        return None
    start = 0 if start_sec is None else min(max(round(start_sec * fps), 0), n)
    end = n if end_sec is None else min(max(round(end_sec * fps), 0), n)
    return (start, end) if end > start else None


def _read_proficiency(root: Path, pattern: str) -> dict[str, str]:
    """take_uid -> proficiency_score from every ``proficiency_demonstrator_*.json`` found."""
    out: dict[str, str] = {}
    for path in sorted(root.glob(pattern)):
        data = read_json(path)
        items = data.get("annotations") if isinstance(data, dict) else data
        if isinstance(items, dict):  # {take_uid: item} or {take_uid: [items]}
            items = [x for v in items.values() for x in (v if isinstance(v, list) else [v])]
        if not isinstance(items, list):
            raise ToolkitError("expected {\"annotations\": [...]} or a list of labels", file=str(path), key="$")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "take_uid" not in item:
                raise ToolkitError("expected an object with take_uid", file=str(path), key=f"$.annotations[{i}]")
            score = item.get("proficiency_score")
            if score is not None:
                out[str(item["take_uid"])] = str(score)
    return out
