"""FineDiving (Olympic diving): one clip per annotated ``(source, instance)`` frame folder.

Layout (from the FineDiving release)::

    ROOT/FINADiving_MTL_256s/<source>/<instance>/00489.jpg …   (absolute frame numbers, 5 or 8 digits)
    ROOT/Trimmed_Video_Frames/FINADiving_MTL_256s/<source>/<instance>/ …   (another published layout)
    ROOT/Annotations/FineDiving_fine-grained_annotation.pkl    {(source, instance): {action_type, dive_score,
                                                                 frames_labels, sub-action_types, …}}
    ROOT/Annotations/FineDiving_coarse_annotation.pkl          {(source, instance): {difficulty, judge_scores, …}}
    ROOT/Annotations/Sub_action_Types_Table.pkl                {id: name}
    ROOT/Annotations/{train,test}_split.pkl  (or ROOT/train_test_split/)

Pickles are read with a restricted unpickler (builtins and numpy arrays only: a pickle cannot run code).
``frames_labels`` holds one label per image in sorted order; runs of equal labels become sub-actions.
When the label count differs from the image count (an old release had e.g. 98 images and 94 labels), the
default ``label_mismatch: skip`` leaves the clip out and says so; ``clamp`` keeps it with sub-actions
over the first ``min(images, labels)`` frames. FineDiving has no official fps: ``fps`` defaults to 12, the
value VidDiff's config uses, which is **unverified upstream** (one demo script says 18; the sub-action
lengths suggest 20-30 fps for the raw frames): every build prints it as an assumption. The data has no
athlete ids, so ``participant`` is null. The height comes from the source name (``10m``/``Platform`` ->
``10m``, ``3m``/``Springboard`` -> ``3m``; also ``Men10mSynchronised``); numeric sources ``'01'`` … ``'26'``
have none unless ``heights`` maps them, and a scan counts the clips without a height.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from curation.sources.base import (
    ON_BAD_MEDIA,
    BaseAdapter,
    ClipRecord,
    FolderProblem,
    Option,
    ScanResult,
    how_set,
    image_folder,
    image_size,
    norm,
    positive,
)
from schemas.errors import ToolkitError

FRAMES_DIRS = ("FINADiving_MTL_256s", "FineDiving_MTL_256s", "FINADiving_MTL", "frames")
FRAMES_PARENTS = ("", "Trimmed_Video_Frames")
ANNOTATION_DIRS = ("Annotations", "annotations", "Annotation")
FINE = "FineDiving_fine-grained_annotation.pkl"
COARSE = "FineDiving_coarse_annotation.pkl"
AQA = "fine-grained_annotation_aqa.pkl"
TABLE = "Sub_action_Types_Table.pkl"
SPLITS = {"train": "train_split.pkl", "test": "test_split.pkl"}

_ALLOWED_GLOBALS = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "slice"),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays; any other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name} (only data and numpy arrays)")


def read_pickle(path: Path) -> Any:
    """Load an annotation pickle safely; unreadable or unsafe content is a one-line error naming the file."""
    try:
        with open(path, "rb") as fh:
            return _SafeUnpickler(fh).load()
    except FileNotFoundError:
        raise ToolkitError("file not found", file=str(path)) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
    ) as e:
        raise ToolkitError(f"unreadable pickle ({type(e).__name__}: {e})", file=str(path)) from None


def _py(value: Any) -> Any:
    """numpy scalars/arrays -> plain Python (JSON-ready)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_py(v) for v in value]
    return value


def _key(raw: Any, file: Path) -> tuple[str, int]:
    """A ``(source, instance)`` key in canonical form (source str as written, instance int)."""
    if not isinstance(raw, tuple) or len(raw) != 2:
        raise ToolkitError(f"expected (source, instance) keys, found {raw!r}", file=str(file))
    source, inst = raw
    try:
        return str(_py(source)), int(_py(inst))
    except (TypeError, ValueError):
        raise ToolkitError(f"expected (source, instance) keys, found {raw!r}", file=str(file)) from None


def _keyed(data: Any, file: Path) -> dict[tuple[str, int], Any]:
    if not isinstance(data, dict):
        raise ToolkitError(
            f"expected a dict keyed by (source, instance), got {type(data).__name__}", file=str(file)
        )
    return {_key(k, file): v for k, v in data.items()}


