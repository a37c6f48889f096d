"""Reading a FineDiving release: the frame and annotation folders, the pickles (with a restricted unpickler), heights, label runs, splits.

A pickle can hold only builtins and numpy arrays here, so reading one cannot run code; a wrong shape is an
error naming the file and key.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

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


def keyed_by_clip(data: Any, file: Path) -> dict[tuple[str, int], Any]:
    """An annotation pickle as ``{(source, instance): entry}``; any other shape is an error naming the file."""
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


def find_frames_root(root: Path, given: str) -> Path:
    """The folder holding ``<source>/<instance>/``: ``frames_dir`` if given, else the first of
    ``FRAMES_DIRS`` under the root or under ``Trimmed_Video_Frames/``, else the root itself."""
    if given:
        return pick_dir(root, given, (), "frames_dir")
    for parent in FRAMES_PARENTS:
        for name in FRAMES_DIRS:
            if (root / parent / name).is_dir():
                return root / parent / name
    return root  # frames directly under the root: ROOT/<source>/<instance>/


def pick_dir(root: Path, given: str, defaults: tuple[str, ...], option: str) -> Path:
    """The folder option ``option`` names, else the first of ``defaults`` under ``root`` that exists."""
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


def annotation_entry(fine: Any, coarse: Any, aqa: Any, ann_dir: Path, cid: str) -> dict[str, Any]:
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


def read_splits(root: Path, ann_dir: Path) -> dict[tuple[str, int], str]:
    """``{(source, instance): "train" | "test"}`` from the split pickles, wherever the release put them."""
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
