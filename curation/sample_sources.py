"""Small SYNTHETIC source trees in the four real layouts, plus a build config that uses them all.

``curate samples OUT`` (and the tests) call :func:`write_sample_sources`. Every frame is made by
:func:`curation.synthetic.render_frame` with ``index`` = the frame's position in its source media (0, 1,
2, … in sorted order, also for image folders whose file names keep the real layout's numbers), so a test
can read the barcode of any built clip and tell exactly which source frames landed in it. The trees carry
the pitfalls of ``reference/sources.md``: HuMMan Recon ids stepping by 6 (and a folder with a gap), a
Point ``video_splitter`` frame folder next to its mp4; an Ego-Exo4D take with ``best_exo`` and task times
null, ``gp01`` cameras, camera roles in ``capture.cameras`` (one take only in ``captures.json``), ``downscaled/448`` next to full-size files, a take listed but not downloaded,
proficiency files both wrapped and bare; FineDiving 5- and 8-digit names, a numeric source ``'01'``, numpy
arrays in the pickles, a label/frame-count mismatch; JIGSAWS double-tab meta lines, a 320x240 capture1
vs a 160x120 capture2, a transcription running past the video, the missing ``Suturing_H002`` video and
both mirror layouts. Nothing here is real data: ``README.txt`` in the tree and the text on every frame
say so.
"""
from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from curation import media
from curation.sample_taxonomies import write_sample_taxonomies
from curation.synthetic import render_frame
from schemas import check
from schemas.io import atomic_write, write_json

GENERATOR_VERSION = 3
W, H = 160, 120
README = """SYNTHETIC SAMPLE SOURCES - NOT REAL DATA

Written by `curate samples` (curation/sample_sources.py, generator v{version}, seed {seed}).
These folders mimic the on-disk layouts of HuMMan, Ego-Exo4D, FineDiving and JIGSAWS so that
`curate build config.yaml` can run end to end. Every image and video frame is rendered: it shows its
frame index as text and as a 16-bit barcode (curation.synthetic.read_barcode). Names, scores, skill
levels and annotations are invented; no frame, label or score comes from the real datasets.
"""


@lru_cache(maxsize=4096)
def _frame(index: int, width: int, height: int, label: str, color: tuple[int, int, int] | None) -> np.ndarray:
    return render_frame(index, width, height, label=label, color=color)


def _frames(n: int, label: str, color: tuple[int, int, int] | None = None, size: tuple[int, int] = (W, H)):
    return (_frame(i, size[0], size[1], label, color) for i in range(n))


def _video(path: Path, n: int, label: str, *, fps: float = 30, color=None, size=(W, H), codec="libx264") -> None:
    media.write_frames(_frames(n, label, color, size), path, fps, codec=codec)


