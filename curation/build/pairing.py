"""Choose video pairs within one action: random, by skill contrast, or by score gap.

Deterministic for a seed (the action key is mixed in, so actions do not share a random stream), never
pairs a clip with itself, uses distinct participants by default, and says so when fewer pairs exist
than were asked for. Which clip becomes video A is drawn at random, so a/b labels stay balanced.
"""

from __future__ import annotations

import itertools
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from curation.sources import ClipRecord

log = logging.getLogger(__name__)

Strategy = Literal["random", "skill_contrast", "score_gap"]
STRATEGIES: tuple[str, ...] = ("random", "skill_contrast", "score_gap")


@dataclass
class Pair:
    """Video A, video B, and what the pairing realised (strategy, rank or score gap)."""

    a: ClipRecord
    b: ClipRecord
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class PairingResult:
    """The pairs chosen and, when fewer than asked, a human-readable note why."""

    pairs: list[Pair]
    requested: int
    candidates: int
    note: str | None = None


def _rank(c: ClipRecord) -> int | None:
    return (c.skill or {}).get("rank")


def _score(c: ClipRecord) -> float | None:
    return (c.skill or {}).get("score")


def _same_media(a: ClipRecord, b: ClipRecord) -> bool:
    return a.clip_id == b.clip_id or a.media_path == b.media_path


def make_pairs(
    clips: list[ClipRecord],
    count: int,
    strategy: Strategy = "random",
    *,
    seed: int = 0,
    key: str = "",
    distinct_participants: bool = True,
    min_gap: float = 0.0,
) -> PairingResult:
    """Pick ``count`` unordered pairs of ``clips`` by ``strategy``; deterministic for (seed, key).

    - ``random``: uniformly among all valid pairs.
    - ``skill_contrast``: pairs whose skill ranks differ, largest rank gap first.
    - ``score_gap``: pairs whose scores differ by more than ``min_gap``, largest gap first.
    Ties are broken by the seeded shuffle. Each clip is reused as little as possible.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown pairing strategy {strategy!r}")
    rng = random.Random(f"{seed}:{key}")
    ordered = sorted(clips, key=lambda c: c.clip_id)
    candidates = []
    for a, b in itertools.combinations(ordered, 2):
        if _same_media(a, b):
            continue
        if distinct_participants and a.participant is not None and a.participant == b.participant:
            continue
        if strategy == "skill_contrast":
            if _rank(a) is None or _rank(b) is None or _rank(a) == _rank(b):
                continue
            gap: float = abs(_rank(a) - _rank(b))
        elif strategy == "score_gap":
            if _score(a) is None or _score(b) is None or abs(_score(a) - _score(b)) <= min_gap:
                continue
            gap = abs(_score(a) - _score(b))
        else:
            gap = 0.0
        candidates.append((a, b, gap))
    rng.shuffle(candidates)
    candidates.sort(key=lambda t: -t[2])  # stable: shuffled order breaks ties

    uses: dict[str, int] = {}
    chosen: list[tuple[ClipRecord, ClipRecord, float]] = []
    remaining = list(candidates)
    while remaining and len(chosen) < count:
        # prefer the best-gap pair among those whose clips are least used so far
        best = min(
            range(len(remaining)),
            key=lambda i: (uses.get(remaining[i][0].clip_id, 0) + uses.get(remaining[i][1].clip_id, 0), i),
        )
        a, b, gap = remaining.pop(best)
        uses[a.clip_id] = uses.get(a.clip_id, 0) + 1
        uses[b.clip_id] = uses.get(b.clip_id, 0) + 1
        chosen.append((a, b, gap))

    pairs = []
    for a, b, gap in chosen:
        if rng.random() < 0.5:
            a, b = b, a
        info: dict[str, Any] = {"strategy": strategy, "seed": seed}
        if strategy == "skill_contrast":
            info.update(rank_a=_rank(a), rank_b=_rank(b), gap=gap)
        elif strategy == "score_gap":
            info.update(score_a=_score(a), score_b=_score(b), gap=gap)
        pairs.append(Pair(a, b, info))
    note = None
    if len(pairs) < count:
        why = {
            "random": "valid pairs",
            "skill_contrast": "pairs with different skill levels",
            "score_gap": f"pairs with a score gap above {min_gap:g}",
        }[strategy]
        extra = " of distinct participants" if distinct_participants else ""
        note = f"asked for {count} pairs, only {len(pairs)} {why}{extra} exist among {len(clips)} clips"
    return PairingResult(pairs, count, len(candidates), note)
