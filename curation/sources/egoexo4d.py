"""Ego-Exo4D (basketball, soccer, music): one clip per downloaded take and camera, resolved via takes.json.

Layout (from the Ego-Exo4D metadata docs)::

    ROOT/takes.json                                       list of takes (take_uid, take_name, root_dir, …)
    ROOT/<root_dir>/frame_aligned_videos/cam01.mp4 …      root_dir already starts with ``takes/``
    ROOT/<root_dir>/frame_aligned_videos/downscaled/448/cam01.mp4 …   (preferred when present)
    ROOT/annotations/proficiency_demonstrator_{train,val}.json        {"annotations": [...]} or a bare list

Every path comes from ``takes.json`` (take names are not regular). Whether a camera is egocentric comes
from the capture's camera list, as the Ego-Exo4D metadata docs define it: ``take["capture"]["cameras"]``
(takes.json carries its capture's metadata), else ``captures.json`` matched by ``capture_uid``; each entry
has ``cam_id``, ``is_ego`` ("for camXX cam_ids this will mostly be false, there are some egocentric
GoPros") and ``device_type``. Only when neither lists a camera is its role taken from its name (``aria*``
= ego), and the scan counts those cameras. An ego camera's view is ``ego`` (an Aria: only its ``rgb``
stream; an egocentric GoPro keeps its cam id as view and matches ``view: ego``); every other camera is exo
(view = cam id). ``best_exo`` and the task times may be null: a take without ``best_exo`` simply has no
``best_exo`` view, a take without task times has no segment. Task times are seconds from the take start;
frame = round(t * fps); an end past the video is clamped to it and counted (``adjusted``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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
from schemas.io import read_json, write_json

PROFICIENCY_RANK = {"novice": 0, "early expert": 1, "intermediate expert": 2, "late expert": 3}
SKIP_CAMS = {"collage", "best_exo"}


def _match_view(clip: ClipRecord, want: Any) -> bool:
    want = norm(want)
    if want == "best_exo":
        return bool(clip.meta.get("is_best_exo"))
    if want == "exo":
        return not clip.meta.get("is_ego", clip.view == "ego")
    if want == "ego":
        return bool(clip.meta.get("is_ego", clip.view == "ego"))
    return norm(clip.view) == want


#: the task of the SYNTHETIC sample takes
SAMPLE_TASK = "Basketball Drills - Mikan Layup"


class EgoExo4DAdapter(BaseAdapter):
    """Parses an ``egoexo`` download (takes.json + takes/ + annotations/)."""

    name = "egoexo4d"
    dataset_name = "EgoExo4D"
    aliases = ("egoexo",)
    title = "Ego-Exo4D"
    licence = "Ego-Exo4D licence (research and commercial use after approval; redistribution forbidden)"
    link = "https://ego4d.dev/request/ego-exo4d"
    note = "The licence forbids redistributing the videos: users must obtain them from Ego-Exo4D themselves (take and frame references are in `videos[i].source`)."
    citation = """@inproceedings{grauman2024egoexo4d,
  title     = {{Ego-Exo4D}: Understanding Skilled Human Activity from First- and Third-Person Perspectives},
  author    = {Grauman, Kristen and others},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2024}
}"""
    SAMPLE_OPTIONS = {"root": "egoexo4d"}
    SAMPLE_ACTIONS = [
        {
            "key": "ballsports_0",
            "name": "basketball mikan layup",
            "description": "Mikan layup drill, best exo view (SYNTHETIC sample).",
            "domain": "ballsports",
            "split": "medium",
            "source": "egoexo4d",
            "select": {"task_name": SAMPLE_TASK, "view": "best_exo"},
            "trim": {"by": "clip"},
            "fps": 10,
            "pairs": {"count": 2, "strategy": "skill_contrast"},
        }
    ]
    OPTIONS = {
        "fps": Option(float, 30.0, "declared frame rate of the frame-aligned videos", positive),
        "prefer_downscaled": Option(bool, True, "use downscaled/<resolution>/ when present"),
        "resolution": Option(int, 448, "the downscaled variant to prefer", positive),
        "takes_json": Option(str, "takes.json", "takes metadata, relative to the root"),
        "captures_json": Option(
            str,
            "captures.json",
            "captures metadata (camera list with is_ego), relative to "
            "the root; used when a take has no capture.cameras",
        ),
        "proficiency_glob": Option(
            str,
            "annotations/**/proficiency_demonstrator*.json",
            "proficiency label files, relative to the root",
        ),
        "on_bad_media": ON_BAD_MEDIA,
    }
    SELECT = {
        "task_name": lambda c, v: norm(c.action) == norm(v),
        "parent_task_name": lambda c, v: norm(c.meta.get("parent_task_name") or "") == norm(v),
        "view": _match_view,
        "participant": lambda c, v: c.participant == str(v),
        "university": lambda c, v: norm(c.meta.get("university_name") or "") == norm(v),
    }

    @staticmethod
    def write_sample_tree(root: Path, rng: np.random.Generator) -> None:
        """Write the SYNTHETIC sample tree (see curation/samples/trees.py)."""
        _write_sample_tree(root, rng)

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        takes_file = root / opts["takes_json"]
        takes = _read_takes(takes_file)
        proficiency = _read_proficiency(root, opts["proficiency_glob"])
        captures = _read_captures(root / opts["captures_json"])
        skipped: list[tuple[str, str]] = []
        adjusted: list[tuple[str, str]] = []
        by_name = 0
        wanted: list[tuple[Path, dict[str, Any], dict[str, Any]]] = []
        for i, take in enumerate(takes):
            where = f"[{i}]"
            take_dir = _take_dir(root, take, takes_file, where)
            if take_dir is None:
                skipped.append((take["take_name"], "not downloaded (take folder missing)"))
                continue
            cameras = _cameras(take, captures, takes_file, root / opts["captures_json"], where)
            streams = _streams(take, cameras, takes_file, where)
            found = 0
            for cam_id, view, rel in streams:
                path = _resolve(take_dir, rel, opts)
                if path is None:
                    continue
                found += 1
                role = cameras.get(cam_id)
                by_name += role is None
                wanted.append(
                    (
                        path,
                        take,
                        {
                            "cam_id": cam_id,
                            "view": view,
                            "is_ego": role["is_ego"] if role else cam_id.startswith("aria"),
                            "device_type": role.get("device_type") if role else None,
                            "role_from": "metadata" if role else "name",
                            "downscaled": "downscaled" in path.parts,
                        },
                    )
                )
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
            end_sec = take.get("task_end_sec")
            if end_sec is not None and round(end_sec * fps) > pr.n_frames:
                adjusted.append(
                    (
                        f"{take['take_name']}.{cam['cam_id']}",
                        (
                            f"clamped end: task_end_sec {end_sec:g} is frame {round(end_sec * fps)}, the video "
                            f"has {pr.n_frames} frames"
                        ),
                    )
                )
            level = proficiency.get(str(take.get("take_uid")))
            skill = None
            if level is not None:
                skill = {
                    "level": level,
                    "score": None,
                    "scale": "egoexo4d proficiency_demonstrator",
                    "rank": PROFICIENCY_RANK.get(norm(level)),
                }
            best = take.get("best_exo")
            meta = {
                "take_uid": take.get("take_uid"),
                "take_name": take["take_name"],
                "parent_task_name": take.get("parent_task_name"),
                "task_id": take.get("task_id"),
                "university_name": take.get("university_name"),
                "cam_id": cam["cam_id"],
                "is_ego": cam["is_ego"],
                "device_type": cam["device_type"],
                "camera_role_from": cam["role_from"],
                "best_exo": best,
                "is_best_exo": best is not None and cam["cam_id"] == best,
                "task_start_sec": take.get("task_start_sec"),
                "task_end_sec": take.get("task_end_sec"),
                "downscaled": cam["downscaled"],
                "rel_path": str(path.relative_to(root)),
                "width": pr.width,
                "height": pr.height,
            }
            clips.append(
                ClipRecord(
                    clip_id=f"{take['take_name']}.{cam['cam_id']}",
                    dataset=self.name,
                    action=str(take["task_name"]),
                    action_name=str(take["task_name"]),
                    media_path=str(path),
                    media_kind="video",
                    view=cam["view"],
                    n_frames=pr.n_frames,
                    fps_declared=opts["fps"],
                    fps_measured=pr.fps,
                    segment=segment,
                    skill=skill,
                    participant=None if take.get("participant_uid") is None else str(take["participant_uid"]),
                    meta=meta,
                )
            )
        facts = {"cameras classified by name (no capture camera metadata)": by_name} if by_name else {}
        return ScanResult(clips, skipped, adjusted, facts=facts)

    def assumptions(self, given: dict, opts: dict[str, Any], result: ScanResult) -> list[str]:
        """Cameras whose ego/exo role had to be taken from their name are an assumption."""
        n = sum(c.meta.get("camera_role_from") == "name" for c in result.clips)
        if not n:
            return []
        return [
            (
                f"egoexo4d: {n} camera(s) have no entry in capture.cameras / captures.json: their role was taken "
                "from the name (aria* = ego, others exo)"
            )
        ]


def _read_takes(path: Path) -> list[dict[str, Any]]:
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


def _take_dir(root: Path, take: dict[str, Any], file: Path, where: str) -> Path | None:
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


def _read_captures(path: Path) -> dict[str, dict[str, Any]]:
    """capture_uid -> capture from ``captures.json`` (absent file: empty)."""
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, list):
        raise ToolkitError(f"expected a list of captures, got {type(data).__name__}", file=str(path), key="$")
    return {
        str(c["capture_uid"]): c for c in data if isinstance(c, dict) and c.get("capture_uid") is not None
    }


def _cameras(
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


def _streams(
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


# ------------------------------------------------------------------- SYNTHETIC sample tree

TAKES = [
    # take_name, university, participant, best_exo, task times, cameras, files present (full / downscaled)
    (
        "unc_basketball_03-31-23_02_8",
        "unc",
        101,
        "cam01",
        (0.2, 1.3),
        ["cam01", "cam02", "aria01"],
        {"full": ["cam01"], "small": ["cam01", "cam02", "aria01"]},
    ),
    (
        "unc_basketball_03-31-23_02_9",
        "unc",
        102,
        "cam02",
        (0.1, 1.4),
        ["cam01", "cam02", "aria01"],
        {"full": [], "small": ["cam01", "cam02"]},
    ),
    (
        "upenn_0726_Basketball_1_3",
        "upenn",
        103,
        "gp01",
        (0.0, 1.0),
        ["gp01", "gp02", "aria02"],
        {"full": [], "small": ["gp01", "gp02"]},
    ),
    (
        "unc_basketball_03-31-23_02_10",
        "unc",
        104,
        None,
        (None, None),
        ["cam01", "aria01"],
        {"full": ["cam01"], "small": []},
    ),
    ("iiith_soccer_053_6", "iiith", 105, "cam03", (1.0, 5.0), ["cam03"], {"full": [], "small": []}),
]
LEVELS = {101: "Novice", 102: "Late Expert", 103: "Intermediate Expert", 104: "Early Expert"}


def _egoexo_file(cam: str) -> str:
    return f"{cam}_214-1.mp4" if cam.startswith("aria") else f"{cam}.mp4"


def _write_sample_tree(root: Path, rng: np.random.Generator) -> None:
    """Write this source's SYNTHETIC sample tree (see curation/samples/trees.py) under ``root``."""
    from curation.samples import trees as ss

    takes, captures = [], []
    for i, (name, univ, pid, best, (t0, t1), cams, files) in enumerate(TAKES):
        root_dir = f"takes/{name}"
        fav: dict[str, Any] = {}
        for cam in cams:
            if cam.startswith("aria"):
                fav[cam] = {
                    s: {
                        "cam_id": cam,
                        "stream_id": sid,
                        "readable_stream_id": s,
                        "clip_uid": f"clip-{i}-{s}",
                        "relative_path": f"frame_aligned_videos/{cam}_{sid}.mp4",
                    }
                    for s, sid in (("rgb", "214-1"), ("slam-left", "1201-1"), ("et", "211-1"))
                }
            else:
                fav[cam] = {
                    "0": {
                        "cam_id": cam,
                        "stream_id": "0",
                        "readable_stream_id": "0",
                        "clip_uid": f"clip-{i}-{cam}",
                        "relative_path": f"frame_aligned_videos/{cam}.mp4",
                    }
                }
        fav["collage"] = {"0": {"relative_path": "ego_preview.mp4"}}
        fav["best_exo"] = {"0": {"relative_path": None}}
        scenario = "Soccer" if "soccer" in name else "Basketball"
        # the capture's camera list, as takes.json carries it (metadata docs): is_ego says which are egocentric
        cameras = [
            {
                "cam_id": cam,
                "is_ego": cam.startswith("aria"),
                "device_type": "aria" if cam.startswith("aria") else "hero10",
                "relative_path": f"videos/{cam}.{'vrs' if cam.startswith('aria') else 'mp4'}",
            }
            for cam in cams
        ]
        capture = {
            "capture_uid": f"cap-{i}",
            "capture_name": name.rsplit("_", 1)[0],
            "university_name": univ,
            "cameras": cameras,
        }
        captures.append(capture)
        takes.append(
            {
                "take_uid": f"00000000-0000-4000-8000-{i:012d}",
                "take_name": name,
                "root_dir": root_dir,
                "parent_task_name": scenario,
                "parent_task_id": 6000 if scenario == "Basketball" else 8000,
                "task_name": SAMPLE_TASK if scenario == "Basketball" else "Soccer Drills - Penalty Kick",
                "task_id": 6001 if scenario == "Basketball" else 8001,
                "participant_uid": pid,
                "university_name": univ,
                "best_exo": best,
                "task_start_sec": t0,
                "task_end_sec": t1,
                "duration_sec": 1.5,
                "take_idx": i + 1,
                "capture_uid": f"cap-{i}",
                "timesync_start_idx": 1000 * i,
                "timesync_end_idx": 1000 * i + 45,
                "frame_aligned_videos": fav,
                **({} if i == 1 else {"capture": capture}),  # take 1: cameras only in captures.json
            }
        )
        n = int(rng.integers(42, 49))
        take = root / root_dir / "frame_aligned_videos"
        for cam in files[
            "full"
        ]:  # full size: a different size than the 448 copies, so a test can tell them apart
            ss.write_video(
                take / _egoexo_file(cam), n, "egoexo4d", color=ss.write_color(rng), size=(192, 144)
            )
        for cam in files["small"]:
            ss.write_video(
                take / "downscaled" / "448" / _egoexo_file(cam), n, "egoexo4d", color=ss.write_color(rng)
            )
    write_json(root / "takes.json", takes)
    write_json(root / "captures.json", captures)
    labels = [
        {
            "take_uid": t["take_uid"],
            "task_id": t["task_id"],
            "task_name": t["task_name"],
            "scenario_name": t["parent_task_name"],
            "university_id": f"ego4d-{t['university_name']}",
            "origin_participant_id": str(t["participant_uid"]),
            "video_paths": {"ego": f"{t['root_dir']}/frame_aligned_videos/aria01_214-1.mp4"},
            "proficiency_score": LEVELS[t["participant_uid"]],
        }
        for t in takes
        if t["participant_uid"] in LEVELS
    ]
    write_json(root / "annotations" / "proficiency_demonstrator_train.json", {"annotations": labels[:3]})
    write_json(root / "annotations" / "proficiency_demonstrator_val.json", labels[3:])  # the docs' bare list
    write_json(
        root / "annotations" / "atomic_descriptions_train.json",
        {
            "annotations": {
                takes[0]["take_uid"]: [
                    {
                        "annotator_id": "a1",
                        "rejected": False,
                        "descriptions": [
                            {
                                "text": "C dribbles the ball",
                                "timestamp": 0.5,
                                "subject": "C",
                                "ego_visible": "1",
                                "best_exo": {"cam_id": "cam01"},
                                "unsure": "0",
                            }
                        ],
                    }
                ]
            }
        },
    )
