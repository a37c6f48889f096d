"""Open-set scoring: the model wrote its own difference statements; a judge matches them to the taxonomy.

Protocol (VidDiffBench ``recall@N_diff``), with the public eval's defects fixed:

1. **N_diff is enforced.** Each sample keeps its first ``n_differences_open_prediction`` predictions
   (numeric key order); extras are dropped with a warning and counted (public: the check was dead code).
   Predictions without a description cannot be matched and are dropped too, counted.
2. **Matching** (one judge call per sample): candidates are all labelled ground-truth statements,
   **including c items**, so a prediction that restates a no-difference item is used up there.
3. **One to one.** The judge's answer is repaired, never fatal: a predicted key matched to several
   ground-truth keys stays with the first ground-truth key (numeric order) and the others become
   no-match (public: the duplicate check was a no-op); invented prediction keys and ground-truth keys the
   judge left out become no-match (public: raised and asked for a new seed). Every repair is counted.
4. **Opposite check** on every matched pair, for every predictor alike (public: skipped for the VidDiff
   method): direct opposites flip the prediction a<->b.
5. **Score** over ground truth a/b: ``recall`` = matched and right; ``err_nomatch`` = no prediction matched;
   ``err_flipped`` = matched but the other letter; ``err_pred_c`` = matched but c/null;
   ``err_invalid_answer`` = matched but an answer that is not a/b/c (only under ``strict``). They sum to 1.
6. A labelled item whose statement is null cannot be matched: it is skipped and counted
   (``gt_without_description``), in closed mode too under ``strict``.

``strict`` (``--strict-official``, :mod:`eval.official`) applies the public eval's rules: every prediction
is judged (no N_diff limit), one prediction may match several ground-truth keys, a matched null answer is
no match, answers are compared as written, and a judge answer with missing or invented ground-truth keys
stops the evaluation. ``recall_split_mean`` is the leaderboard's "Avg"; ``recall`` pools all items.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from eval.data import EvalData, gt_description, gt_labels, load_eval_data
from eval.judges import Judge
from eval.official import rules_block
from eval.predictions import Predictions, load_predictions
from eval.results import inputs_block, write_results
from eval.stats import group_by, macro, rate
from schemas.dataset_dir import diff_key_order, row_open_prediction_budget
from schemas.errors import ToolkitError

log = logging.getLogger(__name__)
FLIP = {"a": "b", "b": "a"}

PROTOCOL = {
    "scored": "ground truth a or b; c items are matching candidates but not scored",
    "n_diff": "first n_differences_open_prediction predictions per sample (numeric key order); "
    "extras dropped",
    "matching": "one judge call per sample; one-to-one enforced (duplicates keep the first gt key)",
    "opposites": "matched pairs judged direct opposites flip the prediction a<->b",
    "recall": "matched and correct / scored; err_nomatch + err_flipped + err_pred_c + recall = 1",
}


def resolve_matches(
    proposed: list[tuple[str, str | None]],
    gt_keys: list[str],
    pred_keys: list[str],
    *,
    strict: bool = False,
    where: str = "",
) -> tuple[dict[str, str | None], dict[str, int]]:
    """Turn a judge's proposed pairs into a one-to-one map ``{gt_key: pred_key|None}`` and repair counts.

    ``strict``: the public eval's rules: a wrong set of ground-truth keys is an error, and a prediction may
    stay matched to several ground-truth keys (invented prediction keys still become no match).
    """
    if strict and {g for g, _ in proposed} != set(gt_keys):
        raise ToolkitError(
            "the judge's answer does not have exactly the ground-truth keys: the public eval stops here "
            "(--strict-official; try another --seed)",
            key=where or "judge_match",
        )
    repairs = {"missing_gt_keys": 0, "unknown_gt_keys": 0, "unknown_pred_keys": 0, "duplicate_matches": 0}
    raw: dict[str, str | None] = {}
    for g, p in proposed:
        if g not in gt_keys:
            repairs["unknown_gt_keys"] += 1
            continue
        if p is not None and p not in pred_keys:
            repairs["unknown_pred_keys"] += 1
            p = None
        if g not in raw or raw[g] is None:
            raw[g] = p
    out: dict[str, str | None] = {}
    used: set[str] = set()
    for g in sorted(gt_keys, key=diff_key_order):
        if g not in raw:
            repairs["missing_gt_keys"] += 1
        p = raw.get(g)
        if p is not None and p in used:
            repairs["duplicate_matches"] += 1
            if not strict:
                p = None
        if p is not None:
            used.add(p)
        out[g] = p
    return out, repairs


@dataclass
class OpenResults:
    """Per-item outcomes, the per-sample matching log and the metrics."""

    items: list[dict[str, Any]]
    matching: list[dict[str, Any]]
    metrics: dict[str, Any]

    def write(self, out_dir: str | os.PathLike) -> None:
        """``metrics.json``, ``items.jsonl`` and ``matching.jsonl`` into ``out_dir``."""
        write_results(out_dir, self.metrics, items=self.items, matching=self.matching)


def summarize_open(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``n, correct, recall, matched, err_nomatch, err_flipped, err_pred_c`` over scored items."""
    n = len(items)
    count = {
        o: sum(1 for it in items if it["outcome"] == o)
        for o in ("correct", "nomatch", "flipped", "pred_c", "invalid")
    }
    return {
        "n": n,
        "correct": count["correct"],
        "recall": rate(count["correct"], n),
        "matched": rate(n - count["nomatch"], n),
        "err_nomatch": rate(count["nomatch"], n),
        "err_flipped": rate(count["flipped"], n),
        "err_pred_c": rate(count["pred_c"], n),
        "err_invalid_answer": rate(count["invalid"], n),
    }


