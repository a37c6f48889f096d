"""The JIGSAWS adapter: one clip per trial and endoscope capture, with skill, GRS and gesture sub-actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from curation.sources.base import BaseAdapter, norm
from curation.sources.files import probe_videos
from curation.sources.jigsaws.layout import (
    SKILL_NAME,
    SKILL_RANK,
    find_meta_files,
    find_transcription,
    find_videos,
    gesture_subactions,
    last_end,
    parse_meta_file,
    parse_transcription,
    task_dirs,
)
from curation.sources.jigsaws.sample import write_tree
from curation.sources.options import ON_BAD_MEDIA, Option, how_set, positive
from curation.sources.records import ClipRecord, ScanResult, Skip
from schemas.errors import ToolkitError


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
        write_tree(root, rng)

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        metas = find_meta_files(root)
        if not metas:
            raise ToolkitError(
                "no meta_file_<Task>.txt found (JIGSAWS task folders expected)",
                file=str(root),
                key="sources.jigsaws.root",
            )
        clips: list[ClipRecord] = []
        skipped: list[Skip] = []
        adjusted: list[Skip] = []
        wanted: list[tuple[Path, str, str, str, dict[str, Any] | None]] = []
        for task, meta_path in sorted(metas.items()):
            trials = parse_meta_file(meta_path)
            dirs = task_dirs(root, task)
            videos = find_videos(dirs, task)
            captures = sorted({c for caps in videos.values() for c in caps})
            for trial, caps in sorted(videos.items()):
                for capture in captures:
                    if capture not in caps:
                        where = ", ".join(str(d / "video") for d in dirs if (d / "video").is_dir()) or str(
                            root
                        )
                        skipped.append(
                            Skip(
                                f"{trial}.{capture}",
                                "missing capture",
                                f"no {trial}_{capture}.avi in {where} ({', '.join(sorted(caps))} present)",
                            )
                        )
            for trial, info in trials.items():
                caps = videos.get(trial, {})
                if not caps:
                    skipped.append(
                        Skip(trial, "no video files", why="no video files (listed in the meta file)")
                    )
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
                tpath = find_transcription(task_dirs(root, task), trial)
                transcripts[trial] = parse_transcription(tpath) if tpath else None
            raw = transcripts[trial]
            last = last_end(raw or [], opts)
            if last > pr.n_frames + opts["max_overrun"]:
                why = (
                    f"media shorter than its annotations: the video has {pr.n_frames} frames, its transcription "
                    f"{find_transcription(task_dirs(root, task), trial)} runs to frame {last} "
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
            subactions, clamped = gesture_subactions(raw or [], pr.n_frames, opts)
            if clamped:
                adjusted.append(
                    Skip(
                        f"{trial}.{capture}",
                        "clamped end",
                        f"transcription ends at frame {last}, the video has {pr.n_frames} frames",
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