def parse_height(source: str) -> str | None:
    """``'10m'`` / ``'3m'`` / ``'1m'`` from a competition name (Platform = 10m, Springboard = 3m)."""
    # case-sensitive lookahead: "Men10mSynchronised" has a height, "3min" has none
    m = re.search(r"(?<![0-9.])(1|3|5|7\.5|10)[mM](?![a-z])", source)
    if m:
        return f"{m.group(1)}m"
    low = source.lower()
    if "platform" in low:
        return "10m"
    if "springboard" in low:
        return "3m"
    return None


def label_runs(labels: list[int]) -> list[tuple[int, int, int]]:
    """Runs of equal labels as ``(label, start, end)`` with ``end`` exclusive."""
    runs: list[tuple[int, int, int]] = []
    for i, lab in enumerate(labels):
        if runs and runs[-1][0] == lab:
            runs[-1] = (lab, runs[-1][1], i + 1)
        else:
            runs.append((lab, i, i + 1))
    return runs


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
        _write_sample_tree(root, rng)

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:
        frames_root = _frames_root(root, opts["frames_dir"])
        ann_dir = _pick_dir(root, opts["annotations_dir"], ANNOTATION_DIRS, "annotations_dir")
        fine = _keyed(read_pickle(ann_dir / FINE), ann_dir / FINE) if (ann_dir / FINE).is_file() else {}
        coarse = (
            _keyed(read_pickle(ann_dir / COARSE), ann_dir / COARSE) if (ann_dir / COARSE).is_file() else {}
        )
        aqa = _keyed(read_pickle(ann_dir / AQA), ann_dir / AQA) if (ann_dir / AQA).is_file() else {}
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
        split = _read_splits(root, ann_dir)
        heights = {str(k): str(v) for k, v in opts["heights"].items()}
        clips: list[ClipRecord] = []
        skipped: list[tuple[str, str]] = []
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
            entry = _entry(fine.get(key), coarse.get(key), aqa.get(key), ann_dir, cid)
            folder = frames_root / source / str(inst)
            if not folder.is_dir():
                skipped.append((cid, f"frame folder missing: {folder}"))
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
                            (
                                cid,
                                (
                                    f"label/frame count mismatch: {len(labels)} frames_labels for "
                                    f"{len(files)} images (set label_mismatch: clamp to keep it)"
                                ),
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


def _frames_root(root: Path, given: str) -> Path:
    """The folder holding ``<source>/<instance>/``: ``frames_dir`` if given, else the first of
    ``FRAMES_DIRS`` under the root or under ``Trimmed_Video_Frames/``, else the root itself."""
    if given:
        return _pick_dir(root, given, (), "frames_dir")
    for parent in FRAMES_PARENTS:
        for name in FRAMES_DIRS:
            if (root / parent / name).is_dir():
                return root / parent / name
    return root  # frames directly under the root: ROOT/<source>/<instance>/


def _pick_dir(root: Path, given: str, defaults: tuple[str, ...], option: str) -> Path:
    if given:
        path = root / given
        if not path.is_dir():
            raise ToolkitError("folder not found", file=str(path), key=f"sources.finediving.{option}")
        return path
    for name in defaults:
        if (root / name).is_dir():
            return root / name
    if option == "frames_dir":
        return root  # frames directly under the root: ROOT/<source>/<instance>/
    raise ToolkitError(
        f"no annotation folder ({', '.join(defaults)})", file=str(root), key=f"sources.finediving.{option}"
    )


def _entry(fine: Any, coarse: Any, aqa: Any, ann_dir: Path, cid: str) -> dict[str, Any]:
    """Merge the fine, coarse and aqa records of one clip into plain values."""
    for name, rec in ((FINE, fine), (COARSE, coarse)):
        if rec is not None and not isinstance(rec, dict):
            raise ToolkitError(
                f"expected a dict entry, got {type(rec).__name__}", file=str(ann_dir / name), key=cid
            )
    fine, coarse = fine or {}, coarse or {}
    aqa_list = list(aqa) if aqa is not None else []

    def pick(key: str, aqa_index: int | None = None) -> Any:
        for rec in (fine, coarse):
            if rec.get(key) is not None:
                return _py(rec[key])
        if aqa_index is not None and len(aqa_list) > aqa_index:
            return _py(aqa_list[aqa_index])
        return None

    action = pick("action_type", 0)
    if action is None:
        raise ToolkitError(
            "entry has no action_type", file=str(ann_dir / (FINE if fine else COARSE)), key=cid
        )
    labels = pick("frames_labels", 4)
    types = fine.get("sub-action_types") or {}
    score, difficulty = pick("dive_score", 1), pick("difficulty", 2)
    return {
        "action_type": str(action).upper(),
        "dive_score": None if score is None else float(score),
        "difficulty": None if difficulty is None else float(difficulty),
        "judge_scores": pick("judge_scores"),
        "start_frame": pick("start_frame"),
        "end_frame": pick("end_frame"),
        "frames_labels": None if labels is None else [int(x) for x in np.ravel(labels)],
        "sub_action_types": {int(_py(k)): str(v) for k, v in types.items()}
        if isinstance(types, dict)
        else {},
    }


def _read_splits(root: Path, ann_dir: Path) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for split, fname in SPLITS.items():
        for folder in (ann_dir, root / "train_test_split", root / "Annotations" / "train_test_split"):
            path = folder / fname
            if path.is_file():
                keys = read_pickle(path)
                if not isinstance(keys, (list, tuple)):
                    raise ToolkitError("expected a list of (source, instance) keys", file=str(path))
                out.update({_key(k, path): split for k in keys})
                break
    return out


# ------------------------------------------------------------------- SYNTHETIC sample tree

SUB_ACTIONS = {1: "Forward", 2: "Back", 7: "3.5 Soms.Pike", 9: "2.5 Soms.Pike", 13: "Entry"}
DIVES = [
    # source, instance, digits, first absolute frame, action_type as written, label/frame mismatch
    ("FINADivingWorldCup2021_Men10m_final_r1", 0, 5, 489, "107B", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 1, 5, 2210, "107b", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 2, 5, 14425, "107B", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 5, 5, 30112, "107B", 4),
    ("01", 3, 8, 19758, "107B", 0),
]


def _write_sample_tree(root: Path, rng: np.random.Generator) -> None:
    """Write this source's SYNTHETIC sample tree (see curation/samples/trees.py) under ``root``."""
    from curation.samples import trees as ss

    frames_root = root / "FINADiving_MTL_256s"
    fine, coarse, aqa = {}, {}, {}
    for source, inst, digits, first, action, mismatch in DIVES:
        runs = [(1, int(rng.integers(5, 8))), (7, int(rng.integers(10, 15))), (13, int(rng.integers(5, 8)))]
        labels = np.concatenate([np.full(n, lab, dtype=np.int64) for lab, n in runs])
        n = len(labels) + mismatch
        ss.write_image_folder(
            frames_root / source / str(inst),
            list(range(first, first + n)),
            "finediving",
            digits=digits,
            ext="jpg",
            color=ss.write_color(rng),
        )
        judges = np.round(rng.uniform(5.0, 9.5, size=7) * 2) / 2
        score = float(np.round(np.sort(judges)[2:5].sum() * 3.3, 2))
        transits = np.cumsum([n for _, n in runs])[:-1]
        key = (source, inst)
        fine[key] = {
            "action_type": action,
            "dive_score": np.float64(score),
            "frames_labels": labels,
            "steps_transit_frames": transits,
            "sub-action_types": {1: "Forward", 7: "3.5 Soms.Pike"},
        }
        coarse[key] = {
            "action_type": action,
            "dive_score": score,
            "difficulty": np.float64(3.3),
            "judge_scores": judges,
            "start_frame": first,
            "end_frame": first + n - 1,
        }
        aqa[key] = [action, score, 3.3, transits, labels]
    ann = root / "Annotations"
    ss.write_pickle(ann / "FineDiving_fine-grained_annotation.pkl", fine)
    ss.write_pickle(ann / "FineDiving_coarse_annotation.pkl", coarse)
    ss.write_pickle(ann / "fine-grained_annotation_aqa.pkl", aqa)
    ss.write_pickle(ann / "Sub_action_Types_Table.pkl", SUB_ACTIONS)  # "Entry" (13) is only in the table
    keys = sorted(fine)
    ss.write_pickle(ann / "train_split.pkl", keys[::2])
    ss.write_pickle(ann / "test_split.pkl", keys[1::2])
