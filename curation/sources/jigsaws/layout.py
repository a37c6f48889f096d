"""Reading a JIGSAWS release: meta files, gesture transcriptions, and the videos and transcriptions of both mirror layouts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from schemas.errors import ToolkitError

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


def gesture_subactions(
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


def last_end(raw: list[tuple[int, int, str]], opts: dict[str, Any]) -> int:
    """The exclusive 0-based end of the last transcribed gesture (0 without a transcription)."""
    base, incl = opts["transcription_base"], opts["transcription_end_inclusive"]
    return max((end - base + (1 if incl else 0) for _, end, _ in raw), default=0)


def find_meta_files(root: Path) -> dict[str, Path]:
    """task -> its ``meta_file_<Task>.txt``, at the root or one folder down (either mirror layout)."""
    out: dict[str, Path] = {}
    for path in sorted([*root.glob("meta_file_*.txt"), *root.glob("*/meta_file_*.txt")]):
        task = META_RE.match(path.name).group(1)
        out.setdefault(task, path)
    return out


def task_dirs(root: Path, task: str) -> list[Path]:
    """The folders that may hold ``task``'s videos and transcriptions, in both mirror layouts."""
    names = (task, f"{task}_video", f"{task}_kinematic", f"{task}_kinematics", "")
    return [root / n if n else root for n in names if (root / n).is_dir()]


def find_videos(dirs: list[Path], task: str) -> dict[str, dict[str, Path]]:
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


def find_transcription(dirs: list[Path], trial: str) -> Path | None:
    """``transcriptions/<trial>.txt`` under the first of ``dirs`` that has it, else None."""
    for d in dirs:
        path = d / "transcriptions" / f"{trial}.txt"
        if path.is_file():
            return path
    return None
