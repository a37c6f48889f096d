"""Frame numbering at the Label Studio edge (the only place it changes).

Inside the toolkit a frame is a 0-based index and a span is half-open ``[start, end)``. Label Studio's
TimelineLabels count frames from 1 and a range is inclusive on both ends; a keypoint is a region with
``start == end``. So LS frame ``N`` is index ``N - 1`` and LS range ``[s, e]`` is ``[s - 1, e)``.
"""

from __future__ import annotations


def index_to_ls(index: int) -> int:
    """0-based frame index → Label Studio frame number."""
    return int(index) + 1


def ls_to_index(frame: int) -> int:
    """Label Studio frame number → 0-based frame index."""
    return int(frame) - 1


def span_to_ls(start: int, end: int) -> tuple[int, int]:
    """Half-open 0-based ``[start, end)`` → inclusive 1-based LS range."""
    return int(start) + 1, int(end)


def ls_to_span(start: int, end: int) -> tuple[int, int]:
    """Inclusive 1-based LS range → half-open 0-based ``[start, end)``."""
    return int(start) - 1, int(end)
