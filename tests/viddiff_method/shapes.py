"""A dataset whose stage boundaries and answers are known: red circle → blue square → green triangle.

Each clip shows three stages of known lengths (native 16 fps, decoded at 8 fps for domain "fitness");
each shape has a per-video size, so "the circle is bigger" is true of the video whose circle is bigger.
Keypoint annotations sit at the middle of each stage. :func:`oracle_reply` answers differencer
requests by measuring the shape's colour in the frames it was sent (an "oracle VLM"): it is right
only when the localizer picked frames of the right stage. :func:`proposer_reply` scripts the LLM
proposer. None of this measures a model's accuracy.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from schemas.dataset_dir import DatasetDir, save_dataset, sha256_file
from schemas.io import write_json
from tests.fixtures.toy_clip.make_toy_clip import COLORS, render_shape
from tests.helpers.openai_server import images_in, text_of
from viddiff_runtime import media

TOY_CLIP_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "toy_clip" / "weights"
FPS = 16
SIZE = 96
STAGES = [("red", "circle"), ("blue", "square"), ("green", "triangle")]
# (stage lengths in native frames, shape scales) per pair and video
PAIRS = [
    {"lengths": [(20, 14, 18), (12, 22, 16)], "scales": [(0.40, 0.22, 0.38), (0.24, 0.40, 0.24)]},
    {"lengths": [(10, 26, 12), (18, 12, 22)], "scales": [(0.24, 0.38, 0.24), (0.40, 0.24, 0.40)]},
]
DIFFS = {
    "0": {
        "name": "bigger circle",
        "description": "the circle is bigger",
        "query_string": "bigger circle",
        "num_frames": "1",
        "keypoints": ["circle"],
    },
    "1": {
        "name": "bigger square",
        "description": "the square is bigger",
        "query_string": "bigger square",
        "num_frames": "gt_1",
        "keypoints": ["square"],
    },
    "2": {
        "name": "bigger triangle",
        "description": "the triangle is bigger",
        "query_string": "bigger triangle",
        "num_frames": "1",
        "keypoints": ["triangle"],
    },
}
SHAPE_OF_DIFF = {"0": "circle", "1": "square", "2": "triangle"}
COLOR_OF_SHAPE = {s: c for c, s in STAGES}
STAGE_NAMES = ["red circle", "blue square", "green triangle"]


def boundaries(lengths) -> list[tuple[int, int]]:
    """Half-open native-frame ranges of the three stages."""
    out, a = [], 0
    for n in lengths:
        out.append((a, a + n))
        a += n
    return out


def clip_frames(lengths, scales, seed: int) -> list[np.ndarray]:
    """Frames of one clip: each stage's shape, slightly jittered, on a fixed dark background."""
    rng = np.random.default_rng(seed)
    bg = (20, 24, 30)
    frames = []
    for (color, shape), n, sc in zip(STAGES, lengths, scales):
        for _ in range(n):
            c = (SIZE / 2 + rng.uniform(-3, 3), SIZE / 2 + rng.uniform(-3, 3))
            frames.append(render_shape(color, shape, SIZE, SIZE, rng=rng, background=bg, scale=sc, center=c))
    return frames


def gt_label(scales_a, scales_b, diff_key: str) -> str:
    """Which video's shape is bigger."""
    i = ["circle", "square", "triangle"].index(SHAPE_OF_DIFF[diff_key])
    return "a" if scales_a[i] > scales_b[i] else "b"


