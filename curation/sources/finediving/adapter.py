"""The FineDiving adapter: one clip per annotated ``(source, instance)`` frame folder, with sub-actions from its frame labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from curation.sources.base import BaseAdapter, norm
from curation.sources.files import image_folder, image_size
from curation.sources.finediving.layout import (
    ANNOTATION_DIRS,
    AQA,
    COARSE,
    FINE,
    FRAMES_DIRS,
    FRAMES_PARENTS,
    TABLE,
    _py,
    annotation_entry,
    find_frames_root,
    keyed_by_clip,
    label_runs,
    parse_height,
    pick_dir,
    read_pickle,
    read_splits,
)
from curation.sources.finediving.sample import write_tree
from curation.sources.options import ON_BAD_MEDIA, Option, how_set, positive
from curation.sources.records import ClipRecord, FolderProblem, ScanResult, Skip
from schemas.errors import ToolkitError


class FineDivingAdapter(BaseAdapter):
    """Parses the FineDiving frames and annotation pickles."""

    name = "finediving"
    dataset_name = "FineDiving"
    aliases = ("finadiving",)
    title = "FineDiving"
    licence = "FineDiving release agreement (signed agreement required; research use)"
    link = "https://github.com/xujinglin/FineDiving"
    note = "The data is obtained from the authors after signing their release agreement."
    citation = """@inproceedings{xu2022finediving,
  title     = {{FineDiving}: A Fine-grained Dataset for Procedure-aware Action Quality Assessment},
  author    = {Xu, Jinglin and Rao, Yongming and Yu, Xumin and Chen, Guangyi and Zhou, Jie and Lu, Jiwen},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2022}
}"""
    SAMPLE_OPTIONS = {"root": "finediving", "fps": 12}
    SAMPLE_ACTIONS = [
        {
            "key": "diving_0",
            "name": "diving 107B from 10m",
            "description": "Forward 3.5 somersaults pike from the 10m platform (SYNTHETIC sample).",
            "domain": "diving",
            "split": "medium",
            "source": "finediving",
            "select": {"action_type": "107B", "height": "10m"},
            "trim": {"by": "subactions", "first": "3.5 Soms.Pike", "last": "Entry"},
            "fps": 6,
            "pairs": {"count": 2, "strategy": "score_gap"},
        }
    ]
    OPTIONS = {
        "fps": Option(
            float,
            12.0,
            "frame rate of the frame folders (12 is VidDiff's value, unverified upstream)",
            positive,
        ),
        "frames_dir": Option(
            str, "", f"frame root relative to the root (default: first of {', '.join(FRAMES_DIRS)})"
        ),
        "annotations_dir": Option(str, "", "annotation folder relative to the root (default: Annotations)"),
        "label_mismatch": Option(
            str, "skip", "labels vs images count differs: skip | clamp", lambda v: v in ("skip", "clamp")
        ),
        "check_gaps": Option(bool, True, "skip folders whose frame numbers are not consecutive"),
        "heights": Option(
            dict, {}, "source name -> height for sources whose name has none, e.g. {'01': 10m}"
        ),
        "on_bad_media": ON_BAD_MEDIA,
    }
    MISSING: ClassVar[dict[str, Callable[[ClipRecord], bool]]] = {
        "height": lambda c: c.meta.get("dive_height") is None
    }
    SELECT = {
        "action_type": lambda c, v: norm(c.action) == norm(v),
        "height": lambda c, v: (
            c.meta.get("dive_height") is not None
            and norm(c.meta["dive_height"]) == norm(v if isinstance(v, str) else f"{v:g}m")
        ),
        "synchronised": lambda c, v: bool(c.meta.get("synchronised")) == bool(v),
        "split": lambda c, v: c.meta.get("split") == v,
        "source": lambda c, v: c.meta.get("source") == str(v),
    }

    @staticmethod
    def write_sample_tree(root: Path, rng: np.random.Generator) -> None:
        """Write the SYNTHETIC sample tree (see curation/samples/trees.py)."""
        write_tree(root, rng)

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        frames_root = find_frames_root(root, opts["frames_dir"])
        ann_dir = pick_dir(root, opts["annotations_dir"], ANNOTATION_DIRS, "annotations_dir")
        fine = (
            keyed_by_clip(read_pickle(ann_dir / FINE), ann_dir / FINE) if (ann_dir / FINE).is_file() else {}
        )
        coarse = (
            keyed_by_clip(read_pickle(ann_dir / COARSE), ann_dir / COARSE)
            if (ann_dir / COARSE).is_file()
            else {}
        )
        aqa = keyed_by_clip(read_pickle(ann_dir / AQA), ann_dir / AQA) if (ann_dir / AQA).is_file() else {}
        if not (fine or coarse or aqa):
            raise ToolkitError(
                f"no FineDiving annotation pickle ({FINE}, {COARSE} or {AQA})",
                file=str(ann_dir),
                key="sources.finediving.annotations_dir",
            )
        table = {}
        if (ann_dir / TABLE).is_file():
            raw = read_pickle(ann_dir / TABLE)
            if not isinstance(raw, dict):
                raise ToolkitError("expected a dict id -> sub-action name", file=str(ann_dir / TABLE))
            table = {int(_py(k)): str(v) for k, v in raw.items()}
        split = read_splits(root, ann_dir)
        heights = {str(k): str(v) for k, v in opts["heights"].items()}
        clips: list[ClipRecord] = []
        skipped: list[Skip] = []
        keys = sorted(set(fine) | set(coarse) | set(aqa))
        if keys and not any((frames_root / s / str(i)).is_dir() for s, i in keys):
            tried = (
                [str(frames_root)]
                if opts["frames_dir"]
                else [str(root / p / d) for p in FRAMES_PARENTS for d in FRAMES_DIRS] + [str(root)]
            )
            raise ToolkitError(
                f"none of the {len(keys)} annotated frame folders exists (looked for "
                f"<frames>/<source>/<instance>/, e.g. {frames_root / keys[0][0] / str(keys[0][1])}; "
                f"frame roots tried: {', '.join(tried)})",
                file=str(root),
                key="sources.finediving.frames_dir",
            )
        for key in keys:
            source, inst = key
            cid = f"{source}.{inst}"
            entry = annotation_entry(fine.get(key), coarse.get(key), aqa.get(key), ann_dir, cid)
            folder = frames_root / source / str(inst)
            if not folder.is_dir():
                skipped.append(Skip(cid, "frame folder missing", str(folder)))
                continue
            try:
                files, ids = image_folder(folder, step=1 if opts["check_gaps"] else None)
            except FolderProblem as problem:
                skipped.append(problem.skip(str(folder)))
                continue
            labels = entry["frames_labels"]
            meta: dict[str, Any] = {
                "source": source,
                "instance": inst,
                "rel_path": str(folder.relative_to(root)),
                "dive_height": heights.get(source) or parse_height(source),
                "synchronised": "synchron" in source.lower(),
                "difficulty": entry["difficulty"],
                "judge_scores": entry["judge_scores"],
                "start_frame": entry["start_frame"],
                "end_frame": entry["end_frame"],
                "split": split.get(key),
            }
            subactions: list[dict[str, Any]] = []
            if labels is not None:
                if len(labels) != len(files):
                    if opts["label_mismatch"] == "skip":
                        skipped.append(
                            Skip(
                                cid,
                                "label/frame count mismatch",
                                f"{len(labels)} frames_labels for {len(files)} images "
                                "(set label_mismatch: clamp to keep it)",
                            )
                        )
                        continue
                    meta["label_mismatch"] = {"labels": len(labels), "images": len(files)}
                    labels = labels[: len(files)]
                names = {**table, **entry["sub_action_types"]}
                subactions = [
                    {"label": names.get(lab, str(lab)), "id": lab, "start": s, "end": e}
                    for lab, s, e in label_runs(labels)
                ]
            size = image_size(files[0])
            if size:
                meta["width"], meta["height"] = size
            score = entry["dive_score"]
            clips.append(
                ClipRecord(
                    clip_id=cid,
                    dataset=self.name,
                    action=entry["action_type"],
                    action_name=None,
                    media_path=str(folder),
                    media_kind="frames",
                    view=None,
                    n_frames=len(files),
                    frame_ids=ids,
                    fps_declared=opts["fps"],
                    fps_measured=None,
                    subactions=subactions,
                    skill={"level": None, "score": score, "scale": "dive_score", "rank": None}
                    if score is not None
                    else None,
                    participant=None,
                    meta=meta,
                )
            )
        facts = {"clips without a height": sum(c.meta["dive_height"] is None for c in clips)}
        return ScanResult(clips, skipped, facts=facts)

    def assumptions(self, given: dict, opts: dict[str, Any], result: ScanResult) -> list[str]:
        """FineDiving states no frame rate: the fps used is an assumption, and so are mapped heights."""
        out = [
            (
                f"finediving: frame folders assumed to play at {opts['fps']:g} fps ({how_set(given, 'fps')}): "
                "FineDiving states no frame rate (VidDiff uses 12; the sub-action lengths suggest 20-30 fps)"
            )
        ]
        if opts["heights"]:
            out.append(
                f"finediving: heights of sources without one in their name set in the config: "
                f"{', '.join(f'{k}={v}' for k, v in sorted(opts['heights'].items()))}"
            )
        return out
