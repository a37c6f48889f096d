"""Pairing: deterministic, never self-pairs, distinct participants, contrast strategies, honest shortfall."""

from __future__ import annotations

import pytest

from curation.build.pairing import make_pairs
from curation.sources import ClipRecord


def clip(i: int, participant: str, rank: int | None = None, score: float | None = None) -> ClipRecord:
    skill = (
        None
        if rank is None and score is None
        else {"level": None, "score": score, "scale": None, "rank": rank}
    )
    return ClipRecord(
        clip_id=f"c{i}",
        dataset="jigsaws",
        action="Suturing",
        media_path=f"/m/c{i}.avi",
        media_kind="video",
        n_frames=100,
        fps_declared=30.0,
        fps_measured=30.0,
        participant=participant,
        skill=skill,
    )


CLIPS = [
    clip(0, "B", 0, 10),
    clip(1, "B", 0, 12),
    clip(2, "C", 1, 20),
    clip(3, "D", 2, 25),
    clip(4, "E", 2, 9),
]


def ids(result):
    return [(p.a.clip_id, p.b.clip_id) for p in result.pairs]


def test_deterministic_for_seed_and_key():
    a = make_pairs(CLIPS, 4, "random", seed=3, key="surgery_1")
    b = make_pairs(CLIPS, 4, "random", seed=3, key="surgery_1")
    assert ids(a) == ids(b)
    others = {tuple(ids(make_pairs(CLIPS, 4, "random", seed=s, key="surgery_1"))) for s in range(8)}
    assert len(others) > 1


def test_never_self_and_distinct_participants():
    dup = CLIPS + [clip(0, "Z")]  # same clip id again
    for seed in range(10):
        for p in make_pairs(dup, 20, "random", seed=seed).pairs:
            assert p.a.clip_id != p.b.clip_id
            assert p.a.participant != p.b.participant
    allowed = make_pairs(CLIPS, 20, "random", distinct_participants=False)
    assert any({p.a.participant, p.b.participant} == {"B"} for p in allowed.pairs)


def test_skill_contrast_takes_largest_rank_gap_first():
    r = make_pairs(CLIPS, 3, "skill_contrast", seed=1)
    gaps = [p.info["gap"] for p in r.pairs]
    assert gaps[0] == 2 and all(g > 0 for g in gaps)
    assert all(p.info["rank_a"] != p.info["rank_b"] for p in r.pairs)


def test_score_gap_respects_min_gap_and_reports_shortfall():
    r = make_pairs(CLIPS, 10, "score_gap", min_gap=10)
    assert all(abs(p.a.skill["score"] - p.b.skill["score"]) > 10 for p in r.pairs)
    # scores c0 10, c1 12 (both B), c2 20, c3 25, c4 9: gaps above 10 between different participants are
    # c0-c3 15, c1-c3 13, c2-c4 11, c3-c4 16 (c0-c2 is exactly 10, not above)
    expected = {frozenset(x) for x in [("c0", "c3"), ("c1", "c3"), ("c2", "c4"), ("c3", "c4")]}
    assert {frozenset((p.a.clip_id, p.b.clip_id)) for p in r.pairs} == expected
    assert r.note is not None and "only 4" in r.note


def test_a_b_order_is_mixed():
    many = [clip(i, f"p{i}") for i in range(12)]
    r = make_pairs(many, 30, "random", seed=0)
    firsts = sum(int(p.a.clip_id[1:]) < int(p.b.clip_id[1:]) for p in r.pairs)
    assert 0 < firsts < len(r.pairs)


def test_unknown_strategy():
    with pytest.raises(ValueError):
        make_pairs(CLIPS, 1, "best")
