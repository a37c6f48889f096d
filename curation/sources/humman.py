"""HuMMan (fitness): Recon image folders and Point videos, one clip per sequence and Kinect view.

Layout (from humman_toolbox's documentation)::

    ROOT/[humman_release_v1.0_recon/]pXXXXXX_aXXXXXX/kinect_color/kinect_000/000000.png 000006.png …
    ROOT/[humman_release_v1.0_point/]pXXXXXX_aXXXXXX/kinect_color/kinect_000.mp4 … ; iphone_color/iphone.mp4

The sequence name carries the participant (``p…``) and the action id (``a…``); the data has no action
names, so the user supplies ``action_names: {a000001: squat}``. Recon keeps every 6th Kinect frame with
the original frame ids (0, 6, 12, …): a folder whose ids do not step by ``recon_step`` is skipped as an
image folder with gaps. Recon plays at ``fps_recon`` (default 5) and Point at ``fps_point`` (default 30);
both are configurable because VidDiff's config says 8 for its HuMMan clips. A ``kinect_00X/`` frame folder
next to ``kinect_00X.mp4`` (the toolbox's ``video_splitter.py`` output, numbered from 1) is the same media
and is skipped in favour of the video.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from curation.samples import synthetic as ss
from curation.sources.base import BaseAdapter, norm
from curation.sources.files import image_folder, image_size, probe_videos
from curation.sources.options import ON_BAD_MEDIA, Option, how_set, positive
from curation.sources.records import ClipRecord, FolderProblem, ScanResult, Skip
from schemas.io import write_json

SEQ_RE = re.compile(r"^p(\d{6})_a(\d{6})$")
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov")


def _action_key(value: Any) -> str:
    """Normalise an action id: ``a000001``, ``000001`` or ``1`` -> ``a000001``."""
    text = str(value).strip().lower()
    digits = text[1:] if text.startswith("a") else text
    return f"a{int(digits):06d}" if digits.isdigit() else text


def _person_key(value: Any) -> str:
    """Normalise a participant id: ``p000001``, ``000001`` or ``1`` -> ``p000001``."""
    text = str(value).strip().lower()
    digits = text[1:] if text.startswith("p") else text
    return f"p{int(digits):06d}" if digits.isdigit() else text


def _is_action_names(v: Any) -> bool:
    return all(isinstance(k, (str, int)) and isinstance(n, str) for k, n in v.items())


def _match_action(clip: ClipRecord, want: Any) -> bool:
    return clip.action == _action_key(want) or (
        clip.action_name is not None and norm(clip.action_name) == norm(want)
    )


class HuMManAdapter(BaseAdapter):
    """Parses HuMMan Recon and Point releases."""

    name = "humman"
    dataset_name = "HuMMan"
    aliases = ("humann",)
    title = "HuMMan"
    licence = "S-Lab License 1.0 (non-commercial use only)"
    link = "https://github.com/caizhongang/humman_toolbox/blob/main/LICENSE"
    note = "Clips may be used for non-commercial research only."
    citation = """@inproceedings{cai2022humman,
  title     = {{HuMMan}: Multi-Modal {4D} Human Dataset for Versatile Sensing and Modeling},
  author    = {Cai, Zhongang and Ren, Daxuan and Zeng, Ailing and Lin, Zhengyu and Yu, Tao and Wang, Wenjia and
               Fan, Xiangyu and Gao, Yang and Yu, Yifan and Pan, Liang and Hong, Fangzhou and Zhang, Mingyuan and
               Loy, Chen Change and Yang, Lei and Liu, Ziwei},
  booktitle = {European Conference on Computer Vision (ECCV)},
  year      = {2022}
}"""
    SAMPLE_OPTIONS = {
        "root": "humman",
        "action_names": {"a000001": "squat", "a000002": "lunge"},
        "fps_recon": 5,
        "fps_point": 30,
        "on_bad_media": "skip",
    }
    SAMPLE_ACTIONS = [
        {
            "key": "fitness_0",
            "name": "squat",
            "description": "A bodyweight squat (SYNTHETIC sample).",
            "domain": "fitness",
            "split": "easy",
            "source": "humman",
            "select": {"action": "squat", "view": "kinect_000", "subset": "recon"},
            "trim": {"by": "clip"},
            "pairs": {"count": 2, "strategy": "random"},
        },
        {
            "key": "fitness_1",
            "name": "lunge",
            "description": "A forward lunge (SYNTHETIC sample).",
            "domain": "fitness",
            "split": "medium",
            "source": "humman",
            "select": {"action": "a000002", "view": "kinect_000", "subset": "point"},
            "trim": {"by": "clip"},
            "fps": 15,
            "pairs": {"count": 2, "strategy": "random"},
        },
    ]
    OPTIONS = {
        "action_names": Option(dict, {}, "action id -> name, e.g. {a000001: squat}", _is_action_names),
        "fps_recon": Option(float, 5.0, "frame rate of Recon image folders", positive),
        "fps_point": Option(float, 30.0, "declared frame rate of Point videos", positive),
        "recon_step": Option(int, 6, "frame-id step of Recon folders (every 6th Kinect frame)", positive),
        "on_bad_media": ON_BAD_MEDIA,
    }
    SELECT = {
        "action": _match_action,
        "view": lambda c, v: norm(c.view) == norm(v),
        "subset": lambda c, v: c.meta.get("subset") == norm(v),
        "participant": lambda c, v: c.participant == _person_key(v),
    }

    @staticmethod
    def write_sample_tree(root: Path, rng: np.random.Generator) -> None:
        """Write the SYNTHETIC sample tree (see curation/samples/trees.py)."""
        _write_sample_tree(root, rng)

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        names = {_action_key(k): v for k, v in opts["action_names"].items()}
        seqs = _find_sequences(root)
        clips: list[ClipRecord] = []
        skipped: list[Skip] = []
        videos: list[tuple[Path, dict[str, Any]]] = []
        for seq in seqs:
            m = SEQ_RE.match(seq.name)
            person, action = f"p{m.group(1)}", f"a{m.group(2)}"
            common = dict(sequence=seq.name, person=person, action=action)
            found = False
            for color_dir in sorted(seq.glob("*_color")):
                if not color_dir.is_dir():
                    continue
                entries = sorted(color_dir.iterdir())
                video_stems = {p.stem for p in entries if p.is_file() and p.suffix.lower() in VIDEO_EXTS}
                for entry in entries:
                    if entry.is_file() and entry.suffix.lower() in VIDEO_EXTS:
                        videos.append((entry, dict(common, view=entry.stem)))
                        found = True
                    elif entry.is_dir() and entry.name in video_stems:
                        skipped.append(
                            Skip(
                                str(entry),
                                "frames split from a Point video",
                                f"{entry.name}{_suffix(entries, entry.name)} is used",
                            )
                        )
                    elif entry.is_dir():
                        found = True
                        try:
                            files, ids = image_folder(entry, step=opts["recon_step"])
                        except FolderProblem as problem:
                            skipped.append(problem.skip(str(entry)))
                            continue
                        size = image_size(files[0])
                        clips.append(
                            ClipRecord(
                                clip_id=f"{seq.name}.recon.{entry.name}",
                                dataset=self.name,
                                action=action,
                                action_name=names.get(action),
                                media_path=str(entry),
                                media_kind="frames",
                                view=entry.name,
                                n_frames=len(files),
                                frame_ids=ids,
                                fps_declared=opts["fps_recon"],
                                fps_measured=None,
                                participant=person,
                                meta=_meta(root, entry, "recon", seq.name, size),
                            )
                        )
            if not found:
                skipped.append(Skip(str(seq), "no kinect_color images or videos"))
        probed, bad = probe_videos([p for p, _ in videos], on_error=opts["on_bad_media"], source=self.name)
        skipped.extend(bad)
        for path, info in videos:
            if path not in probed:
                continue
            pr = probed[path]
            clips.append(
                ClipRecord(
                    clip_id=f"{info['sequence']}.point.{info['view']}",
                    dataset=self.name,
                    action=info["action"],
                    action_name=names.get(info["action"]),
                    media_path=str(path),
                    media_kind="video",
                    view=info["view"],
                    n_frames=pr.n_frames,
                    fps_declared=opts["fps_point"],
                    fps_measured=pr.fps,
                    participant=info["person"],
                    meta=_meta(root, path, "point", info["sequence"], (pr.width, pr.height)),
                )
            )
        if not seqs:
            skipped.append(Skip(str(root), "no pXXXXXX_aXXXXXX sequence folders found"))
        return ScanResult(clips, skipped)

    def assumptions(self, given: dict, opts: dict[str, Any], result: ScanResult) -> list[str]:
        """Recon image folders have no clock: the fps used for them is an assumption."""
        if not any(c.meta.get("subset") == "recon" for c in result.clips):
            return []
        return [
            (
                f"humman: Recon image folders assumed to play at {opts['fps_recon']:g} fps "
                f"({how_set(given, 'fps_recon')}): Recon keeps every 6th frame of the 30 fps Kinects (5 fps); "
                "VidDiff's config says 8"
            )
        ]


def _suffix(entries: list[Path], stem: str) -> str:
    return next((p.suffix for p in entries if p.is_file() and p.stem == stem), "")


def _meta(root: Path, path: Path, subset: str, seq: str, size: tuple[int, int] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"subset": subset, "sequence": seq, "rel_path": str(path.relative_to(root))}
    if size:
        meta["width"], meta["height"] = size
    return meta


def _find_sequences(root: Path) -> list[Path]:
    """Sequence folders at the root or one level down (``humman_release_v1.0_recon/`` etc.)."""
    found: list[Path] = []
    for level in (root, *sorted(p for p in root.iterdir() if p.is_dir() and not SEQ_RE.match(p.name))):
        found.extend(p for p in sorted(level.iterdir()) if p.is_dir() and SEQ_RE.match(p.name))
    return found


# ------------------------------------------------------------------- SYNTHETIC sample tree


def _write_sample_tree(root: Path, rng: np.random.Generator) -> None:
    """Write this source's SYNTHETIC sample tree (see curation/samples/trees.py) under ``root``."""
    recon = root / "humman_release_v1.0_recon"
    for p in (1, 2, 3, 4):
        seq = recon / f"p{p:06d}_a000001"
        n = int(rng.integers(16, 23))
        ids = [6 * i for i in range(n)]
        if p == 4:  # a dropped file: the folder has a gap and must be skipped
            del ids[5]
        ss.write_image_folder(
            seq / "kinect_color" / "kinect_000", ids, "humman", digits=6, ext="png", color=ss.write_color(rng)
        )
        write_json(
            seq / "cameras.json",
            {"kinect_color_000": {"K": np.eye(3).tolist(), "R": np.eye(3).tolist(), "T": [0.0, 0.0, 0.0]}},
        )
    point = root / "humman_release_v1.0_point"
    for p in (11, 12, 13):
        seq = point / f"p{p:06d}_a000002"
        ss.write_video(
            seq / "kinect_color" / "kinect_000.mp4",
            int(rng.integers(28, 37)),
            "humman",
            color=ss.write_color(rng),
        )
        write_json(seq / "cameras.json", {"kinect_color_000": {"K": np.eye(3).tolist()}})
    # the toolbox's video_splitter output next to one mp4 (ffmpeg numbering from 1): same media, skipped
    ss.write_image_folder(
        point / "p000011_a000002" / "kinect_color" / "kinect_000", [1, 2, 3], "humman", digits=6, ext="png"
    )
