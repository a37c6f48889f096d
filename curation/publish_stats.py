"""Statistics for the data card: per domain and action, pairs, differences, a/b/c shares, timestamps,
mean clip length."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from curation.publish_rules import labels


@dataclass
class StatsRow:
    """One line of the statistics table (an action, a domain subtotal, or the total)."""

    domain: str
    action: str
    action_name: str
    split: str
    pairs: int = 0
    differences: int = 0
    a: int = 0
    b: int = 0
    c: int = 0
    timestamps: int = 0
    clip_seconds: float = 0.0
    clips: int = 0

    def add(self, row: dict[str, Any]) -> None:
        """Count one sample row into this line."""
        values = labels(row)
        self.pairs += 1
        self.differences += len(values)
        self.a += values.count("a")
        self.b += values.count("b")
        self.c += values.count("c")
        for per_video in row.get("retrieval_frames") or []:
            self.timestamps += sum(1 for frames in (per_video or {}).values() if frames)
        for video in row["videos"]:
            seconds = clip_seconds(video)
            if seconds is not None:
                self.clip_seconds += seconds
                self.clips += 1

    def share(self, label: str) -> float:
        """Fraction of this line's labels equal to ``label`` (0 when there are none)."""
        return getattr(self, label) / self.differences if self.differences else 0.0

    @property
    def mean_clip_seconds(self) -> float:
        """Mean clip length in seconds over the videos counted."""
        return self.clip_seconds / self.clips if self.clips else 0.0


def clip_seconds(video: dict[str, Any]) -> float | None:
    """Length of a clip in seconds, from its trimmed frame count and fps (None when unknown)."""
    fps = video.get("fps_original")
    n = video.get("n_frames")
    trim = video.get("frames_trim") or []
    if len(trim) >= 2 and trim[0] is not None and trim[1] is not None:
        step = trim[2] if len(trim) > 2 and trim[2] else 1
        n = len(range(trim[0], trim[1], step))
        fps = fps / step if fps else fps
    if not fps or not n:
        return None
    return n / fps


def dataset_stats(rows: list[dict[str, Any]]) -> tuple[list[StatsRow], list[StatsRow], StatsRow]:
    """Per-action lines (sorted by domain, action), per-domain subtotals, and the total."""
    per_action: dict[tuple[str, str], StatsRow] = {}
    per_domain: dict[str, StatsRow] = defaultdict(lambda: StatsRow("", "", "", ""))
    total = StatsRow("all", "all", "", "")
    for row in rows:
        key = (row["domain"], row["action"])
        if key not in per_action:
            per_action[key] = StatsRow(row["domain"], row["action"], row.get("action_name") or "",
                                       str(row.get("split") or ""))
        per_action[key].add(row)
        dom = per_domain[row["domain"]]
        dom.domain = dom.action = row["domain"]
        dom.add(row)
        total.add(row)
    actions = [per_action[k] for k in sorted(per_action)]
    domains = [per_domain[k] for k in sorted(per_domain)]
    return actions, domains, total