def _outcome(gt: str, pred: str | None, *, strict: bool = False) -> str:
    if pred == gt:
        return "correct"
    if pred in ("a", "b"):
        return "flipped"
    if strict and pred is None:
        return "nomatch"  # the public eval counts a matched null answer as no match
    return "pred_c" if pred in ("c", None) else "invalid"


@dataclass
class _Sample:
    row: dict[str, Any]
    labels: dict[str, str]
    gt_desc: dict[str, str]
    pred_row: dict[str, dict[str, Any]]
    pred_desc: dict[str, str]
    log: dict[str, Any]
    matches: dict[str, str | None]
    opposite: dict[str, bool]

    @property
    def scored(self) -> list[str]:
        return [k for k in self.gt_desc if self.labels[k] in ("a", "b")]

    @property
    def needs_judge(self) -> bool:
        return bool(self.scored and self.pred_desc)


def _prepare(
    row: dict[str, Any], pred_row: dict[str, dict[str, Any]], totals: dict[str, int], *, strict: bool = False
) -> _Sample:
    """Ground-truth candidates and the predictions kept under the N_diff limit (``strict``: all of them)."""
    sk = row["sample_key"]
    labels = gt_labels(row)
    gt_desc = {k: d for k in sorted(labels, key=diff_key_order) if (d := gt_description(row, k))}
    totals["gt_without_description"] += len(labels) - len(gt_desc)  # labelled, but no statement: not scored
    limit = row_open_prediction_budget(row)
    ordered = sorted(pred_row, key=diff_key_order)
    described = [k for k in ordered if (pred_row[k].get("description") or "").strip()]
    kept, dropped = (described, []) if strict else (described[:limit], described[limit:])
    if dropped:
        log.warning("%s: %d predictions over the N_diff limit of %d dropped", sk, len(dropped), limit)
    totals["samples_truncated"] += bool(dropped)
    totals["dropped_over_limit"] += len(dropped)
    totals["dropped_no_description"] += len(ordered) - len(described)
    pred_desc = {k: pred_row[k]["description"].strip() for k in kept}
    log_row = {
        "sample_key": sk,
        "n_diff": limit,
        "kept": kept,
        "dropped_over_limit": dropped,
        "matches": {},
        "opposite": {},
        "repairs": {},
    }
    return _Sample(row, labels, gt_desc, pred_row, pred_desc, log_row, dict.fromkeys(gt_desc), {})


def _items(s: _Sample, *, strict: bool = False) -> list[dict[str, Any]]:
    row, items = s.row, []
    for g in s.scored:
        p = s.matches.get(g)
        raw = s.pred_row[p].get("prediction") if p is not None else None
        final = FLIP.get(raw, raw) if s.opposite.get(g) else raw
        items.append(
            {
                "sample_key": row["sample_key"],
                "action": row.get("action"),
                "domain": row.get("domain"),
                "split": row.get("split"),
                "diff_key": g,
                "gt": s.labels[g],
                "description": s.gt_desc[g],
                "pred_key": p,
                "pred_description": s.pred_desc.get(p) if p else None,
                "pred_raw": raw,
                "opposite": s.opposite.get(g, False),
                "prediction": final,
                "outcome": "nomatch" if p is None else _outcome(s.labels[g], final, strict=strict),
            }
        )
    return items


