"""Taxonomies for the SYNTHETIC sample actions, so a sample dataset can go through a whole annotation round.

``curate samples OUT`` writes one ``OUT/taxonomies/<action>.json`` per action of
:func:`curation.samples.trees.sample_config` (``make sample`` copies them into the built dataset and
applies them). The synthetic clips show only a white frame counter, a coloured background that differs
between source videos, and a barcode stripe (:mod:`curation.samples.synthetic`), so the differences, stages and
keypoints ask about exactly that; they are invented for trying the tools, not real action taxonomies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from curation.taxonomy.checks import raise_on_errors
from schemas.io import read_json, write_json

ORIGIN = "sample:curation/samples/taxonomies.py"
STAGES = [
    {"name": "opening", "description": "From the first frame of the clip to the middle frame."},
    {"name": "closing", "description": "From the frame after the middle to the last frame of the clip."},
]
KEYPOINTS = {
    "first": {
        "name": "first frame",
        "description": "The first frame of the clip (the first counter value shown).",
        "stage": "opening",
    },
    "middle": {
        "name": "middle frame",
        "description": "The frame halfway through the clip.",
        "stage": "opening",
    },
    "last": {"name": "last frame", "description": "The last frame of the clip.", "stage": "closing"},
}
DIFFERENCES = {
    "0": {
        "name": "darker background",
        "description": "the background colour is darker",
        "query_string": "a darker background colour",
        "num_frames": "1",
        "keypoints": ["first"],
    },
    "1": {
        "name": "longer clip",
        "description": "the clip lasts longer (more frames from first to last)",
        "query_string": "a clip with more frames",
        "num_frames": "gt_1",
        "keypoints": ["first", "last"],
    },
    "2": {
        "name": "higher start counter",
        "description": "the white counter on the first frame shows a higher number",
        "query_string": "a higher frame counter at the start",
        "num_frames": "1",
        "keypoints": ["first"],
    },
}


def sample_taxonomy(action: dict[str, Any]) -> dict[str, Any]:
    """The taxonomy of one sample action (an entry of the sample build config's ``actions``)."""
    return {
        "action": action["key"],
        "name": action["name"],
        "description": action["description"],
        "version": 1,
        "status": "accepted",
        "stages": [dict(s) for s in STAGES],
        "keypoints": {k: {**v, "status": "active", "origin": ORIGIN} for k, v in KEYPOINTS.items()},
        "differences": {k: {**v, "status": "active", "origin": ORIGIN} for k, v in DIFFERENCES.items()},
        "next_key": len(DIFFERENCES),
        "history": [{"version": 1, "op": "create", "detail": "SYNTHETIC sample taxonomy"}],
    }


def write_sample_taxonomies(folder: Path, config: dict[str, Any]) -> list[Path]:
    """Write ``folder/<action>.json`` for every action of the sample build ``config``; an identical file is
    left untouched (so a rerun changes nothing). Returns the paths."""
    folder = Path(folder)
    paths = []
    for action in config["actions"]:
        tax = sample_taxonomy(action)
        path = folder / f"{action['key']}.json"
        raise_on_errors(tax, file=str(path))
        if not path.is_file() or read_json(path) != tax:
            write_json(path, tax)
        paths.append(path)
    return paths
