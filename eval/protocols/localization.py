"""Localization scoring: how far are predicted keypoint frames from the annotated ones?

No public code scores VidDiffBench's ``retrieval_frames``; this module defines the metric (following the
point-localization conventions of Ego4D PNR and Kinetics-GEBD):

* Ground truth: ``row["retrieval_frames"][v][loc_id]`` for video v in (A, B); its **first** frame is the
  keypoint. Prediction: ``localization[sample_key][v][loc_id]``; its **first** frame is used. Frames are
  0-based indices into the stored clip, whose rate is ``videos[v]["fps_original"]``.
* Per keypoint with a prediction: ``err_frames = |pred - gt|``, ``err_seconds = err_frames / fps``,
  ``err_norm = err_frames / clip length in frames``. A keypoint without a prediction is ``missing``
  and is not in the errors or hit rates (``coverage = n / (n + missing)`` says how many were answered).
* ``hit@0.25s/0.5s/1s``: share with ``err_seconds <= δ``; ``hit@5%/10%``: share with ``err_norm <= δ``
  (inclusive, with a 1e-9 tolerance for float rounding).
* Breakdowns by split, domain, action and keypoint (``action/loc_id``: loc ids are per action).
* Human ceiling: every pair of annotators of the same sample is scored with the same metrics, and the
  model is scored again on exactly those items, so the two numbers sit side by side. Per-annotator
  keypoints are read from ``DATASET/annotation/timestamps/labels.jsonl`` (written by
  ``curate annotate convert/pull``: rows ``{"item": "keypoint", "sample_key", "annotator", "video": "a"|"b",
  "name": loc_id, "start": frame}``), else from ``DATASET/annotation/timestamps_annotators.json`` shaped
  ``{sample_key: {annotator: [{loc_id: [frame, ...]|null}, {...}]}}`` (one dict per video); both use
  0-based frames of the stored clips.
* A predicted frame past the end of its clip is an input error naming the file and JSON path.
"""

from __future__ import annotations

import itertools
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.data import EvalData, clip_fps, clip_length, load_eval_data
from eval.predictions import Localization, load_localization
from eval.results import inputs_block, write_results
from eval.stats import group_by, mean, rate
from schemas import check
from schemas.dataset_dir import sha256_file
from schemas.errors import ToolkitError
from schemas.io import read_json, read_jsonl

HIT_SECONDS = (0.25, 0.5, 1.0)
HIT_FRACTIONS = (0.05, 0.10)
LABELS_FILE = Path("timestamps") / "labels.jsonl"
ANNOTATORS_FILE = "timestamps_annotators.json"
VIDEO_NAMES = ("a", "b")
_EPS = 1e-9

PROTOCOL = {
    "keypoint": "first annotated frame of retrieval_frames[v][loc_id]",
    "prediction": "first predicted frame of localization[sample_key][v][loc_id]",
    "err_frames": "|pred - gt| in frames of the stored clip",
    "err_seconds": "err_frames / videos[v].fps_original",
    "err_norm": "err_frames / clip length in frames (n_frames, else frames_trim end - start)",
    "hits": "share of predicted keypoints with error <= threshold (inclusive)",
    "missing": "annotated keypoints with no prediction; excluded from errors and hits (see coverage)",
    "human_vs_human": f"annotation/{LABELS_FILE.as_posix()} (or annotation/{ANNOTATORS_FILE}): "
    "every annotator pair of a sample, same metrics",
}


def _hit_name(t: float, unit: str) -> str:
    return f"hit@{t:g}s" if unit == "s" else f"hit@{round(t * 100):d}%"


