"""Tiny hand-made ground truth for the eval tests: every number in the tests is worked out from these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas.dataset_dir import save_dataset

ACTIONS = {
    "fitness_0": {
        "name": "hip circle",
        "description": "standing hip circle",
        "domain": "fitness",
        "split": "easy",
        "source_dataset": "humman",
    },
    "surgery_0": {
        "name": "knot tying",
        "description": "tie a surgical knot",
        "domain": "surgery",
        "split": "hard",
        "source_dataset": "JIGSAWS",
    },
}

STATEMENTS = {
    "0": "the squat is deeper",
    "1": "the arms are straighter",
    "2": "the stance is wider",
    "3": "the movement is faster",
    "4": "the back is more upright",
}


def _video(key: str, side: str, fps: float, n: int) -> dict[str, Any]:
    return {
        "path": f"videos/{key}/{side}.mp4",
        "fps_original": fps,
        "frames_trim": [0, n, None],
        "n_frames": n,
    }


def _row(
    key: str,
    action: str,
    gt: dict[str, str | None],
    fps: float,
    lengths: tuple[int, int],
    frames: list[dict[str, list[int] | None]] | None,
) -> dict[str, Any]:
    a = ACTIONS[action]
    return {
        "sample_key": key,
        "action": action,
        "action_name": a["name"],
        "action_description": a["description"],
        "domain": a["domain"],
        "split": a["split"],
        "source_dataset": a["source_dataset"],
        "videos": [_video(key, "a", fps, lengths[0]), _video(key, "b", fps, lengths[1])],
        "differences_annotated": {
            k: (
                {
                    "name": STATEMENTS[k],
                    "description": STATEMENTS[k],
                    "query_string": STATEMENTS[k],
                    "num_frames": "1" if k != "3" else "gt_1",
                }
                if k in gt
                else None
            )
            for k in STATEMENTS
        },
        "differences_gt": gt,
        "n_differences_open_prediction": None,
        "retrieval_frames": frames,
    }


def rows() -> list[dict[str, Any]]:
    """s1, s2 (fitness, easy, 8 fps), s3 (surgery, hard, 30 fps, clips of 300 and 150 frames), s4 (all c)."""
    return [
        _row(
            "s1",
            "fitness_0",
            {"0": "a", "1": "b", "2": "c", "3": None, "4": "a"},
            8,
            (40, 32),
            [{"0": [10, 12], "1": [30]}, {"0": [8], "1": None}],
        ),
        _row("s2", "fitness_0", {"0": "b", "1": "b", "2": "a", "3": "c", "4": None}, 8, (40, 40), None),
        _row(
            "s3",
            "surgery_0",
            {"0": "a", "1": "b", "2": "a"},
            30,
            (300, 150),
            [{"0": [100], "1": [250]}, {"0": [50], "1": [140]}],
        ),
        _row("s4", "surgery_0", {"0": "c", "1": "c", "2": None}, 30, (300, 150), [{"0": [5]}, {"0": [5]}]),
    ]


def write_dataset(root: Path, sample_rows: list[dict[str, Any]] | None = None) -> Path:
    """A dataset directory (no clips on disk; the evaluators only need the rows)."""
    meta = {"name": "tiny-eval", "version": "0", "toolkit_version": "0.1.0", "actions": ACTIONS}
    save_dataset(root, meta, rows() if sample_rows is None else sample_rows)
    return root