def _image_folder(folder: Path, names: list[int], label: str, *, digits: int, ext: str, color=None) -> None:
    """Files named by the real layout's numbers; frame at sorted position i shows barcode i."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, number in enumerate(names):
        img = Image.fromarray(_frame(i, W, H, label, color))
        path = folder / f"{number:0{digits}d}.{ext}"
        if ext == "jpg":
            img.save(path, quality=92)
        else:
            img.save(path, compress_level=1)


def _color(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(x) for x in rng.integers(30, 140, size=3))


def _pickle(path: Path, obj: Any) -> None:
    atomic_write(path, pickle.dumps(obj, protocol=4))


# --------------------------------------------------------------------------------------------- HuMMan


def _humman(root: Path, rng: np.random.Generator) -> None:
    recon = root / "humman_release_v1.0_recon"
    for p in (1, 2, 3, 4):
        seq = recon / f"p{p:06d}_a000001"
        n = int(rng.integers(16, 23))
        ids = [6 * i for i in range(n)]
        if p == 4:  # a dropped file: the folder has a gap and must be skipped
            del ids[5]
        _image_folder(seq / "kinect_color" / "kinect_000", ids, "humman", digits=6, ext="png", color=_color(rng))
        write_json(seq / "cameras.json", {"kinect_color_000": {"K": np.eye(3).tolist(), "R": np.eye(3).tolist(),
                                                               "T": [0.0, 0.0, 0.0]}})
    point = root / "humman_release_v1.0_point"
    for p in (11, 12, 13):
        seq = point / f"p{p:06d}_a000002"
        _video(seq / "kinect_color" / "kinect_000.mp4", int(rng.integers(28, 37)), "humman", color=_color(rng))
        write_json(seq / "cameras.json", {"kinect_color_000": {"K": np.eye(3).tolist()}})
    # the toolbox's video_splitter output next to one mp4 (ffmpeg numbering from 1): same media, skipped
    _image_folder(point / "p000011_a000002" / "kinect_color" / "kinect_000", [1, 2, 3], "humman",
                  digits=6, ext="png")


# ------------------------------------------------------------------------------------------ Ego-Exo4D

TASK = "Basketball Drills - Mikan Layup"
TAKES = [
    # take_name, university, participant, best_exo, task times, cameras, files present (full / downscaled)
    ("unc_basketball_03-31-23_02_8", "unc", 101, "cam01", (0.2, 1.3), ["cam01", "cam02", "aria01"],
     {"full": ["cam01"], "small": ["cam01", "cam02", "aria01"]}),
    ("unc_basketball_03-31-23_02_9", "unc", 102, "cam02", (0.1, 1.4), ["cam01", "cam02", "aria01"],
     {"full": [], "small": ["cam01", "cam02"]}),
    ("upenn_0726_Basketball_1_3", "upenn", 103, "gp01", (0.0, 1.0), ["gp01", "gp02", "aria02"],
     {"full": [], "small": ["gp01", "gp02"]}),
    ("unc_basketball_03-31-23_02_10", "unc", 104, None, (None, None), ["cam01", "aria01"],
     {"full": ["cam01"], "small": []}),
    ("iiith_soccer_053_6", "iiith", 105, "cam03", (1.0, 5.0), ["cam03"], {"full": [], "small": []}),
]
LEVELS = {101: "Novice", 102: "Late Expert", 103: "Intermediate Expert", 104: "Early Expert"}


def _egoexo_file(cam: str) -> str:
    return f"{cam}_214-1.mp4" if cam.startswith("aria") else f"{cam}.mp4"


def _egoexo(root: Path, rng: np.random.Generator) -> None:
    takes, captures = [], []
    for i, (name, univ, pid, best, (t0, t1), cams, files) in enumerate(TAKES):
        root_dir = f"takes/{name}"
        fav: dict[str, Any] = {}
        for cam in cams:
            if cam.startswith("aria"):
                fav[cam] = {s: {"cam_id": cam, "stream_id": sid, "readable_stream_id": s, "clip_uid": f"clip-{i}-{s}",
                                "relative_path": f"frame_aligned_videos/{cam}_{sid}.mp4"}
                            for s, sid in (("rgb", "214-1"), ("slam-left", "1201-1"), ("et", "211-1"))}
            else:
                fav[cam] = {"0": {"cam_id": cam, "stream_id": "0", "readable_stream_id": "0",
                                  "clip_uid": f"clip-{i}-{cam}", "relative_path": f"frame_aligned_videos/{cam}.mp4"}}
        fav["collage"] = {"0": {"relative_path": "ego_preview.mp4"}}
        fav["best_exo"] = {"0": {"relative_path": None}}
        scenario = "Soccer" if "soccer" in name else "Basketball"
        # the capture's camera list, as takes.json carries it (metadata docs): is_ego says which are egocentric
        cameras = [{"cam_id": cam, "is_ego": cam.startswith("aria"),
                    "device_type": "aria" if cam.startswith("aria") else "hero10",
                    "relative_path": f"videos/{cam}.{'vrs' if cam.startswith('aria') else 'mp4'}"} for cam in cams]
        capture = {"capture_uid": f"cap-{i}", "capture_name": name.rsplit("_", 1)[0], "university_name": univ,
                   "cameras": cameras}
        captures.append(capture)
        takes.append({
            "take_uid": f"00000000-0000-4000-8000-{i:012d}", "take_name": name, "root_dir": root_dir,
            "parent_task_name": scenario, "parent_task_id": 6000 if scenario == "Basketball" else 8000,
            "task_name": TASK if scenario == "Basketball" else "Soccer Drills - Penalty Kick",
            "task_id": 6001 if scenario == "Basketball" else 8001, "participant_uid": pid, "university_name": univ,
            "best_exo": best, "task_start_sec": t0, "task_end_sec": t1, "duration_sec": 1.5, "take_idx": i + 1,
            "capture_uid": f"cap-{i}", "timesync_start_idx": 1000 * i, "timesync_end_idx": 1000 * i + 45,
            "frame_aligned_videos": fav,
            **({} if i == 1 else {"capture": capture}),  # take 1: cameras only in captures.json
        })
        n = int(rng.integers(42, 49))
        take = root / root_dir / "frame_aligned_videos"
        for cam in files["full"]:  # full size: a different size than the 448 copies, so a test can tell them apart
            _video(take / _egoexo_file(cam), n, "egoexo4d", color=_color(rng), size=(192, 144))
        for cam in files["small"]:
            _video(take / "downscaled" / "448" / _egoexo_file(cam), n, "egoexo4d", color=_color(rng))
    write_json(root / "takes.json", takes)
    write_json(root / "captures.json", captures)
    labels = [{"take_uid": t["take_uid"], "task_id": t["task_id"], "task_name": t["task_name"],
               "scenario_name": t["parent_task_name"], "university_id": f"ego4d-{t['university_name']}",
               "origin_participant_id": str(t["participant_uid"]),
               "video_paths": {"ego": f"{t['root_dir']}/frame_aligned_videos/aria01_214-1.mp4"},
               "proficiency_score": LEVELS[t["participant_uid"]]}
              for t in takes if t["participant_uid"] in LEVELS]
    write_json(root / "annotations" / "proficiency_demonstrator_train.json", {"annotations": labels[:3]})
    write_json(root / "annotations" / "proficiency_demonstrator_val.json", labels[3:])  # the docs' bare list
    write_json(root / "annotations" / "atomic_descriptions_train.json", {"annotations": {
        takes[0]["take_uid"]: [{"annotator_id": "a1", "rejected": False, "descriptions": [
            {"text": "C dribbles the ball", "timestamp": 0.5, "subject": "C", "ego_visible": "1",
             "best_exo": {"cam_id": "cam01"}, "unsure": "0"}]}]}})


# ----------------------------------------------------------------------------------------- FineDiving

SUB_ACTIONS = {1: "Forward", 2: "Back", 7: "3.5 Soms.Pike", 9: "2.5 Soms.Pike", 13: "Entry"}
DIVES = [
    # source, instance, digits, first absolute frame, action_type as written, label/frame mismatch
    ("FINADivingWorldCup2021_Men10m_final_r1", 0, 5, 489, "107B", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 1, 5, 2210, "107b", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 2, 5, 14425, "107B", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 5, 5, 30112, "107B", 4),
    ("01", 3, 8, 19758, "107B", 0),
]


def _finediving(root: Path, rng: np.random.Generator) -> None:
    frames_root = root / "FINADiving_MTL_256s"
    fine, coarse, aqa = {}, {}, {}
    for source, inst, digits, first, action, mismatch in DIVES:
        runs = [(1, int(rng.integers(5, 8))), (7, int(rng.integers(10, 15))), (13, int(rng.integers(5, 8)))]
        labels = np.concatenate([np.full(n, lab, dtype=np.int64) for lab, n in runs])
        n = len(labels) + mismatch
        _image_folder(frames_root / source / str(inst), list(range(first, first + n)), "finediving",
                      digits=digits, ext="jpg", color=_color(rng))
        judges = np.round(rng.uniform(5.0, 9.5, size=7) * 2) / 2
        score = float(np.round(np.sort(judges)[2:5].sum() * 3.3, 2))
        transits = np.cumsum([n for _, n in runs])[:-1]
        key = (source, inst)
        fine[key] = {"action_type": action, "dive_score": np.float64(score), "frames_labels": labels,
                     "steps_transit_frames": transits, "sub-action_types": {1: "Forward", 7: "3.5 Soms.Pike"}}
        coarse[key] = {"action_type": action, "dive_score": score, "difficulty": np.float64(3.3),
                       "judge_scores": judges, "start_frame": first, "end_frame": first + n - 1}
        aqa[key] = [action, score, 3.3, transits, labels]
    ann = root / "Annotations"
    _pickle(ann / "FineDiving_fine-grained_annotation.pkl", fine)
    _pickle(ann / "FineDiving_coarse_annotation.pkl", coarse)
    _pickle(ann / "fine-grained_annotation_aqa.pkl", aqa)
    _pickle(ann / "Sub_action_Types_Table.pkl", SUB_ACTIONS)  # "Entry" (13) is only in the table
    keys = sorted(fine)
    _pickle(ann / "train_split.pkl", keys[::2])
    _pickle(ann / "test_split.pkl", keys[1::2])


# -------------------------------------------------------------------------------------------- JIGSAWS

SUTURING = [("B", "N", 13), ("C", "I", 22), ("D", "E", 27), ("H", "N", 10)]
KNOT = [("B", "N", 12), ("E", "E", 25), ("G", "I", 18)]


def _meta_line(trial: str, level: str, grs: int, rng: np.random.Generator) -> str:
    items = "\t".join(str(int(x)) for x in rng.integers(1, 6, size=6))
    return f"{trial}\t\t{level}\t{grs}\t\t{items}\n"  # the real file's empty columns


def _transcription(n: int, gestures: list[str], rng: np.random.Generator, *, overrun: bool = False) -> str:
    """``start end Gk`` lines, 1-based inclusive, first start > 1; ``overrun`` ends past the video."""
    cuts = np.sort(rng.choice(np.arange(6, n - 6), size=len(gestures) - 1, replace=False))
    start, lines = int(rng.integers(2, 5)), []
    ends = [int(c) for c in cuts] + [n + 2 if overrun else n - int(rng.integers(1, 4))]
    for g, end in zip(gestures, ends):
        lines.append(f"{start} {end} {g}")
        start = end + 1
    return "\n".join(lines) + "\n"


def _jigsaws(root: Path, rng: np.random.Generator) -> None:
    # Suturing: the <Task>/{video,transcriptions,kinematics} layout
    task = root / "Suturing"
    meta = ""
    for k, (s, level, grs) in enumerate(SUTURING):
        trial = f"Suturing_{s}001"
        meta += _meta_line(trial, level, grs, rng)
        n = int(rng.integers(36, 45))
        big = k == 0
        _video(task / "video" / f"{trial}_capture1.avi", n, "jigsaws", color=_color(rng),
               size=(320, 240) if big else (W, H), codec="mjpeg")
        if big:
            _video(task / "video" / f"{trial}_capture2.avi", n, "jigsaws", color=_color(rng), codec="mjpeg")
            kin = rng.normal(size=(n, 76))
            atomic_write(task / "kinematics" / "AllGestures" / f"{trial}.txt",
                         "\n".join("     ".join(f"{v:.6e}" for v in row) for row in kin) + "\n")
        atomic_write(task / "transcriptions" / f"{trial}.txt",
                     _transcription(n, ["G1", "G2", "G3", "G6", "G11"], rng, overrun=k == 1))
    meta += _meta_line("Suturing_H002", "N", 11, rng)  # listed, but there is no video (as in the real data)
    atomic_write(task / "meta_file_Suturing.txt", meta)
    # Knot_Tying: the <Task>_video/video + <Task>_kinematic/transcriptions mirror layout
    meta = ""
    for s, level, grs in KNOT:
        trial = f"Knot_Tying_{s}001"
        meta += _meta_line(trial, level, grs, rng)
        n = int(rng.integers(36, 45))
        _video(root / "Knot_Tying_video" / "video" / f"{trial}_capture1.avi", n, "jigsaws", color=_color(rng),
               codec="mjpeg")
        atomic_write(root / "Knot_Tying_kinematic" / "transcriptions" / f"{trial}.txt",
                     _transcription(n, ["G1", "G12", "G13", "G14", "G15", "G11"], rng))
    atomic_write(root / "Knot_Tying_kinematic" / "meta_file_Knot_Tying.txt", meta)


# --------------------------------------------------------------------------------------------- config


def sample_config() -> dict[str, Any]:
    """The build config for the sample trees (relative roots; every source, trim kind and strategy)."""
    return {
        "name": "viddiff-sample",
        "version": "0.1.0",
        "seed": 0,
        "output": "dataset",
        "encode": {"crf": 18, "preset": "veryfast"},
        "sources": {
            # on_bad_media: skip -> the Recon folder with a gap (p000004) is left out, not a build error
            "humman": {"root": "humman", "action_names": {"a000001": "squat", "a000002": "lunge"},
                       "fps_recon": 5, "fps_point": 30, "on_bad_media": "skip"},
            "egoexo4d": {"root": "egoexo4d"},
            "finediving": {"root": "finediving", "fps": 12},
            "jigsaws": {"root": "jigsaws", "transcription_base": 1},
        },
        "actions": [
            {"key": "fitness_0", "name": "squat", "description": "A bodyweight squat (SYNTHETIC sample).",
             "domain": "fitness", "split": "easy", "source": "humman",
             "select": {"action": "squat", "view": "kinect_000", "subset": "recon"},
             "trim": {"by": "clip"}, "pairs": {"count": 2, "strategy": "random"}},
            {"key": "fitness_1", "name": "lunge", "description": "A forward lunge (SYNTHETIC sample).",
             "domain": "fitness", "split": "medium", "source": "humman",
             "select": {"action": "a000002", "view": "kinect_000", "subset": "point"},
             "trim": {"by": "clip"}, "fps": 15, "pairs": {"count": 2, "strategy": "random"}},
            {"key": "ballsports_0", "name": "basketball mikan layup",
             "description": "Mikan layup drill, best exo view (SYNTHETIC sample).", "domain": "ballsports",
             "split": "medium", "source": "egoexo4d", "select": {"task_name": TASK, "view": "best_exo"},
             "trim": {"by": "clip"}, "fps": 10, "pairs": {"count": 2, "strategy": "skill_contrast"}},
            {"key": "diving_0", "name": "diving 107B from 10m",
             "description": "Forward 3.5 somersaults pike from the 10m platform (SYNTHETIC sample).",
             "domain": "diving", "split": "medium", "source": "finediving",
             "select": {"action_type": "107B", "height": "10m"},
             "trim": {"by": "subactions", "first": "3.5 Soms.Pike", "last": "Entry"}, "fps": 6,
             "pairs": {"count": 2, "strategy": "score_gap"}},
            {"key": "surgery_0", "name": "suturing", "description": "Suturing, left endoscope (SYNTHETIC sample).",
             "domain": "surgery", "split": "hard", "source": "jigsaws",
             "select": {"task": "Suturing", "capture": "capture1"},
             "trim": {"by": "clip"}, "pairs": {"count": 2, "strategy": "score_gap"}},
            {"key": "surgery_1", "name": "knot tying",
             "description": "Knot tying from the first reach to the last drop (SYNTHETIC sample).",
             "domain": "surgery", "split": "hard", "source": "jigsaws",
             "select": {"task": "Knot_Tying", "capture": "capture1"},
             "trim": {"by": "subactions", "first": "G1", "last": "G11"},
             "pairs": {"count": 2, "strategy": "skill_contrast"}},
        ],
    }


WRITERS: dict[str, Callable[[Path, np.random.Generator], None]] = {
    "humman": _humman, "egoexo4d": _egoexo, "finediving": _finediving, "jigsaws": _jigsaws,
}
STAMP = ".sample_sources.json"


def write_sample_sources(out: Path, *, seed: int = 0, force: bool = False) -> Path:
    """Write the four synthetic source trees under ``out/`` and ``out/config.yaml``; return the config path.

    Deterministic for a seed. Each tree is written to a temporary folder and renamed into place, so an
    interrupted run leaves no half tree; a finished tree for the same seed and generator version is kept
    as is (``force`` rewrites it), so rerunning ``make sample`` does no work.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = {"generator": GENERATOR_VERSION, "seed": seed}
    config_path = out / "config.yaml"
    done = out / STAMP
    if (not force and done.is_file() and json.loads(done.read_text()) == stamp and config_path.is_file()
            and all((out / name).is_dir() for name in WRITERS)):
        return config_path
    done.unlink(missing_ok=True)
    for k, (name, writer) in enumerate(WRITERS.items()):
        tmp = out / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            writer(tmp, np.random.default_rng([seed, k]))
            atomic_write(tmp / "README.txt", README.format(version=GENERATOR_VERSION, seed=seed))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(out / name, ignore_errors=True)
        tmp.rename(out / name)
    config = sample_config()
    config["seed"] = seed
    check("build_config", config, file=str(config_path))
    atomic_write(out / "README.txt", README.format(version=GENERATOR_VERSION, seed=seed))
    atomic_write(config_path, "# SYNTHETIC sample sources: see README.txt. Relative roots resolve against this folder.\n"
                 "# humman on_bad_media: skip leaves out the Recon folder with a gap (p000004) instead of stopping.\n"
                 + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110))
    write_sample_taxonomies(out / "taxonomies", config)  # one per action, for annotation rounds
    write_json(done, stamp)
    return config_path
