"""Inter-annotator agreement: the human ceiling the evaluation compares models against.

Computed from ``DATASET/annotation/<kind>/labels.jsonl`` (written by pull/convert), on items labelled by
two or more annotators, per action and overall:

* a/b/c labels: percent agreement (mean over annotator pairs sharing an item), Cohen's kappa (per pair of
  annotators over the items both labelled, via scikit-learn; the item-weighted mean over pairs when there
  are several) and Krippendorff's alpha (nominal, all annotators, missing values allowed; ``krippendorff``);
* keypoint frames: mean |Δ| in frames and seconds over annotator pairs, and the share within ±δ frames.

A statistic that is undefined (e.g. kappa when everyone used one label) is reported as ``None``.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections import defaultdict
from typing import Any

import numpy as np

from schemas.dataset_dir import load_dataset
from schemas.io import read_jsonl, write_json

LABELS = ("a", "b", "c")


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def cohen_kappa(r1: list[str], r2: list[str]) -> float | None:
    """Cohen's kappa of two raters' a/b/c labels on the same items (None when undefined)."""
    from sklearn.metrics import cohen_kappa_score

    if not r1:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(cohen_kappa_score(r1, r2, labels=list(LABELS)))


def krippendorff_alpha(items: list[dict[str, str]]) -> float | None:
    """Krippendorff's alpha (nominal) over items ``{annotator: label}`` (None when undefined)."""
    import krippendorff

    annotators = sorted({a for it in items for a in it})
    if len(annotators) < 2 or not items:
        return None
    codes = {v: i for i, v in enumerate(LABELS)}
    data = np.full((len(annotators), len(items)), np.nan)
    for j, it in enumerate(items):
        for i, a in enumerate(annotators):
            if a in it:
                data[i, j] = codes[it[a]]
    if len(set(data[~np.isnan(data)].tolist())) < 2:
        return None  # one category only: expected disagreement is 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def label_agreement(items: list[dict[str, str]]) -> dict[str, Any]:
    """Percent, Cohen's kappa and Krippendorff's alpha over items ``{annotator: label}`` (>= 2 each)."""
    items = [it for it in items if len(it) >= 2]
    agree = total = 0
    pairs: dict[tuple[str, str], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for it in items:
        for a, b in itertools.combinations(sorted(it), 2):
            total += 1
            agree += it[a] == it[b]
            pairs[(a, b)][0].append(it[a])
            pairs[(a, b)][1].append(it[b])
    kappas = [(cohen_kappa(x, y), len(x)) for x, y in pairs.values()]
    defined = [(k, n) for k, n in kappas if k is not None]
    kappa = sum(k * n for k, n in defined) / sum(n for _, n in defined) if defined else None
    return {
        "items": len(items),
        "pairs": total,
        "percent": 100.0 * agree / total if total else None,
        "cohen_kappa": kappa,
        "kappa_per_pair": {f"{a}|{b}": k for (a, b), (k, _) in zip(pairs, kappas)},
        "krippendorff_alpha": krippendorff_alpha(items),
    }


def timing_agreement(items: list[tuple[dict[str, int], float]], delta: int) -> dict[str, Any]:
    """Keypoint timing over items ``({annotator: frame}, fps)``: mean |Δ| frames/seconds, share within ±delta."""
    diffs = []
    for values, fps in items:
        for a, b in itertools.combinations(sorted(values), 2):
            diffs.append((abs(values[a] - values[b]), fps))
    if not diffs:
        return {
            "items": 0,
            "pairs": 0,
            "mean_abs_frames": None,
            "mean_abs_seconds": None,
            "within_delta": None,
            "delta_frames": delta,
        }
    return {
        "items": sum(1 for v, _ in items if len(v) >= 2),
        "pairs": len(diffs),
        "mean_abs_frames": float(np.mean([d for d, _ in diffs])),
        "mean_abs_seconds": float(np.mean([d / f for d, f in diffs])),
        "within_delta": float(np.mean([d <= delta for d, _ in diffs])),
        "delta_frames": delta,
    }


def agreement(dataset: str | os.PathLike, *, delta: int = 2, write: bool = True) -> dict[str, Any]:
    """Agreement per action and overall from the dataset's converted labels; saved to annotation/agreement.json."""
    ds = load_dataset(dataset)
    out: dict[str, Any] = {"delta_frames": delta, "actions": {}}
    labels: dict[str, dict[tuple, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    frames: dict[str, dict[tuple, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    fps_of: dict[tuple, float] = {}
    path = ds.root / "annotation" / "differences" / "labels.jsonl"
    for r in read_jsonl(path, kind="label") if path.exists() else []:
        if r.get("item") == "difference":
            labels[r["action"]][(r["sample_key"], r["diff_key"])][r["annotator"]] = r["label"]
    path = ds.root / "annotation" / "timestamps" / "labels.jsonl"
    for r in read_jsonl(path, kind="label") if path.exists() else []:
        if r.get("item") == "keypoint":
            item = (r["sample_key"], r["video"], r["name"])
            frames[r["action"]][item][r["annotator"]] = r["start"]
            fps_of[item] = r["fps"]
    all_labels, all_frames = [], []
    for action in sorted(set(labels) | set(frames)):
        li = list(labels[action].values())
        fi = [(v, fps_of[k]) for k, v in frames[action].items()]
        all_labels += li
        all_frames += fi
        out["actions"][action] = {"labels": label_agreement(li), "keypoints": timing_agreement(fi, delta)}
    out["overall"] = {"labels": label_agreement(all_labels), "keypoints": timing_agreement(all_frames, delta)}
    if write and out["actions"]:
        write_json(ds.root / "annotation" / "agreement.json", out)
    return out
