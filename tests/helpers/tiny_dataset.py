"""A tiny, fully annotated dataset directory with real (synthetic) clips, for tests of every package.

Each clip's frames carry their own index as a barcode (``curation.samples.synthetic``), so a test can check which
frame a command picked. Labels are deterministic for a seed, so tests can work numbers out by hand from
the returned rows rather than from constants.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from curation.samples.synthetic import render_frame
from schemas.dataset_dir import DatasetDir, open_prediction_budget, save_dataset, sha256_file
from schemas.io import write_json
from viddiff_runtime import media


@dataclass(frozen=True)
class TinyAction:
    """One action of the tiny dataset: its key, domain, split, how many pairs and the clips' fps."""

    key: str
    domain: str
    split: str
    n_pairs: int = 2
    fps: float = 30.0


DEFAULT_ACTIONS = (
    TinyAction("fitness_0", "fitness", "easy", 2, 30.0),
    TinyAction("diving_0", "diving", "medium", 1, 25.0),
)

STAGES = [("setup", "the athlete gets ready"), ("main", "the main movement"), ("finish", "the finish")]
KEYPOINTS = {
    "start": {"name": "start", "description": "movement begins", "stage": "setup"},
    "peak": {"name": "peak", "description": "the lowest or highest point", "stage": "main"},
}
DIFFERENCES = {
    "0": {
        "name": "deeper",
        "description": "the movement is deeper",
        "query_string": "deeper",
        "num_frames": "1",
        "keypoints": ["peak"],
        "status": "active",
        "origin": "test",
    },
    "1": {
        "name": "faster",
        "description": "the movement is faster",
        "query_string": "faster",
        "num_frames": "gt_1",
        "keypoints": ["start", "peak"],
        "status": "active",
        "origin": "test",
    },
    "2": {
        "name": "wider",
        "description": "the stance is wider",
        "query_string": "wider stance",
        "num_frames": "1",
        "keypoints": ["start"],
        "status": "active",
        "origin": "test",
    },
    "3": {
        "name": "retired",
        "description": "an ambiguous statement",
        "query_string": "ambiguous",
        "num_frames": "1",
        "keypoints": [],
        "status": "retired",
        "origin": "test",
    },
}


def taxonomy_for(action: TinyAction) -> dict:
    """The taxonomy JSON of a tiny action (valid against schemas/taxonomy.schema.json)."""
    return {
        "action": action.key,
        "name": action.key.replace("_", " "),
        "description": f"a {action.domain} action",
        "version": 1,
        "status": "accepted",
        "stages": [{"name": n, "description": d} for n, d in STAGES],
        "keypoints": KEYPOINTS,
        "differences": DIFFERENCES,
        "next_key": len(DIFFERENCES),
    }


def annotated_differences() -> dict:
    """``differences_annotated`` as `curate taxonomy apply` writes it: retired keys are null."""
    return {
        k: (
            None
            if v["status"] == "retired"
            else {f: v[f] for f in ("name", "description", "query_string", "num_frames", "keypoints")}
        )
        for k, v in DIFFERENCES.items()
    }


def make_tiny_dataset(
    root: str | Path,
    *,
    actions: tuple[TinyAction, ...] = DEFAULT_ACTIONS,
    n_frames: tuple[int, int] = (24, 36),
    size: tuple[int, int] = (96, 64),
    labelled: bool = True,
    with_retrieval: bool = True,
    with_taxonomy: bool = True,
    seed: int = 0,
) -> DatasetDir:
    """Write a tiny dataset directory under ``root`` and return it loaded.

    Each pair has clips of ``n_frames[0]`` (A) and ``n_frames[1]`` (B) frames at the action's fps, so
    clips of different lengths (and, across actions, different fps) are always present.
    """
    root = Path(root)
    rng = random.Random(seed)
    samples, meta_actions = [], {}
    for action in actions:
        meta_actions[action.key] = {
            "name": action.key.replace("_", " "),
            "description": f"a {action.domain} action",
            "domain": action.domain,
            "split": action.split,
            "split_origin": "config",
            "source_dataset": "synthetic",
            "fps": action.fps,
        }
        if with_taxonomy:
            write_json(root / "taxonomies" / f"{action.key}.json", taxonomy_for(action))
        for p in range(action.n_pairs):
            key = f"{action.key}_{p}"
            videos = []
            for side, n in zip("ab", n_frames):
                rel = f"videos/{key}/{side}.mp4"
                frames = (render_frame(i, *size, label=f"{key}/{side}") for i in range(n))
                info = media.write_frames(frames, root / rel, action.fps)
                videos.append(
                    {
                        "path": rel,
                        "fps_original": action.fps,
                        "frames_trim": [0, info.n_frames, None],
                        "n_frames": info.n_frames,
                        "sha256": sha256_file(root / rel),
                        "source": {
                            "dataset": "synthetic",
                            "clip_id": f"{key}_{side}",
                            "path": rel,
                            "frames": [0, info.n_frames],
                            "fps": action.fps,
                            "participant": f"p{p}{side}",
                            "skill": None,
                            "view": None,
                        },
                    }
                )
            gt = None
            if labelled:
                gt = {
                    k: (None if v["status"] == "retired" else rng.choice("abc"))
                    for k, v in DIFFERENCES.items()
                }
                gt["0"] = "a" if p % 2 == 0 else "b"  # at least one a/b per pair
            retrieval = None
            if with_retrieval:
                retrieval = [
                    {"start": [rng.randrange(0, n // 3)], "peak": [rng.randrange(n // 3, n)]}
                    for n in n_frames
                ]
            samples.append(
                {
                    "sample_key": key,
                    "action": action.key,
                    "action_name": meta_actions[action.key]["name"],
                    "action_description": meta_actions[action.key]["description"],
                    "domain": action.domain,
                    "split": action.split,
                    "source_dataset": "synthetic",
                    "videos": videos,
                    "differences_annotated": annotated_differences() if with_taxonomy else None,
                    "differences_gt": gt,
                    "n_differences_open_prediction": open_prediction_budget(gt) if gt else None,
                    "retrieval_frames": retrieval,
                }
            )
    meta = {
        "name": "tiny",
        "version": "0.1",
        "toolkit_version": "test",
        "seed": seed,
        "actions": meta_actions,
    }
    save_dataset(root, meta, samples)
    return DatasetDir(root=root, meta=meta, samples=samples)