def summarize_localization(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``n, missing, coverage, mae_frames, mae_seconds, mae_norm, median_seconds`` and hit rates."""
    done = [it for it in items if it["err_frames"] is not None]
    normed = [it for it in done if it["err_norm"] is not None]
    secs = [it["err_seconds"] for it in done]
    block: dict[str, Any] = {
        "n": len(done),
        "missing": len(items) - len(done),
        "coverage": rate(len(done), len(items)),
        "mae_frames": mean(it["err_frames"] for it in done),
        "mae_seconds": mean(secs),
        "mae_norm": mean(it["err_norm"] for it in normed),
        "median_seconds": statistics.median(secs) if secs else None,
    }
    for t in HIT_SECONDS:
        block[_hit_name(t, "s")] = rate(sum(1 for it in done if it["err_seconds"] <= t + _EPS), len(done))
    for t in HIT_FRACTIONS:
        block[_hit_name(t, "%")] = rate(sum(1 for it in normed if it["err_norm"] <= t + _EPS), len(normed))
    return block


def _first(frames: list[int] | None) -> int | None:
    return frames[0] if frames else None


def _item(row: dict[str, Any], v: int, loc_id: str, gt: int, pred: int | None) -> dict[str, Any]:
    video = row["videos"][v]
    fps, length = clip_fps(video), clip_length(video)
    err = abs(pred - gt) if pred is not None else None
    return {
        "sample_key": row["sample_key"],
        "action": row.get("action"),
        "domain": row.get("domain"),
        "split": row.get("split"),
        "video": VIDEO_NAMES[v],
        "loc_id": loc_id,
        "keypoint": f"{row.get('action')}/{loc_id}",
        "fps": fps,
        "n_frames": length,
        "gt_frame": gt,
        "pred_frame": pred,
        "signed_err_frames": pred - gt if pred is not None else None,
        "err_frames": err,
        "err_seconds": err / fps if err is not None else None,
        "err_norm": err / length if err is not None and length else None,
    }


def _check_frame(frame: int | None, row: dict[str, Any], v: int, file: str, where: str) -> None:
    length = clip_length(row["videos"][v])
    if frame is not None and length is not None and frame >= length:
        raise ToolkitError(
            f"frame {frame} is past the end of the clip ({length} frames)", file=file, key=where
        )


def localization_items(
    data: EvalData, loc: Localization
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One item per annotated keypoint (with or without a prediction), and predicted keys not annotated."""
    items, unknown = [], []
    file = str(loc.path) if loc.path else "<localization>"
    for row in data.rows:
        sk = row["sample_key"]
        gt_pair = row.get("retrieval_frames") or [{}, {}]
        pred_pair = loc.items.get(sk) or [{}, {}]
        for v in (0, 1):
            gt_v, pred_v = gt_pair[v] or {}, pred_pair[v] or {}
            for loc_id, frames in pred_v.items():
                if not gt_v.get(loc_id):
                    unknown.append({"sample_key": sk, "video": VIDEO_NAMES[v], "loc_id": loc_id})
                else:
                    _check_frame(_first(frames), row, v, file, f"$.{sk}[{v}].{loc_id}[0]")
            for loc_id, frames in gt_v.items():
                if frames:
                    items.append(_item(row, v, loc_id, frames[0], _first(pred_v.get(loc_id))))
    unknown += [{"sample_key": sk, "video": None, "loc_id": None} for sk in loc.unknown_samples]
    return items, unknown


def _breakdowns(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "by_split": group_by(items, "split", summarize_localization),
        "by_domain": group_by(items, "domain", summarize_localization),
        "by_action": group_by(items, "action", summarize_localization),
        "by_keypoint": group_by(items, "keypoint", summarize_localization),
    }


def read_annotators(path: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per-annotator keypoints ``{sample_key: {annotator: [{loc_id: [frame]}, {...}]}}``.

    ``*.jsonl`` is the annotation package's ``labels.jsonl`` (keypoint rows); anything else is the JSON
    shape itself. Errors name the file and the line or JSON path.
    """
    if path.suffix == ".jsonl":
        return _annotators_from_labels(path)
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise ToolkitError(
            "expected {sample_key: {annotator: [{loc_id: [frames]}, {...}]}}", file=str(path), key="$"
        )
    for sk, by_ann in obj.items():  # {annotator: [{loc_id: [frames]}, {...}]} is a localization object
        check("localization", by_ann, file=str(path), prefix=f"$.{sk}")
    return obj


def _annotators_from_labels(path: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in read_jsonl(path, kind="label"):  # schemas/label.schema.json: errors name file:line and path
        if r["item"] != "keypoint":
            continue
        pair = out.setdefault(str(r["sample_key"]), {}).setdefault(str(r["annotator"]), [{}, {}])
        pair[VIDEO_NAMES.index(r["video"])][str(r["name"])] = [r["start"]]
    return out


def default_annotators_path(data: EvalData) -> Path | None:
    """``annotation/timestamps/labels.jsonl``, else ``annotation/timestamps_annotators.json``, else None."""
    for p in (data.annotation_dir / LABELS_FILE, data.annotation_dir / ANNOTATORS_FILE):
        if p.exists():
            return p
    return None


def human_items(
    data: EvalData,
    annotators: dict[str, dict[str, list[dict[str, Any]]]],
    not_scored: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Items comparing every annotator pair of a sample (the second annotator plays the prediction).

    An annotator's frame at or past the end of the clip is not scored; it is appended to ``not_scored``
    (sample, video, loc_id, annotator, frame, clip length) so the caller can report it.
    """
    rows = data.by_key
    items = []
    for sk in sorted(annotators):
        if sk not in rows or len(annotators[sk]) < 2:
            continue
        for a1, a2 in itertools.combinations(sorted(annotators[sk]), 2):
            for v in (0, 1):
                d1, d2 = annotators[sk][a1][v], annotators[sk][a2][v]
                for loc_id in sorted(set(d1) | set(d2)):
                    f1, f2 = _first(d1.get(loc_id)), _first(d2.get(loc_id))
                    length = clip_length(rows[sk]["videos"][v])
                    bad = [
                        (a, f) for a, f in ((a1, f1), (a2, f2)) if f is not None and length and f >= length
                    ]
                    if bad:
                        if not_scored is not None:
                            for a, f in bad:
                                rec = {
                                    "sample_key": sk,
                                    "video": VIDEO_NAMES[v],
                                    "loc_id": loc_id,
                                    "annotator": a,
                                    "frame": f,
                                    "n_frames": length,
                                }
                                if rec not in not_scored:
                                    not_scored.append(rec)
                        continue
                    if f1 is None and f2 is None:
                        continue
                    ref, other = (f1, f2) if f1 is not None else (f2, None)
                    it = _item(rows[sk], v, loc_id, ref, other)
                    it["annotators"] = [a1, a2]
                    items.append(it)
    return items


@dataclass
class LocalizationResults:
    """Per-keypoint outcomes, human-vs-human items (may be empty) and the metrics."""

    items: list[dict[str, Any]]
    human: list[dict[str, Any]]
    metrics: dict[str, Any]

    def write(self, out_dir: str | os.PathLike) -> None:
        """``metrics.json``, ``items.jsonl`` and (when present) ``human_items.jsonl`` into ``out_dir``."""
        extra = {"human_items": self.human} if self.human else {}
        write_results(out_dir, self.metrics, items=self.items, **extra)


def score_localization(
    data: EvalData, loc: Localization, annotators_path: str | os.PathLike | None = None
) -> LocalizationResults:
    """Score keypoint predictions; add human-vs-human numbers when an annotators file exists."""
    items, unknown = localization_items(data, loc)
    metrics: dict[str, Any] = {"task": "localization", **summarize_localization(items), **_breakdowns(items)}
    metrics["unknown_keys"] = {"count": len(unknown), "items": unknown}
    path = Path(annotators_path) if annotators_path else default_annotators_path(data)
    if path is not None and not path.exists():
        raise ToolkitError("annotators file not found", file=str(path))
    not_scored: list[dict[str, Any]] = []
    human = human_items(data, read_annotators(path), not_scored) if path is not None else []
    if human:
        same = {(h["sample_key"], h["video"], h["loc_id"]) for h in human}
        model_same = [it for it in items if (it["sample_key"], it["video"], it["loc_id"]) in same]
        metrics["human_vs_human"] = {
            "annotations": str(path),
            "n_samples": len({h["sample_key"] for h in human}),
            **summarize_localization(human),
            **_breakdowns(human),
            "model_on_same_items": summarize_localization(model_same),
        }
    else:
        metrics["human_vs_human"] = None
    # annotator frames past the clip's end: reported, never scored (clamping would invent a position)
    metrics["human_not_scored"] = {
        "count": len(not_scored),
        "reason": "frame at or past the end of the clip",
        "items": not_scored,
    }
    metrics["protocol"] = PROTOCOL
    metrics["inputs"] = inputs_block(
        data,
        loc.path,
        loc.sha256,
        annotators=str(path) if path is not None else None,
        annotators_sha256=sha256_file(path) if path is not None else None,
    )
    return LocalizationResults(items=items, human=human, metrics=metrics)


def eval_localization(
    dataset: str | os.PathLike,
    localization: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    annotators_path: str | os.PathLike | None = None,
) -> LocalizationResults:
    """Load, score and (when ``out_dir`` is given) write localization results."""
    data = load_eval_data(dataset)
    res = score_localization(data, load_localization(localization, data), annotators_path)
    if out_dir is not None:
        res.write(out_dir)
    return res
