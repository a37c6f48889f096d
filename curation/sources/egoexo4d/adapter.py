"""The Ego-Exo4D adapter: one clip per downloaded take and camera, with its view, task segment and proficiency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from curation.sources.base import BaseAdapter, norm
from curation.sources.egoexo4d.layout import (
    cameras_of,
    find_take_dir,
    read_captures,
    read_proficiency,
    read_takes,
    resolve_video,
    streams_of,
    task_segment,
)
from curation.sources.egoexo4d.sample import SAMPLE_TASK, write_tree
from curation.sources.files import probe_videos
from curation.sources.options import ON_BAD_MEDIA, Option, positive
from curation.sources.records import ClipRecord, ScanResult, Skip

PROFICIENCY_RANK = {"novice": 0, "early expert": 1, "intermediate expert": 2, "late expert": 3}


def _match_view(clip: ClipRecord, want: Any) -> bool:
    want = norm(want)
    if want == "best_exo":
        return bool(clip.meta.get("is_best_exo"))
    if want == "exo":
        return not clip.meta.get("is_ego", clip.view == "ego")
    if want == "ego":
        return bool(clip.meta.get("is_ego", clip.view == "ego"))
    return norm(clip.view) == want


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
        write_tree(root, rng)

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        takes_file = root / opts["takes_json"]
        takes = read_takes(takes_file)
        proficiency = read_proficiency(root, opts["proficiency_glob"])
        captures = read_captures(root / opts["captures_json"])
        skipped: list[Skip] = []
        adjusted: list[Skip] = []
        by_name = 0
        wanted: list[tuple[Path, dict[str, Any], dict[str, Any]]] = []
        for i, take in enumerate(takes):
            where = f"[{i}]"
            take_dir = find_take_dir(root, take, takes_file, where)
            if take_dir is None:
                skipped.append(
                    Skip(take["take_name"], "not downloaded", why="not downloaded (take folder missing)")
                )
                continue
            cameras = cameras_of(take, captures, takes_file, root / opts["captures_json"], where)
            streams = streams_of(take, cameras, takes_file, where)
            found = 0
            for cam_id, view, rel in streams:
                path = resolve_video(take_dir, rel, opts)
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
                skipped.append(Skip(take["take_name"], "no video of this take on disk"))
        probed, bad = probe_videos([w[0] for w in wanted], on_error=opts["on_bad_media"], source=self.name)
        skipped.extend(bad)
        clips = []
        for path, take, cam in wanted:
            if path not in probed:
                continue
            pr = probed[path]
            fps = pr.fps or opts["fps"]
            segment = task_segment(take.get("task_start_sec"), take.get("task_end_sec"), fps, pr.n_frames)
            end_sec = take.get("task_end_sec")
            if end_sec is not None and round(end_sec * fps) > pr.n_frames:
                adjusted.append(
                    Skip(
                        f"{take['take_name']}.{cam['cam_id']}",
                        "clamped end",
                        f"task_end_sec {end_sec:g} is frame {round(end_sec * fps)}, the video has {pr.n_frames} frames",
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
