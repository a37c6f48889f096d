"""Statistics shared by the evaluators: binomial tests, confidence intervals, grouped summaries.

The public leaderboard's significance flags have no code and cannot be reproduced (viddiffbench.md §4).
Here significance is defined once: an **exact two-sided binomial test** of ``correct`` out of ``n``
against p = 0.5 (``scipy.stats.binomtest``), and the 95% interval is the **Wilson score interval**
(``BinomTestResult.proportion_ci(method="wilson")``), which keeps its coverage for small n and
accuracies near 0 or 1, unlike the normal approximation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from scipy.stats import binomtest

ALPHA = 0.05
CI_METHOD = "wilson"
TEST = "exact two-sided binomial test against p=0.5 (scipy.stats.binomtest)"


def binomial_summary(correct: int, n: int) -> dict[str, Any]:
    """``accuracy, n, correct, p_value, ci95, significant`` for ``correct`` successes out of ``n``.

    With ``n == 0`` every rate is None (nothing was scored), never 0.
    """
    if n == 0:
        return {"accuracy": None, "n": 0, "correct": 0, "p_value": None, "ci95": None, "significant": None}
    res = binomtest(correct, n, 0.5, alternative="two-sided")
    ci = res.proportion_ci(confidence_level=0.95, method=CI_METHOD)
    return {
        "accuracy": correct / n,
        "n": n,
        "correct": correct,
        "p_value": float(res.pvalue),
        "ci95": [float(ci.low), float(ci.high)],
        "significant": bool(res.pvalue < ALPHA),
    }


def rate(k: int, n: int) -> float | None:
    """k / n, or None when n is 0."""
    return k / n if n else None


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, or None for no values."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def group_by(
    items: list[dict[str, Any]],
    key: str | Callable[[dict[str, Any]], Any],
    summarize: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """``{group: summarize(items in group)}`` with groups sorted; items whose key is None are skipped."""
    fn = key if callable(key) else (lambda it: it.get(key))
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        g = fn(it)
        if g is not None:
            groups[str(g)].append(it)
    return {g: summarize(groups[g]) for g in sorted(groups)}


def macro(blocks: dict[str, dict[str, Any]], field: str) -> float | None:
    """Unweighted mean of ``field`` over groups that have a value (the leaderboard's "Avg" over splits)."""
    return mean(b[field] for b in blocks.values() if b.get(field) is not None)
