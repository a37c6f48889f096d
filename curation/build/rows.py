"""The dataset's rows and ``dataset.json`` after the clips are made.

Rows get their clips' facts; rows whose clips are unchanged keep what later steps filled in
(differences, labels, timestamps), and ``dataset.json`` keeps the annotation, publish and split
choices of an earlier build. Both files are written only when their content changes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from curation.build.plan import BuildPlan
from curation.build.tasks import ClipResult
from schemas import toolkit_version
from schemas.dataset_dir import DATASET_JSON, SAMPLES_JSONL, load_dataset, save_dataset
from schemas.errors import ToolkitError
from schemas.io import read_json

log = logging.getLogger(__name__)

LATER_STEP_FIELDS = (
    "differences_annotated",
    "differences_gt",
    "n_differences_open_prediction",
    "retrieval_frames",
)


def merge_rows(out: Path, samples: list[dict[str, Any]], results: dict[tuple[str, str], ClipResult]) -> None:
    """Fill each planned row's clip facts; a row whose clips are unchanged keeps the previous build's later-step fields."""
    previous = {}
    if (out / SAMPLES_JSONL).exists() and (out / DATASET_JSON).exists():
        try:
            previous = load_dataset(out).by_key
        except ToolkitError as e:
            log.warning("previous samples not reused: %s", e)
    for row in samples:
        for side, video in zip("ab", row["videos"]):
            r = results[(row["sample_key"], side)]
            video.update(
                frames_trim=[0, r.n_frames, None], n_frames=r.n_frames, sha256=r.sha256, fps_original=r.fps
            )
        old = previous.get(row["sample_key"])
        if old and [v.get("sha256") for v in old["videos"]] == [v["sha256"] for v in row["videos"]]:
            for f in LATER_STEP_FIELDS:
                row[f] = old.get(f)
            row["split"] = old.get("split", row["split"])


def dataset_meta(plan: BuildPlan, out: Path) -> dict[str, Any]:
    """``dataset.json`` for the plan, keeping annotation/publish/meta and LLM or manual splits of the one in ``out``."""
    config = plan.config
    meta = {
        "name": config.name,
        "version": config.version,
        "toolkit_version": toolkit_version(),
        "config_sha256": config.sha256,
        "seed": config.seed,
        "actions": plan.actions_meta,
        "sources": plan.sources_meta,
        "assumptions": list(plan.warnings),
    }
    if (out / DATASET_JSON).exists():
        old_meta = read_json(out / DATASET_JSON)
        for k in ("annotation", "publish", "meta"):
            if k in old_meta:
                meta[k] = old_meta[k]
        for key, a in meta["actions"].items():
            old_a = old_meta.get("actions", {}).get(key, {})
            if old_a.get("split_origin") in ("llm", "manual"):
                a.update(
                    split=old_a["split"],
                    split_origin=old_a["split_origin"],
                    split_reason=old_a.get("split_reason"),
                )
    return meta


def save_if_changed(out: Path, meta: dict, samples: list[dict]) -> None:
    """Write dataset.json and samples.jsonl only when their content changes (a rerun touches nothing)."""
    meta_text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    rows_text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in samples)
    same = (
        (out / DATASET_JSON).exists()
        and (out / DATASET_JSON).read_text("utf-8") == meta_text
        and (out / SAMPLES_JSONL).exists()
        and (out / SAMPLES_JSONL).read_text("utf-8") == rows_text
    )
    if not same:
        save_dataset(out, meta, samples)
