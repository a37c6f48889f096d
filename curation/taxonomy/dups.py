"""Near-duplicate differences: fuzzy text similarity that keeps "shot 1" and "shot 2" apart."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from curation.taxonomy.keys import sorted_keys

DEFAULT_DUP_THRESHOLD = 90.0


_ORDINAL = re.compile(r"^(\d+(st|nd|rd|th)?|first|second|third|fourth|last|left|right|one|two|three)$")


def _only_ordinals_differ(a: str, b: str) -> bool:
    """True when two texts differ only by numbers/ordinals/sides ("shot 1" vs "shot 2"): distinct items."""
    ta, tb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    diff = (ta - tb) | (tb - ta)
    return bool(ta - tb) and bool(tb - ta) and all(_ORDINAL.match(t) for t in diff)


def similarity(a: dict[str, Any], b: dict[str, Any]) -> float:
    """0-100 text similarity of two differences: the highest of name, statement and statement-subset scores.

    Texts that differ only by a number, ordinal or side ("... shot 1" / "... shot 2") count as distinct (0).
    """
    from rapidfuzz import fuzz, utils

    if _only_ordinals_differ(a.get("name", ""), b.get("name", "")) or _only_ordinals_differ(
        a.get("description", ""), b.get("description", "")
    ):
        return 0.0
    da, db = a.get("description", ""), b.get("description", "")
    return max(
        fuzz.token_sort_ratio(a.get("name", ""), b.get("name", ""), processor=utils.default_process),
        fuzz.token_sort_ratio(da, db, processor=utils.default_process),
        # one statement containing the other ("the movement is deeper" / "the squat movement is deeper")
        fuzz.token_set_ratio(da, db, processor=utils.default_process),
    )


def near_duplicates(
    tax: dict[str, Any],
    *,
    threshold: float = DEFAULT_DUP_THRESHOLD,
    statuses: Iterable[str] = ("active", "draft"),
) -> list[tuple[str, str, float]]:
    """Pairs ``(key_a, key_b, score)`` of live differences whose texts are at least ``threshold`` similar."""
    statuses = set(statuses)
    live = [
        (k, tax["differences"][k])
        for k in sorted_keys(tax["differences"])
        if tax["differences"][k]["status"] in statuses
    ]
    out = []
    for i, (ka, a) in enumerate(live):
        for kb, b in live[i + 1 :]:
            s = similarity(a, b)
            if s >= threshold:
                out.append((ka, kb, s))
    return out