def score_open(
    data: EvalData, preds: Predictions, judge: Judge, *, progress: bool = True, strict: bool = False
) -> OpenResults:
    """Match, flip and score open-set predictions; see the module docstring for the protocol.

    Three passes, so an LLM judge can run its calls concurrently: all matching calls, then all
    opposite checks (batched across samples), then scoring. Interrupted runs resume from the judge cache.
    """
    totals = dict.fromkeys(
        (
            "samples_truncated",
            "dropped_over_limit",
            "dropped_no_description",
            "missing_gt_keys",
            "unknown_gt_keys",
            "unknown_pred_keys",
            "duplicate_matches",
            "matched_to_gt_c",
            "gt_without_description",
        ),
        0,
    )
    samples = [
        _prepare(r, preds.for_sample(r["sample_key"]), totals, strict=strict)
        for r in tqdm(data.rows, desc="open eval: prepare", unit="pair", disable=not progress)
    ]
    todo = [s for s in samples if s.needs_judge]
    proposals = judge.match_many(
        [
            (s.row.get("action_description") or s.row.get("action_name") or "", s.gt_desc, s.pred_desc)
            for s in todo
        ]
    )
    pairs: list[tuple[_Sample, str, str]] = []
    for s, proposed in zip(todo, proposals):
        s.matches, repairs = resolve_matches(
            proposed, list(s.gt_desc), list(s.pred_desc), strict=strict, where=s.row["sample_key"]
        )
        for r, c in repairs.items():
            totals[r] += c
        s.log.update(matches=s.matches, repairs=repairs)
        pairs += [(s, g, p) for g, p in s.matches.items() if p is not None]
    flags = judge.opposites([(s.gt_desc[g], s.pred_desc[p]) for s, g, p in pairs]) if pairs else []
    for (s, g, _), f in zip(pairs, flags):
        s.opposite[g] = bool(f)
        s.log["opposite"][g] = bool(f)
    items: list[dict[str, Any]] = []
    for s in samples:
        totals["matched_to_gt_c"] += sum(
            1 for g, p in s.matches.items() if p is not None and s.labels[g] == "c"
        )
        items += _items(s, strict=strict)
    if totals["dropped_over_limit"]:
        log.warning(
            "N_diff enforced: %d predictions dropped in %d samples",
            totals["dropped_over_limit"],
            totals["samples_truncated"],
        )
    metrics: dict[str, Any] = {"task": "open", **summarize_open(items)}
    metrics["by_split"] = group_by(items, "split", summarize_open)
    metrics["recall_split_mean"] = macro(metrics["by_split"], "recall")
    metrics["recall_pooled"] = metrics["recall"]
    metrics["by_domain"] = group_by(items, "domain", summarize_open)
    metrics["by_action"] = group_by(items, "action", summarize_open)
    metrics["judge"] = judge.describe()
    metrics["comparable_to_published"] = bool(judge.comparable_to_published)
    metrics["not_comparable_because"] = list(getattr(judge, "not_comparable_because", []) or [])
    if not strict:
        metrics["not_comparable_because"].append(
            "toolkit scoring rules (--strict-official applies the public eval's)"
        )
        metrics["comparable_to_published"] = False
    metrics["counts"] = totals
    metrics["unknown_samples"] = preds.unknown_samples
    usage = getattr(getattr(judge, "client", None), "usage", None)
    metrics["usage"] = usage.as_dict() if usage is not None else None
    metrics["answers_normalised"] = preds.answers_normalised
    metrics["answers_invalid"] = preds.answers_invalid
    client = getattr(judge, "client", None)
    if hasattr(client, "endpoint_report"):
        metrics["llm_endpoint"] = (
            client.endpoint_report()
        )  # structured-output mode and model the server reported
    metrics["protocol"] = {**PROTOCOL, **rules_block(strict)}
    metrics["inputs"] = inputs_block(data, preds.path, preds.sha256, predictions_layout=preds.layout)
    return OpenResults(items=items, matching=[s.log for s in samples], metrics=metrics)


def eval_open(
    dataset: str | os.PathLike,
    predictions: str | os.PathLike,
    judge: Judge,
    out_dir: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    strict: bool = False,
) -> OpenResults:
    """Load, judge, score and (when ``out_dir`` is given) write open-set results."""
    data = load_eval_data(dataset)
    preds = load_predictions(predictions, data, strict=strict, task="open")
    res = score_open(data, preds, judge, progress=progress, strict=strict)
    if out_dir is not None:
        res.write(out_dir)
    return res
