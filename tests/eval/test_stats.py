"""eval.stats' exact binomial test and Wilson interval against scipy.stats.binomtest on the same counts."""

from __future__ import annotations

import random

import pytest
from scipy.stats import binomtest

from eval.stats import binom_two_sided_p, binomial_summary, wilson_interval

CASES = [
    (0, 1),
    (1, 1),
    (0, 2),
    (1, 2),
    (2, 5),
    (5, 9),
    (0, 30),
    (30, 30),
    (13, 40),
    (27, 40),
    (600, 1227),
    (653, 1227),
    (457, 871),
    (1398, 4542),
    (2271, 4542),
    (2400, 4542),
]
CASES += [
    (k, n)
    for n, k in ((n, random.Random(n).randint(0, n)) for n in random.Random(0).sample(range(1, 3000), 40))
]


@pytest.mark.parametrize("k, n", CASES)
def test_same_as_scipy_binomtest(k, n):
    ref = binomtest(k, n, 0.5, alternative="two-sided")
    ci = ref.proportion_ci(confidence_level=0.95, method="wilson")
    assert binom_two_sided_p(k, n) == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), rel=1e-12, abs=1e-15)
    s = binomial_summary(k, n)
    assert s["significant"] is bool(ref.pvalue < 0.05)
