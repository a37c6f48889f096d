"""Statistics for the data card: per domain and action, pairs, differences, a/b/c shares, timestamps,
mean clip length.

Each sample row is counted once (:func:`row_counts`), into a pandas table with one record per pair; the
per-action lines, per-domain subtotals and the total are ``groupby`` aggregations over that table.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

import pandas as pd

from curation.publish.rules import labels
from curation.publish.sources import source_key

#: The integer columns of the statistics table, summed per line.
COUNTS = ("pairs", "differences", "a", "b", "c", "timestamps", "clips")


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


def row_counts(row: dict[str, Any]) -> dict[str, Any]:
    """What one sample row adds to its line: one pair, its labels by value, its timestamps, its clips
    (``seconds``: the length of each clip whose length is known, in video order)."""
    values = labels(row)
    seconds = [s for video in row["videos"] if (s := clip_seconds(video)) is not None]
    return {
        "pairs": 1,
        "differences": len(values),
        "a": values.count("a"),
        "b": values.count("b"),
        "c": values.count("c"),
        "timestamps": sum(
            1
            for per_video in row.get("retrieval_frames") or []
            for frames in (per_video or {}).values()
            if frames
        ),
        "clips": len(seconds),
        "seconds": seconds,
    }


def stats_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One record per sample row: ``domain, action, action_name, split``, the :data:`COUNTS` and ``seconds``."""
    return pd.DataFrame(
        [
            {
                "domain": r["domain"],
                "action": r["action"],
                "action_name": r.get("action_name") or "",
                "split": str(r.get("split") or ""),
                **row_counts(r),
            }
            for r in rows
        ],
        columns=["domain", "action", "action_name", "split", *COUNTS, "seconds"],
    )


def in_order_sum(seconds: pd.Series) -> float:
    """The clip lengths of some records added one at a time from 0.0, in row then video order.

    pandas' own float sums are compensated (Kahan); their last bit can differ from the card's historical
    running total and, at a rounding tie, move a printed mean, so the card keeps the running total.
    """
    return reduce(operator.add, itertools.chain.from_iterable(seconds), 0.0)


def _line(domain: str, action: str, action_name: str, split: str, sums: pd.Series) -> StatsRow:
    return StatsRow(
        domain,
        action,
        action_name,
        split,
        clip_seconds=float(sums["seconds"]),
        **{c: int(sums[c]) for c in COUNTS},
    )


def dataset_stats(rows: list[dict[str, Any]]) -> tuple[list[StatsRow], list[StatsRow], StatsRow]:
    """Per-action lines (sorted by domain, action), per-domain subtotals, and the total.

    An action's name and split are those of its first row.
    """
    table = stats_table(rows)
    if table.empty:
        return [], [], StatsRow("all", "all", "", "")
    sums = {c: (c, "sum") for c in COUNTS} | {"seconds": ("seconds", in_order_sum)}
    per_action = table.groupby(["domain", "action"], sort=True, dropna=False).agg(
        action_name=("action_name", "first"), split=("split", "first"), **sums
    )
    per_domain = table.groupby("domain", sort=True, dropna=False).agg(**sums)
    total = pd.Series({c: table[c].sum() for c in COUNTS} | {"seconds": in_order_sum(table["seconds"])})
    actions = [_line(d, a, s["action_name"], s["split"], s) for (d, a), s in per_action.iterrows()]
    domains = [_line(d, d, "", "", s) for d, s in per_domain.iterrows()]
    return actions, domains, _line("all", "all", "", "", total)


def source_stats(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source (its registry key, sorted): ``name`` as its first row spells it, ``pairs``, sorted ``actions``."""
    table = pd.DataFrame(
        {
            "source": [source_key(r["source_dataset"]) for r in rows],
            "name": [r["source_dataset"] for r in rows],
            "action": [r["action"] for r in rows],
        }
    )
    per_source = table.groupby("source", sort=True).agg(
        name=("name", lambda names: names.iloc[0]),
        pairs=("action", "size"),
        actions=("action", lambda actions: sorted(set(actions))),
    )
    return {
        key: {"name": s["name"], "pairs": int(s["pairs"]), "actions": s["actions"]}
        for key, s in per_source.iterrows()
    }
