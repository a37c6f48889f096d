"""Reading an Ego-Exo4D download: takes.json, captures.json, camera roles and streams, task segments, proficiency files.

Each reader checks the shape it relies on and names the file and JSON path when it is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas.errors import ToolkitError
from schemas.io import read_json

SKIP_CAMS = {"collage", "best_exo"}


def read_takes(path: Path) -> list[dict[str, Any]]:
    """takes.json as a list of take dicts; a wrong shape is an error naming the file and JSON path."""
    if not path.is_file():
        raise ToolkitError(
            "takes.json not found (Ego-Exo4D metadata: egoexo --parts metadata)", file=str(path)
        )
    takes = read_json(path)
    if not isinstance(takes, list):
        raise ToolkitError(f"expected a list of takes, got {type(takes).__name__}", file=str(path), key="$")
    for i, take in enumerate(takes):
        if not isinstance(take, dict):
            raise ToolkitError(
                f"expected a take object, got {type(take).__name__}", file=str(path), key=f"$[{i}]"
            )
        for key in ("take_name", "root_dir", "task_name"):
            if not isinstance(take.get(key), str) or not take[key]:
                raise ToolkitError(
                    f"missing or not a string: {take.get(key)!r}", file=str(path), key=f"$[{i}].{key}"
                )
        fav = take.get("frame_aligned_videos")
        if not isinstance(fav, dict):
            raise ToolkitError("missing or not an object", file=str(path), key=f"$[{i}].frame_aligned_videos")
        for key in ("task_start_sec", "task_end_sec"):
            v = take.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ToolkitError(
                    f"expected seconds or null, got {v!r}", file=str(path), key=f"$[{i}].{key}"
                )
    return takes


def find_take_dir(root: Path, take: dict[str, Any], file: Path, where: str) -> Path | None:
    """The take's folder (``root/root_dir``; also the old downloader's nested ``takes/takes/``)."""
    rel = Path(take["root_dir"])
    if rel.is_absolute() or ".." in rel.parts:
        raise ToolkitError(
            f"root_dir must be relative inside the download: {take['root_dir']!r}",
            file=str(file),
            key=f"${where}.root_dir",
        )
    for cand in (root / rel, root / "takes" / rel):
        if cand.is_dir():
            return cand
    return None


def read_captures(path: Path) -> dict[str, dict[str, Any]]:
    """capture_uid -> capture from ``captures.json`` (absent file: empty)."""
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, list):
        raise ToolkitError(f"expected a list of captures, got {type(data).__name__}", file=str(path), key="$")
    return {
        str(c["capture_uid"]): c for c in data if isinstance(c, dict) and c.get("capture_uid") is not None
    }


def cameras_of(
    take: dict[str, Any],
    captures: dict[str, dict[str, Any]],
    takes_file: Path,
    captures_file: Path,
    where: str,
) -> dict[str, dict[str, Any]]:
    """cam_id -> {is_ego, device_type} from ``take.capture.cameras``, else from captures.json."""
    capture = take.get("capture")
    source, file, key = capture, takes_file, f"${where}.capture.cameras"
    if not (isinstance(capture, dict) and isinstance(capture.get("cameras"), list)):
        uid = take.get("capture_uid")
        source, file, key = captures.get(str(uid)), captures_file, f"capture_uid {uid}: cameras"
    cams = (source or {}).get("cameras") if isinstance(source, dict) else None
    out: dict[str, dict[str, Any]] = {}
    for i, cam in enumerate(cams or []):
        if not isinstance(cam, dict) or not isinstance(cam.get("cam_id"), str):
            raise ToolkitError("expected a camera object with a cam_id", file=str(file), key=f"{key}[{i}]")
        is_ego = cam.get("is_ego")
        if isinstance(is_ego, str):  # some Ego-Exo4D fields are string booleans ("0"/"1")
            is_ego = {"1": True, "true": True, "0": False, "false": False}.get(is_ego.strip().lower(), is_ego)
        if not isinstance(is_ego, bool):
            raise ToolkitError(
                f"is_ego must be true or false, got {cam.get('is_ego')!r}",
                file=str(file),
                key=f"{key}[{i}].is_ego",
            )
        out[cam["cam_id"]] = {"is_ego": is_ego, "device_type": cam.get("device_type")}
    return out


def streams_of(
    take: dict[str, Any], cameras: dict[str, dict[str, Any]], file: Path, where: str
) -> list[tuple[str, str, str]]:
    """(cam_id, view, relative_path) of each exo camera and each ego camera's RGB stream of a take."""
    out = []
    for cam_id, streams in sorted(take["frame_aligned_videos"].items()):
        if cam_id in SKIP_CAMS or not isinstance(streams, dict):
            continue
        is_ego = cameras[cam_id]["is_ego"] if cam_id in cameras else cam_id.startswith("aria")
        is_aria = cam_id.startswith("aria") or (cameras.get(cam_id) or {}).get("device_type") == "aria"
        for key, stream in sorted(streams.items()):
            if not isinstance(stream, dict):
                raise ToolkitError(
                    "expected a stream object",
                    file=str(file),
                    key=f"${where}.frame_aligned_videos.{cam_id}.{key}",
                )
            rel = stream.get("relative_path")
            if not rel:
                continue
            if is_aria and "rgb" not in (key, stream.get("readable_stream_id")):
                continue  # an Aria's SLAM and eye-tracking streams are not RGB views
            out.append((cam_id, "ego" if is_ego and is_aria else cam_id, rel))
    return out


def resolve_video(take_dir: Path, rel: str, opts: dict[str, Any]) -> Path | None:
    """The file for a stream: ``downscaled/<res>/<name>`` when preferred and present, else the original."""
    full = take_dir / rel
    if opts["prefer_downscaled"]:
        small = full.parent / "downscaled" / str(opts["resolution"]) / full.name
        if small.is_file():
            return small
    return full if full.is_file() else None


def task_segment(
    start_sec: float | None, end_sec: float | None, fps: float, n: int
) -> tuple[int, int] | None:
    """Task times (seconds from the take start) as a half-open frame range, clamped to the video."""
    if start_sec is None and end_sec is None:
        return None
    start = 0 if start_sec is None else min(max(round(start_sec * fps), 0), n)
    end = n if end_sec is None else min(max(round(end_sec * fps), 0), n)
    return (start, end) if end > start else None


def read_proficiency(root: Path, pattern: str) -> dict[str, str]:
    """take_uid -> proficiency_score from every ``proficiency_demonstrator_*.json`` found."""
    out: dict[str, str] = {}
    for path in sorted(root.glob(pattern)):
        data = read_json(path)
        items = data.get("annotations") if isinstance(data, dict) else data
        if isinstance(items, dict):  # {take_uid: item} or {take_uid: [items]}
            items = [x for v in items.values() for x in (v if isinstance(v, list) else [v])]
        if not isinstance(items, list):
            raise ToolkitError('expected {"annotations": [...]} or a list of labels', file=str(path), key="$")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "take_uid" not in item:
                raise ToolkitError(
                    "expected an object with take_uid", file=str(path), key=f"$.annotations[{i}]"
                )
            score = item.get("proficiency_score")
            if score is not None:
                out[str(item["take_uid"])] = str(score)
    return out
