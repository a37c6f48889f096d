"""Segmentation, frame picking and retrieval-string filtering (pure numpy, worked out by hand)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from viddiff_method.stages import localizer as loc


def brute_force(S):
    n, T = S.shape
    best = None
    for cuts in itertools.combinations(range(1, T), n - 1):
        b = [0, *cuts, T]
        cost = sum(-np.log(S[i, b[i] : b[i + 1]]).sum() for i in range(n))
        if best is None or cost < best[0] - 1e-12:
            best = (cost, [(b[i], b[i + 1]) for i in range(n)])
    return best[1]


def test_segment_is_the_best_monotonic_path():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(1, 5))
        T = int(rng.integers(n + 1, 11))
        S = rng.random((n, T)) + 1e-3
        assert loc.segment(S) == brute_force(S)


def test_segment_recovers_clean_blocks_and_every_stage_gets_a_frame():
    truth = [(0, 4), (4, 11), (11, 15)]
    S = np.full((3, 15), 0.1)
    for i, (a, b) in enumerate(truth):
        S[i, a:b] = 0.9
    assert loc.segment(S) == truth
    # a stage CLIP never sees still gets at least one frame, in order
    S2 = np.full((3, 10), 0.5)
    S2[0, :] = 0.9
    segs = loc.segment(S2)
    assert [b - a for a, b in segs] and all(b - a >= 1 for a, b in segs)
    assert segs[0][0] == 0 and segs[-1][1] == 10


def test_duration_prior_pulls_towards_equal_lengths():
    S = np.ones((2, 12))
    S[0, :] = 0.9
    S[1, :] = 0.2  # stage 1 is weak everywhere: without a prior stage 0 takes all but one frame
    assert loc.segment(S) == [(0, 11), (11, 12)]
    weak = loc.segment(S, duration_prior=5.0)[0][1]
    strong = loc.segment(S, duration_prior=500.0)[0][1]
    assert 11 > weak > strong >= 6
    assert strong == 6


def test_more_stages_than_frames_gives_identity():
    S = np.ones((4, 2))
    assert loc.segment(S) == [(0, 1), (1, 2), (1, 2), (1, 2)]


def test_stage_similarity_is_min_max_normalised():
    frames = np.eye(3)
    texts = [np.array([[1.0, 0, 0]]), np.array([[0, 0.6, 0.8]])]
    S = loc.stage_similarity(frames, texts)
    assert S.shape == (2, 3)
    assert S[0].max() == 1.0 and S[0].min() == loc.EPS
    assert S[1].tolist() == [loc.EPS, pytest.approx(0.75), 1.0]


@pytest.mark.parametrize(
    "centre,n,step,T,expected",
    [
        (5, 3, 3, 10, [2, 5, 8]),
        (0, 3, 3, 10, [0, 3, 6]),  # shifted right to stay inside
        (9, 3, 3, 10, [3, 6, 9]),  # shifted left
        (5, 3, 10, 10, [1, 5, 9]),  # squeezed to fit
        (0, 3, 2, 2, [0, 1]),  # fewer frames than asked: no duplicates
    ],
)
def test_centred_frames(centre, n, step, T, expected):
    assert loc.centred_frames(centre, n, step, T) == expected


def test_frames_for_difference():
    segs = [(0, 4), (4, 10), (10, 20)]
    # "1": middle of the first linked stage
    assert loc.frames_for_difference("1", [1, 2], segs, 20, 8.0) == [6]
    # "gt_1": 3 frames, round(0.35 * 8) = 3 apart, centred on the span of stages 1-2 ([4, 20) -> 11)
    assert loc.frames_for_difference("gt_1", [1, 2], segs, 20, 8.0) == [8, 11, 14]
    # linked to nothing: the whole clip
    assert loc.frames_for_difference("1", [], segs, 20, 8.0) == [9]
    assert loc.frames_for_difference("gt_1", [7], segs, 20, 8.0) == [6, 9, 12]


def test_keypoint_frame_and_source_mapping():
    segs = [(0, 4), (4, 10)]
    assert loc.keypoint_frame(1, segs, 10) == 6
    assert loc.keypoint_frame(1, segs, 10, "start") == 4
    assert loc.keypoint_frame(1, segs, 10, "end") == 9
    assert loc.keypoint_frame(None, segs, 10) is None
    assert loc.to_source([0, 3], [0, 2, 4, 6]) == [0, 6]


def test_filter_retrieval_strings_drops_the_ambiguous_one():
    e = {
        "a1": np.array([1.0, 0, 0]),
        "a2": np.array([0.95, 0.31, 0]),
        "bad": np.array([0, 1.0, 0]),
        "b1": np.array([0, 0.99, 0.14]),
        "b2": np.array([0, 0.95, 0.31]),
    }
    kept, notes = loc.filter_retrieval_strings([["a1", "a2", "bad"], ["b1", "b2"]], e)
    assert kept == [["a1", "a2"], ["b1", "b2"]]
    assert len(notes) == 1 and "bad" in notes[0]
