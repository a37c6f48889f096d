"""The SYNTHETIC Ego-Exo4D sample tree (``curate samples``; see curation/samples/trees.py): five takes in the real layout.

It carries the layout's pitfalls: ``best_exo`` and task times null, ``gp01`` cameras, camera roles only in
``captures.json`` for one take, ``downscaled/448`` next to full-size files, a take listed but not downloaded,
proficiency files both wrapped and bare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from curation.samples import synthetic as ss
from schemas.io import write_json

#: the task of the SYNTHETIC sample takes
SAMPLE_TASK = "Basketball Drills - Mikan Layup"


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


def egoexo_file(cam: str) -> str:
    """The file name of camera ``cam`` in a take's frame_aligned_videos/ (Arias carry a ``_214-1`` stream suffix)."""
    return f"{cam}_214-1.mp4" if cam.startswith("aria") else f"{cam}.mp4"


def write_tree(root: Path, rng: np.random.Generator) -> None:
    """Write this source's SYNTHETIC sample tree (see curation/samples/trees.py) under ``root``."""
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
            ss.write_video(take / egoexo_file(cam), n, "egoexo4d", color=ss.write_color(rng), size=(192, 144))
        for cam in files["small"]:
            ss.write_video(
                take / "downscaled" / "448" / egoexo_file(cam), n, "egoexo4d", color=ss.write_color(rng)
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
