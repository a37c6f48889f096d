"""Closed-set scoring: for each taxonomy statement, did the model pick the right video (a or b)?

Protocol (VidDiffBench ``accuracy_closed``, made explicit and reproducible):

* Only differences whose ground truth is ``a`` or ``b`` are scored; ``c`` (no visible difference) and
  unlabelled (null) ones are excluded, as in the release.
* A missing prediction, a null one, or ``c`` counts as **wrong**.
* A prediction for a key that is not in the row's labelled ground truth, or for a sample that is not in the
  dataset, is **reported** (``unknown_keys``) and otherwise ignored; the public eval crashed on an
  assertion instead.
* Significance: exact two-sided binomial test against 0.5, 95% Wilson interval (:mod:`eval.stats`);
  the public flags had no code and contradict the paper.
* Everything is also broken down by split, domain, action and ``num_frames`` (1 vs gt_1); the public
  eval had no breakdown.
* Each scored item keeps the ground-truth statement and the prediction's own description (the public
  eval filled ``pred_description`` from the wrong key).
* A labelled item whose statement is null is scored (its label is known) and counted
  (``gt_without_description``).

``strict`` (``--strict-official``) applies the public eval's rules instead (:mod:`eval.official`):
answers as written, each row's form from its first item, null-statement items skipped, and a prediction
key outside the labelled ground truth stops the evaluation.

The two headline numbers: ``accuracy_split_mean`` is the leaderboard's "Avg" (the unweighted mean of the
easy/medium/hard accuracies); ``accuracy_pooled`` (= ``accuracy``) pools all items, so the split with
most items weighs most.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from eval.data import EvalData, gt_description, gt_labels, load_eval_data
from eval.official import rules_block
from eval.predictions import Predictions, load_predictions
from eval.results import inputs_block, write_results
from eval.stats import CI_METHOD, TEST, binomial_summary, group_by, macro
from schemas.dataset_dir import diff_key_order
from schemas.errors import ToolkitError

log = logging.getLogger(__name__)

PROTOCOL = {
    "scored": "differences whose ground truth is a or b; c and null are excluded",
    "wrong": "missing, null or c predictions count as wrong",
    "unknown_keys": "prediction keys outside the labelled ground truth are reported, not scored",
    "test": TEST,
    "ci95": f"{CI_METHOD} score interval, 95%",
    "accuracy": "accuracy_pooled (= accuracy) over all items; accuracy_split_mean = unweighted mean of "
    "the split accuracies (the leaderboard's Avg)",
}


@dataclass
class ClosedResults:
    """Per-item outcomes and the metrics computed from them."""

    items: list[dict[str, Any]]
    metrics: dict[str, Any]
    unknown: list[dict[str, str]] = field(default_factory=list)

    def write(self, out_dir: str | os.PathLike) -> None:
        """``metrics.json`` and ``items.jsonl`` into ``out_dir`` (atomic)."""
        write_results(out_dir, self.metrics, items=self.items)


def summarize_closed(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy block (binomial summary, plus missing and c-prediction counts) over scored items."""
    block = binomial_summary(sum(1 for it in items if it["correct"]), len(items))
    block["missing"] = sum(1 for it in items if it["prediction"] is None)
    block["predicted_c"] = sum(1 for it in items if it["prediction"] == "c")
    return block


def closed_items(
    data: EvalData, preds: Predictions, *, strict: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, str]], dict[str, int]]:
    """Scored items, prediction keys outside the labelled ground truth, and counts of what was not scored
    (``excluded_gt_c``) or has no statement (``gt_without_description``; skipped when ``strict``)."""
    items: list[dict[str, Any]] = []
    unknown: list[dict[str, str]] = []
    counts = {"excluded_gt_c": 0, "gt_without_description": 0}
    for row in data.rows:
        sk = row["sample_key"]
        labels = gt_labels(row)
        pred_row = preds.for_sample(sk)
        for dk in sorted(pred_row, key=diff_key_order):
            if dk not in labels:
                if strict:
                    raise ToolkitError(
                        "prediction key is not a labelled difference of this row: the public eval stops here "
                        "(--strict-official)",
                        file=str(preds.path or "<predictions>"),
                        key=f"{sk}.{dk}",
                    )
                unknown.append({"sample_key": sk, "diff_key": dk})
        for dk in sorted(labels, key=diff_key_order):
            gt = labels[dk]
            if gt not in ("a", "b"):
                counts["excluded_gt_c"] += 1
                continue
            p = pred_row.get(dk) or {}
            pred = p.get("prediction")
            entry = (row.get("differences_annotated") or {}).get(dk) or {}
            if not entry.get("description"):
                counts["gt_without_description"] += 1
                if strict:
                    continue
            items.append(
                {
                    "sample_key": sk,
                    "action": row.get("action"),
                    "domain": row.get("domain"),
                    "split": row.get("split"),
                    "diff_key": dk,
                    "num_frames": entry.get("num_frames"),
                    "description": gt_description(row, dk),
                    "pred_description": p.get("description"),
                    "gt": gt,
                    "prediction": pred,
                    "correct": pred == gt,
                }
            )
    for sk in preds.unknown_samples:
        unknown.append({"sample_key": sk, "diff_key": None})
    return items, unknown, counts


def score_closed(data: EvalData, preds: Predictions, *, strict: bool = False) -> ClosedResults:
    """Score closed-set predictions against ``data``; see the module docstring for the protocol."""
    items, unknown, counts = closed_items(data, preds, strict=strict)
    if counts["gt_without_description"]:
        log.warning(
            "%d labelled a/b items have no statement (null description): %s",
            counts["gt_without_description"],
            "skipped (--strict-official)" if strict else "scored",
        )
    metrics: dict[str, Any] = {"task": "closed", **summarize_closed(items)}
    metrics["by_split"] = group_by(items, "split", summarize_closed)
    metrics["accuracy_split_mean"] = macro(metrics["by_split"], "accuracy")
    metrics["accuracy_pooled"] = metrics["accuracy"]
    metrics["by_domain"] = group_by(items, "domain", summarize_closed)
    metrics["by_action"] = group_by(items, "action", summarize_closed)
    metrics["by_num_frames"] = group_by(items, "num_frames", summarize_closed)
    metrics.update(counts)
    metrics["answers_normalised"] = preds.answers_normalised
    metrics["answers_invalid"] = preds.answers_invalid
    metrics["unknown_keys"] = {"count": len(unknown), "items": unknown}
    metrics["protocol"] = {**PROTOCOL, **rules_block(strict)}
    metrics["inputs"] = inputs_block(data, preds.path, preds.sha256, predictions_layout=preds.layout)
    return ClosedResults(items=items, metrics=metrics, unknown=unknown)


def eval_closed(
    dataset: str | os.PathLike,
    predictions: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    strict: bool = False,
) -> ClosedResults:
    """Load ``dataset`` and ``predictions``, score them, and write the results when ``out_dir`` is given."""
    data = load_eval_data(dataset)
    res = score_closed(data, load_predictions(predictions, data, strict=strict, task="closed"), strict=strict)
    if out_dir is not None:
        res.write(out_dir)
    return res
