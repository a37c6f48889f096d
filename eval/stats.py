"""Statistics shared by the evaluators: binomial tests, confidence intervals, grouped summaries.

The public leaderboard's significance flags have no code and cannot be reproduced. Here significance is
defined once: an **exact two-sided binomial test** of ``correct`` out of ``n`` against p = 0.5, and the
95% interval is the **Wilson score interval**, which keeps its coverage for small n and accuracies near
0 or 1, unlike the normal approximation.

Both are computed here in exact integer arithmetic / closed form rather than with
``scipy.stats.binomtest``: importing ``scipy.stats`` costs about a second, more than the whole closed
evaluation of the benchmark. ``tests/eval/test_stats.py`` checks them against ``scipy.stats.binomtest``
(``pvalue`` and ``proportion_ci(method="wilson")``) over many ``(correct, n)``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

ALPHA = 0.05
CI_METHOD = "wilson"
TEST = "exact two-sided binomial test against p=0.5 (same p-value as scipy.stats.binomtest)"
#: 97.5% quantile of the standard normal (``scipy.stats.norm.ppf(0.975)``), for the 95% Wilson interval.
Z95 = 1.959963984540054


def binom_two_sided_p(k: int, n: int) -> float:
    """Exact two-sided binomial p-value of ``k`` successes in ``n`` trials against p = 0.5.

    With p = 0.5 the distribution is symmetric, so the outcomes at most as likely as ``k`` are the two
    tails beyond ``min(k, n - k)``: p = min(1, 2 * P(X <= min(k, n - k))), summed exactly in integers.
    """
    m = min(k, n - k)
    if 2 * m == n:
        return 1.0
    term, tail = 1, 1  # C(n, 0)
    for i in range(m):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / (1 << n))


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials (``proportion_ci(method="wilson")``)."""
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_summary(correct: int, n: int) -> dict[str, Any]:
    """``accuracy, n, correct, p_value, ci95, significant`` for ``correct`` successes out of ``n``.

    With ``n == 0`` every rate is None (nothing was scored), never 0.
    """
    if n == 0:
        return {"accuracy": None, "n": 0, "correct": 0, "p_value": None, "ci95": None, "significant": None}
    p_value = binom_two_sided_p(correct, n)
    low, high = wilson_interval(correct, n)
    return {
        "accuracy": correct / n,
        "n": n,
        "correct": correct,
        "p_value": p_value,
        "ci95": [low, high],
        "significant": bool(p_value < ALPHA),
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
    """``{group: summarize(items in group)}`` with groups sorted; items whose key is None are skipped.

    Every breakdown of the three evaluations (by split, domain, action, num_frames, keypoint) goes through
    here. It stays plain Python rather than a pandas ``groupby``: importing pandas costs 0.4-0.6 s, more than
    the whole closed evaluation (which must import no heavy package, ``tests/eval/test_imports.py``), and
    ``bench/bench_eval.py`` keeps that under 1 s on the benchmark's 4.5k items.
    """
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
