"""Frame localization: stage × frame similarity, monotonic Viterbi segmentation, frame picking.

All indices here are rows of the *sampled* clip (0..T-1 at the decode fps); :func:`to_source` maps them
back to 0-based frames of the stored clip at its native fps. Segments are half-open ``[start, end)``.

Segmentation (published VidDiff, mode 2): cost = -log of the min-max normalised similarity, stages in
order, each at least one frame, no skipping. Stay and advance cost the same in the published HMM, so
every path pays the same transition total and the best path is the best segmentation into ``n``
contiguous blocks; this module solves that exactly by dynamic programming over segment ends, which
also lets an optional duration prior penalise stages far from ``T / n`` frames (published: none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPS = 1e-5


def stage_similarity(frame_emb: np.ndarray, stage_text_embs: Sequence[np.ndarray]) -> np.ndarray:
    """``S[stage, frame]``: mean cosine similarity of a stage's strings to each frame, min-max
    normalised per stage over frames to [0, 1], exact zeros replaced by 1e-5 (published)."""
    T = len(frame_emb)
    rows = []
    for embs in stage_text_embs:
        if embs is None or len(embs) == 0:
            rows.append(np.full(T, 0.5))
            continue
        sim = (np.asarray(embs, np.float64) @ np.asarray(frame_emb, np.float64).T).mean(axis=0)
        lo, hi = sim.min(), sim.max()
        rows.append((sim - lo) / (hi - lo) if hi > lo else np.full(T, 0.5))
    S = np.stack(rows) if rows else np.zeros((0, T))
    S[S <= 0] = EPS
    return S


def segment(S: np.ndarray, duration_prior: float = 0.0) -> list[tuple[int, int]]:
    """Split ``T`` frames into ``n`` ordered, non-empty segments minimising ``sum(-log S)``.

    ``duration_prior`` > 0 adds ``w * ((len - T/n) / (T/n))**2`` per segment. With ``n >= T`` the
    published identity assignment is returned (stage ``i`` → frame ``min(i, T-1)``).
    """
    n, T = S.shape
    if n == 0 or T == 0:
        return []
    if n >= T:
        return [(min(i, T - 1), min(i, T - 1) + 1) for i in range(n)]
    cost = -np.log(np.clip(S, EPS, None))
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(cost, axis=1)], axis=1)  # cum[s, t] = sum cost[s, :t]
    mu = T / n
    lengths = np.arange(T + 1)
    prior = duration_prior * ((lengths - mu) / mu) ** 2 if duration_prior > 0 else np.zeros(T + 1)
    INF = np.inf
    # D[s, e]: best cost of stages 0..s covering frames [0, e)
    D = np.full((n, T + 1), INF)
    back = np.zeros((n, T + 1), dtype=np.int64)
    D[0, 1:] = cum[0, 1:] + prior[1:]
    for s in range(1, n):
        for e in range(s + 1, T + 1):
            starts = np.arange(s, e)  # segment s covers [b, e), b >= s
            cand = D[s - 1, starts] + (cum[s, e] - cum[s, starts]) + prior[e - starts]
            k = int(np.argmin(cand))
            D[s, e], back[s, e] = cand[k], starts[k]
    bounds = []
    e = T
    for s in range(n - 1, 0, -1):
        b = int(back[s, e])
        bounds.append((b, e))
        e = b
    bounds.append((0, e))
    return bounds[::-1]


def _mid(a: int, b: int) -> int:
    return (a + b - 1) // 2


def span_of(stage_ids: Sequence[int], segments: Sequence[tuple[int, int]], T: int) -> tuple[int, int]:
    """The half-open span covering the linked stages' segments (the whole clip when none is linked)."""
    segs = [segments[i] for i in stage_ids if 0 <= i < len(segments)]
    if not segs:
        return 0, T
    return min(a for a, _ in segs), max(b for _, b in segs)


def centred_frames(centre: int, n: int, step: int, T: int) -> list[int]:
    """``n`` frames ``step`` apart centred on ``centre``, shifted (and if needed squeezed) into [0, T-1]."""
    if T <= 0:
        return []
    n = max(1, n)
    step = max(1, step)
    if n > 1 and (n - 1) * step > T - 1:
        step = max(1, (T - 1) // (n - 1)) if T > 1 else 1
    half = (n - 1) // 2
    first = centre - half * step
    last = first + (n - 1) * step
    if first < 0:
        first, last = 0, (n - 1) * step
    if last > T - 1:
        first -= last - (T - 1)
        first = max(0, first)
    return sorted({min(T - 1, max(0, first + i * step)) for i in range(n)})


def frames_for_difference(
    num_frames: str,
    stage_ids: Sequence[int],
    segments: Sequence[tuple[int, int]],
    T: int,
    fps: float,
    *,
    n: int = 3,
    spacing_seconds: float = 0.35,
) -> list[int]:
    """Sampled-clip rows to show for one difference.

    ``"1"``: the middle of the first linked stage (published). ``"gt_1"``: ``n`` frames spaced
    ``round(spacing_seconds * fps)`` apart, centred on the middle of the span covering all linked
    stages and kept inside the clip. No linked stage: the whole clip's middle / span.
    """
    if T <= 0:
        return []
    valid = [i for i in stage_ids if 0 <= i < len(segments)]
    if num_frames == "1":
        a, b = segments[valid[0]] if valid else (0, T)
        return [_mid(a, b)]
    a, b = span_of(valid, segments, T)
    return centred_frames(_mid(a, b), n, int(round(spacing_seconds * fps)), T)


def keypoint_frame(
    stage_id: int | None, segments: Sequence[tuple[int, int]], T: int, position: str = "middle"
) -> int | None:
    """Row of a keypoint in its stage: the stage's middle, first or last frame (None if unlinked)."""
    if stage_id is None or not 0 <= stage_id < len(segments) or T <= 0:
        return None
    a, b = segments[stage_id]
    return {"start": a, "end": b - 1}.get(position, _mid(a, b))


def to_source(rows: Sequence[int], indices: Sequence[int]) -> list[int]:
    """Map sampled-clip rows to 0-based frames of the stored clip (native fps)."""
    return [int(indices[r]) for r in rows]


def filter_retrieval_strings(
    stage_strings: Sequence[Sequence[str]],
    emb: dict[str, np.ndarray],
) -> tuple[list[list[str]], list[str]]:
    """Drop strings whose text embedding is closer (mean cosine) to another stage's strings than to
    their own stage's other strings; each stage keeps at least its best string.

    This replaces the published method's extra LLM call ("refine") with a deterministic CLIP-space test.
    Returns the kept strings per stage and a note per dropped string.
    """
    kept_all, notes = [], []
    for i, strings in enumerate(stage_strings):
        if len(strings) < 2 or len(stage_strings) < 2:
            kept_all.append(list(strings))
            continue
        margins = []
        for t in strings:
            own = np.mean([float(emb[t] @ emb[u]) for u in strings if u != t])
            other = max(
                np.mean([float(emb[t] @ emb[u]) for u in others]) if others else -np.inf
                for j, others in enumerate(stage_strings)
                if j != i
            )
            margins.append(own - other)
        kept = [t for t, m in zip(strings, margins) if m >= 0]
        if not kept:
            kept = [strings[int(np.argmax(margins))]]
        notes += [
            f"retrieval string {t!r} of stage {i} dropped (closer to another stage)"
            for t in strings
            if t not in kept
        ]
        kept_all.append(kept)
    return kept_all, notes