def make_shapes_dataset(
    root: str | Path, *, n_pairs: int = 2, with_taxonomy: bool = True, with_retrieval: bool = True
) -> DatasetDir:
    """Write the dataset directory and return it."""
    root = Path(root)
    samples = []
    for p in range(n_pairs):
        spec = PAIRS[p % len(PAIRS)]
        key = f"shapes_0_{p}"
        videos, retrieval = [], []
        for v, side in enumerate("ab"):
            rel = f"videos/{key}/{side}.mp4"
            info = media.write_frames(
                clip_frames(spec["lengths"][v], spec["scales"][v], seed=10 * p + v), root / rel, FPS
            )
            videos.append(
                {
                    "path": rel,
                    "fps_original": FPS,
                    "frames_trim": [0, info.n_frames, None],
                    "n_frames": info.n_frames,
                    "sha256": sha256_file(root / rel),
                }
            )
            retrieval.append(
                {
                    shape: [(a + b - 1) // 2]
                    for (_, shape), (a, b) in zip(STAGES, boundaries(spec["lengths"][v]))
                }
            )
        gt = {k: gt_label(spec["scales"][0], spec["scales"][1], k) for k in DIFFS}
        samples.append(
            {
                "sample_key": key,
                "action": "shapes_0",
                "action_name": "shapes",
                "action_description": "a coloured shape changes into another shape",
                "domain": "fitness",
                "split": "easy",
                "source_dataset": "synthetic",
                "videos": videos,
                "differences_annotated": DIFFS,
                "differences_gt": gt,
                "n_differences_open_prediction": 4,
                "retrieval_frames": retrieval if with_retrieval else None,
            }
        )
    if with_taxonomy:
        write_json(
            root / "taxonomies" / "shapes_0.json",
            {
                "action": "shapes_0",
                "name": "shapes",
                "description": "a coloured shape changes into another shape",
                "version": 1,
                "status": "accepted",
                "stages": [{"name": n, "description": n} for n in STAGE_NAMES],
                "keypoints": {
                    s: {"name": s, "description": f"the {s} is shown", "stage": f"{c} {s}"} for c, s in STAGES
                },
                "differences": {k: {**d, "status": "active"} for k, d in DIFFS.items()},
                "next_key": 3,
            },
        )
    meta = {
        "name": "shapes",
        "version": "0.1",
        "toolkit_version": "test",
        "actions": {
            "shapes_0": {
                "name": "shapes",
                "description": "a coloured shape changes into another shape",
                "domain": "fitness",
                "split": "easy",
                "source_dataset": "synthetic",
                "fps": FPS,
            }
        },
    }
    save_dataset(root, meta, samples)
    return DatasetDir(root, meta, samples)


def toy_clip_config(**over) -> dict[str, Any]:
    """A run config using the committed toy CLIP on CPU."""
    cfg = {
        "clip": {"model": f"local-dir:{TOY_CLIP_DIR}", "pretrained": None, "device": "cpu", "batch_size": 16},
        "llm": {"structured_output": "json_schema", "max_concurrency": 2},
    }
    for k, v in over.items():
        cfg.setdefault(k, {}).update(v) if isinstance(v, dict) else cfg.__setitem__(k, v)
    return cfg


# ------------------------------------------------------------------------------------- scripted LLM

STAGES_ANSWER = {
    "stages": [
        {"name": n, "description": f"the {n} is shown", "retrieval_strings": [f"a {n}"]} for n in STAGE_NAMES
    ]
}


def links_answer(diff_names: dict[str, str] | None = None) -> dict[str, Any]:
    """Correct links: each bigger-<shape> difference and <shape> keypoint to its stage."""
    names = diff_names or {f"bigger {s}": s for s in ("circle", "square", "triangle")}
    return {
        "links": [
            {
                "stage": f"{COLOR_OF_SHAPE[s]} {s}",
                "differences": [n for n, shape in names.items() if shape == s],
                "keypoints": [s],
            }
            for s in ("circle", "square", "triangle")
        ]
    }


def colour_area(png: bytes, color: str) -> float:
    """Fraction of pixels close to a palette colour."""
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    ref = np.array(COLORS[color])
    return float((np.abs(arr - ref).sum(axis=2) < 90).mean())


def oracle_reply(body: dict[str, Any]) -> dict[str, Any]:
    """Answer a differencer request by measuring the statement's shape in A's and B's frames."""
    text = text_of(body)
    images = images_in(body)
    grouped = re.findall(
        r"statement (\d+): \"([^\"]+)\" — images (\d+)-(\d+) are video A.*?images (\d+)-(\d+) are "
        r"video B",
        text,
    )
    if grouped:
        answers = {}
        for key, desc, a0, a1, b0, b1 in grouped:
            answers[key] = _judge(desc, images[int(a0) - 1 : int(a1)], images[int(b0) - 1 : int(b1)])
        return {"answers": answers}
    m = re.search(r"The first (\d+) image\(s\) are from video A", text)
    na = int(m.group(1))
    desc = re.search(r"Statement: \"([^\"]+)\"", text).group(1)
    return _judge(desc, images[:na], images[na:])


def _judge(desc: str, imgs_a: list[bytes], imgs_b: list[bytes]) -> dict[str, str]:
    shape = next(s for s in ("circle", "square", "triangle") if s in desc)
    color = COLOR_OF_SHAPE[shape]
    area_a = max(colour_area(im, color) for im in imgs_a)
    area_b = max(colour_area(im, color) for im in imgs_b)
    ans = "a" if area_a >= area_b else "b"
    return {"answer_detailed": json.dumps({"area_a": area_a, "area_b": area_b}), "answer": ans}
