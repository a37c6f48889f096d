"""JIGSAWS (robotic surgery): one clip per trial and endoscope capture (``capture1``/``capture2``).

Layout (the JIGSAWS release), either of the two mirror styles::

    ROOT/<Task>/meta_file_<Task>.txt                ROOT/<Task>_video/video/<Task>_<S><NNN>_capture1.avi
    ROOT/<Task>/video/<Task>_B001_capture1.avi      ROOT/<Task>_kinematic/transcriptions/<Task>_<S><NNN>.txt
    ROOT/<Task>/transcriptions/<Task>_B001.txt      (meta file in any of <Task>/, <Task>_video/, <Task>_kinematic/)

The meta file has empty tab columns (``Suturing_B001\\t\\tN\\t13\\t\\t3\\t2\\t1\\t2\\t2\\t3``): it is parsed by
whitespace into trial, self-reported skill N/I/E, the modified-OSATS GRS (6-30) and six item scores.
Transcriptions are ``start end Gk`` lines on the 30 Hz clock. **Assumption** (unverified upstream, most
loaders agree; it holds on the real Suturing files: smallest start 1, contiguous rows, last end <=
kinematics rows <= video frames): numbers are 1-based and ends inclusive; ``transcription_base`` (1) and
``transcription_end_inclusive`` (true) change that. They become 0-based half-open sub-actions. A
transcription may end up to ``max_overrun`` frames (default 3) past its video: those ends are clamped and
counted (``adjusted``); a video shorter than that (a truncated AVI) is "shorter than its annotations", an
error naming the file and both lengths, or skipped with ``on_bad_media: skip``. The clip's segment is the
first gesture's start to the last gesture's end. Trials without video (``Suturing_H002``) are skipped, and
so is a missing capture of a trial whose other capture exists (each counted with its reason). The real
AVIs are MPEG-4 part 2 (FourCC DX50) at 10000000/333333 fps (30.00003): clips keep that exact rate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from curation.sources.base import (
    ON_BAD_MEDIA,
    BaseAdapter,
    ClipRecord,
    Option,
    ScanResult,
    Skip,
    how_set,
    norm,
    positive,
    probe_videos,
)
from schemas.errors import ToolkitError
from schemas.io import atomic_write

SKILL_RANK = {"N": 0, "I": 1, "E": 2}
SKILL_NAME = {"N": "novice", "I": "intermediate", "E": "expert"}
OSATS_ITEMS = (
    "respect_for_tissue",
    "suture_needle_handling",
    "time_and_motion",
    "flow_of_operation",
    "overall_performance",
    "quality_of_final_product",
)
GESTURES = {
    "G1": "reaching for needle with right hand",
    "G2": "positioning needle",
    "G3": "pushing needle through tissue",
    "G4": "transferring needle from left to right",
    "G5": "moving to center with needle in grip",
    "G6": "pulling suture with left hand",
    "G7": "pulling suture with right hand",
    "G8": "orienting needle",
    "G9": "using right hand to help tighten suture",
    "G10": "loosening more suture",
    "G11": "dropping suture at end and moving to end points",
    "G12": "reaching for needle with left hand",
    "G13": "making C loop around right hand",
    "G14": "reaching for suture with right hand",
    "G15": "pulling suture with both hands",
}
META_RE = re.compile(r"^meta_file_(.+)\.txt$")
VIDEO_RE = re.compile(r"^(?P<trial>.+_[A-Z]\d{3})_(?P<capture>capture\d)\.(?:avi|mp4)$", re.IGNORECASE)


class JigsawsAdapter(BaseAdapter):
    """Parses the JIGSAWS task folders (meta file, videos, transcriptions)."""

    name = "jigsaws"
    dataset_name = "JIGSAWS"
    aliases = ()
    title = "JIGSAWS"
    licence = "JIGSAWS terms (non-commercial research use; access by registration)"
    link = "https://cirl.lcsr.jhu.edu/research/hmm/datasets/jigsaws_release/"
    note = ""
    citation = """@inproceedings{gao2014jigsaws,
  title     = {{JHU-ISI} Gesture and Skill Assessment Working Set ({JIGSAWS}): A Surgical Activity Dataset for
               Human Motion Modeling},
  author    = {Gao, Yixin and Vedula, S. Swaroop and Reiley, Carol E. and Ahmidi, Narges and Varadarajan,
               Balakrishnan and Lin, Henry C. and Tao, Lingling and Zappella, Luca and B{\\'e}jar, Benjam{\\'i}n and
               Yuh, David D. and Chen, Chi Chiung Grace and Vidal, Ren{\\'e} and Khudanpur, Sanjeev and
               Hager, Gregory D.},
  booktitle = {MICCAI Workshop: Modeling and Monitoring of Computer Assisted Interventions (M2CAI)},
  year      = {2014}
}"""
    SAMPLE_OPTIONS = {"root": "jigsaws", "transcription_base": 1}
    SAMPLE_ACTIONS = [
        {
            "key": "surgery_0",
            "name": "suturing",
            "description": "Suturing, left endoscope (SYNTHETIC sample).",
            "domain": "surgery",
            "split": "hard",
            "source": "jigsaws",
            "select": {"task": "Suturing", "capture": "capture1"},
            "trim": {"by": "clip"},
            "pairs": {"count": 2, "strategy": "score_gap"},
        },
        {
            "key": "surgery_1",
            "name": "knot tying",
            "description": "Knot tying from the first reach to the last drop (SYNTHETIC sample).",
            "domain": "surgery",
            "split": "hard",
            "source": "jigsaws",
            "select": {"task": "Knot_Tying", "capture": "capture1"},
            "trim": {"by": "subactions", "first": "G1", "last": "G11"},
            "pairs": {"count": 2, "strategy": "skill_contrast"},
        },
    ]
    OPTIONS = {
        "fps": Option(float, 30.0, "declared frame rate of the videos and transcriptions", positive),
        "transcription_base": Option(
            int, 1, "frame number of the first video frame in transcriptions (0 or 1)", lambda v: v in (0, 1)
        ),
        "transcription_end_inclusive": Option(bool, True, "transcription end frames are inclusive"),
        "max_overrun": Option(
            int,
            3,
            "frames a transcription may end past its video (clamped and counted); "
            "beyond that the video is shorter than its annotations",
            lambda v: v >= 0,
        ),
        "on_bad_media": ON_BAD_MEDIA,
    }
    SELECT = {
        "task": lambda c, v: norm(c.action) == norm(v) or norm(c.action) == norm(str(v).replace(" ", "_")),
        "capture": lambda c, v: norm(c.view) == norm(v if str(v).startswith("capture") else f"capture{v}"),
        "skill": lambda c, v: (
            c.skill is not None
            and norm(c.skill.get("level") or "") in (norm(v), norm(SKILL_NAME.get(str(v).upper(), v)))
        ),
        "participant": lambda c, v: c.participant == str(v),
    }

    @staticmethod
    def write_sample_tree(root: Path, rng: np.random.Generator) -> None:
        """Write the SYNTHETIC sample tree (see curation/samples/trees.py)."""
        _write_sample_tree(root, rng)

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        metas = _find_meta_files(root)
        if not metas:
            raise ToolkitError(
                "no meta_file_<Task>.txt found (JIGSAWS task folders expected)",
                file=str(root),
                key="sources.jigsaws.root",
            )
        clips: list[ClipRecord] = []
        skipped: list[tuple[str, str]] = []
        adjusted: list[tuple[str, str]] = []
        wanted: list[tuple[Path, str, str, str, dict[str, Any] | None]] = []
        for task, meta_path in sorted(metas.items()):
            trials = parse_meta_file(meta_path)
            dirs = _task_dirs(root, task)
            videos = _find_videos(dirs, task)
            captures = sorted({c for caps in videos.values() for c in caps})
            for trial, caps in sorted(videos.items()):
                for capture in captures:
                    if capture not in caps:
                        where = ", ".join(str(d / "video") for d in dirs if (d / "video").is_dir()) or str(
                            root
                        )
                        skipped.append(
                            (
                                f"{trial}.{capture}",
                                (
                                    f"missing capture: no {trial}_{capture}.avi in {where}"
                                    f" ({', '.join(sorted(caps))} present)"
                                ),
                            )
                        )
            for trial, info in trials.items():
                caps = videos.get(trial, {})
                if not caps:
                    skipped.append((trial, "no video files (listed in the meta file)"))
                for capture, path in sorted(caps.items()):
                    wanted.append((path, task, trial, capture, info))
            for trial in sorted(set(videos) - set(trials)):
                for capture, path in sorted(videos[trial].items()):
                    wanted.append((path, task, trial, capture, None))
        probed, bad = probe_videos([w[0] for w in wanted], on_error=opts["on_bad_media"], source=self.name)
        skipped.extend(bad)
        transcripts: dict[str, list[tuple[int, int, str]] | None] = {}
        for path, task, trial, capture, info in wanted:
            if path not in probed:
                continue
            pr = probed[path]
            if trial not in transcripts:
                tpath = _find_transcription(_task_dirs(root, task), trial)
                transcripts[trial] = parse_transcription(tpath) if tpath else None
            raw = transcripts[trial]
            last = _last_end(raw or [], opts)
            if last > pr.n_frames + opts["max_overrun"]:
                why = (
                    f"media shorter than its annotations: the video has {pr.n_frames} frames, its transcription "
                    f"{_find_transcription(_task_dirs(root, task), trial)} runs to frame {last} "
                    f"(max_overrun {opts['max_overrun']})"
                )
                if opts["on_bad_media"] == "error":
                    raise ToolkitError(
                        f"{why}; set sources.jigsaws.on_bad_media: skip to leave it out",
                        file=str(path),
                        key="sources.jigsaws",
                    )
                skipped.append(Skip(str(path), "media shorter than its annotations", why=why, bad_media=True))
                continue
            subactions, clamped = _subactions(raw or [], pr.n_frames, opts)
            if clamped:
                adjusted.append(
                    (
                        f"{trial}.{capture}",
                        (
                            f"clamped end: transcription ends at frame {last}, the "
                            f"video has {pr.n_frames} frames"
                        ),
                    )
                )
            segment = (subactions[0]["start"], subactions[-1]["end"]) if subactions else None
            meta: dict[str, Any] = {
                "task": task,
                "trial": trial,
                "surgeon": trial.rsplit("_", 1)[1][0],
                "rel_path": str(path.relative_to(root)),
                "width": pr.width,
                "height": pr.height,
                "transcription": raw is not None,
                "clamped_subactions": clamped,
            }
            skill = None
            if info is not None:
                meta["osats"] = info["osats"]
                skill = {
                    "level": SKILL_NAME[info["level"]],
                    "score": info["grs"],
                    "scale": "GRS 6-30",
                    "rank": SKILL_RANK[info["level"]],
                }
            clips.append(
                ClipRecord(
                    clip_id=f"{trial}.{capture}",
                    dataset=self.name,
                    action=task,
                    action_name=task.replace("_", " "),
                    media_path=str(path),
                    media_kind="video",
                    view=capture,
                    n_frames=pr.n_frames,
                    fps_declared=opts["fps"],
                    fps_measured=pr.fps,
                    segment=segment,
                    subactions=subactions,
                    skill=skill,
                    participant=meta["surgeon"],
                    meta=meta,
                )
            )
        return ScanResult(clips, skipped, adjusted)

    def assumptions(self, given: dict, opts: dict[str, Any], result: ScanResult) -> list[str]:
        """The transcription reading is not stated upstream: say which one this build used."""
        base, incl = opts["transcription_base"], opts["transcription_end_inclusive"]
        how = how_set(given, "transcription_base", "transcription_end_inclusive")
        return [
            (
                f"jigsaws: transcription frames read as {base}-based with {'inclusive' if incl else 'exclusive'} "
                f"ends ({how}; not stated upstream, holds on the real Suturing files)"
            )
        ]


def parse_meta_file(path: Path) -> dict[str, dict[str, Any]]:
    """trial -> {level N/I/E, grs, osats items} from ``meta_file_<Task>.txt`` (split on any whitespace)."""
    out: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise ToolkitError(f"unreadable meta file ({e.strerror})", file=str(path)) from None
    for no, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 9 or parts[1].upper() not in SKILL_RANK:
            raise ToolkitError(
                f"expected 'trial N|I|E GRS item1..item6' (whitespace-separated), got {len(parts)} fields",
                file=str(path),
                key=f"line {no}",
            )
        try:
            numbers = [float(x) for x in parts[2:]]
        except ValueError:
            raise ToolkitError(
                "GRS and item scores must be numbers", file=str(path), key=f"line {no}"
            ) from None
        out[parts[0]] = {
            "level": parts[1].upper(),
            "grs": numbers[0],
            "osats": dict(zip(OSATS_ITEMS, numbers[1:])),
        }
    return out


def parse_transcription(path: Path) -> list[tuple[int, int, str]]:
    """``start end Gk`` lines as they are written (no base conversion)."""
    out = []
    for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            raise ToolkitError("expected 'start end Gk'", file=str(path), key=f"line {no}")
        start, end = int(parts[0]), int(parts[1])
        if end < start:
            raise ToolkitError(
                f"gesture ends ({end}) before it starts ({start})", file=str(path), key=f"line {no}"
            )
        out.append((start, end, parts[2]))
    return out


def _subactions(
    raw: list[tuple[int, int, str]], n: int, opts: dict[str, Any]
) -> tuple[list[dict[str, Any]], bool]:
    """Transcription rows as 0-based half-open sub-actions clamped to ``n`` frames."""
    base, incl = opts["transcription_base"], opts["transcription_end_inclusive"]
    out, clamped = [], False
    for start, end, label in sorted(raw):
        s, e = start - base, end - base + (1 if incl else 0)
        cs, ce = max(0, min(s, n)), max(0, min(e, n))
        clamped = clamped or (cs, ce) != (s, e)
        if ce > cs:
            out.append({"label": label, "name": GESTURES.get(label.upper()), "start": cs, "end": ce})
    return out, clamped


def _last_end(raw: list[tuple[int, int, str]], opts: dict[str, Any]) -> int:
    """The exclusive 0-based end of the last transcribed gesture (0 without a transcription)."""
    base, incl = opts["transcription_base"], opts["transcription_end_inclusive"]
    return max((end - base + (1 if incl else 0) for _, end, _ in raw), default=0)


def _find_meta_files(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted([*root.glob("meta_file_*.txt"), *root.glob("*/meta_file_*.txt")]):
        task = META_RE.match(path.name).group(1)
        out.setdefault(task, path)
    return out


def _task_dirs(root: Path, task: str) -> list[Path]:
    names = (task, f"{task}_video", f"{task}_kinematic", f"{task}_kinematics", "")
    return [root / n if n else root for n in names if (root / n).is_dir()]


def _find_videos(dirs: list[Path], task: str) -> dict[str, dict[str, Path]]:
    """trial -> capture -> file of ``task``, from ``video/`` under any of the task's folders."""
    out: dict[str, dict[str, Path]] = {}
    for d in dirs:
        for folder in (d / "video", d):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                m = VIDEO_RE.match(path.name)
                if m and path.is_file() and m["trial"].startswith(f"{task}_"):
                    out.setdefault(m["trial"], {}).setdefault(m["capture"].lower(), path)
    return out


def _find_transcription(dirs: list[Path], trial: str) -> Path | None:
    for d in dirs:
        path = d / "transcriptions" / f"{trial}.txt"
        if path.is_file():
            return path
    return None


# ------------------------------------------------------------------- SYNTHETIC sample tree

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


def _write_sample_tree(root: Path, rng: np.random.Generator) -> None:
    """Write this source's SYNTHETIC sample tree (see curation/samples/trees.py) under ``root``."""
    from curation.samples import trees as ss

    task = root / "Suturing"
    meta = ""
    for k, (s, level, grs) in enumerate(SUTURING):
        trial = f"Suturing_{s}001"
        meta += _meta_line(trial, level, grs, rng)
        n = int(rng.integers(36, 45))
        big = k == 0
        ss.write_video(
            task / "video" / f"{trial}_capture1.avi",
            n,
            "jigsaws",
            color=ss.write_color(rng),
            size=(320, 240) if big else (ss.W, ss.H),
            codec="mjpeg",
        )
        if big:
            ss.write_video(
                task / "video" / f"{trial}_capture2.avi",
                n,
                "jigsaws",
                color=ss.write_color(rng),
                codec="mjpeg",
            )
            kin = rng.normal(size=(n, 76))
            atomic_write(
                task / "kinematics" / "AllGestures" / f"{trial}.txt",
                "\n".join("     ".join(f"{v:.6e}" for v in row) for row in kin) + "\n",
            )
        atomic_write(
            task / "transcriptions" / f"{trial}.txt",
            _transcription(n, ["G1", "G2", "G3", "G6", "G11"], rng, overrun=k == 1),
        )
    meta += _meta_line("Suturing_H002", "N", 11, rng)  # listed, but there is no video (as in the real data)
    atomic_write(task / "meta_file_Suturing.txt", meta)
    # Knot_Tying: the <Task>_video/video + <Task>_kinematic/transcriptions mirror layout
    meta = ""
    for s, level, grs in KNOT:
        trial = f"Knot_Tying_{s}001"
        meta += _meta_line(trial, level, grs, rng)
        n = int(rng.integers(36, 45))
        ss.write_video(
            root / "Knot_Tying_video" / "video" / f"{trial}_capture1.avi",
            n,
            "jigsaws",
            color=ss.write_color(rng),
            codec="mjpeg",
        )
        atomic_write(
            root / "Knot_Tying_kinematic" / "transcriptions" / f"{trial}.txt",
            _transcription(n, ["G1", "G12", "G13", "G14", "G15", "G11"], rng),
        )
    atomic_write(root / "Knot_Tying_kinematic" / "meta_file_Knot_Tying.txt", meta)
