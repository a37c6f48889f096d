"""Token and cost accounting per pipeline stage, shared by every LLM call of one client.

Kept apart from the client so reports (``viddiff run``, ``curate taxonomy``) can print it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

FIELDS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost")


@dataclass
class StageUsage:
    """Counters of one stage: HTTP calls made, cache hits, tokens, and cost in the price table's unit."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, other: StageUsage) -> None:
        """Add ``other``'s counters into this one."""
        for f in FIELDS:
            setattr(self, f, getattr(self, f) + getattr(other, f))


@dataclass
class Usage:
    """Thread-safe per-stage usage; ``as_dict()`` adds a ``"total"`` entry."""

    stages: dict[str, StageUsage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(
        self,
        stage: str,
        *,
        calls: int = 0,
        cache_hits: int = 0,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float = 0.0,
    ) -> None:
        """Add one event (a call, or a cache hit) to ``stage``."""
        with self._lock:
            self.stages.setdefault(stage, StageUsage()).add(
                StageUsage(calls, cache_hits, prompt_tokens, completion_tokens, cost)
            )

    @property
    def total(self) -> StageUsage:
        """Sum over all stages."""
        out = StageUsage()
        with self._lock:
            for s in self.stages.values():
                out.add(s)
        return out

    @property
    def cost(self) -> float:
        """Total cost spent so far."""
        return self.total.cost

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """``{stage: {calls, cache_hits, prompt_tokens, completion_tokens, cost}, "total": {...}}``."""
        with self._lock:
            out = {k: asdict(v) for k, v in sorted(self.stages.items())}
        out["total"] = asdict(self.total)
        for v in out.values():
            v["cost"] = round(v["cost"], 8)
        return out

    def summary(self) -> str:
        """A short multi-line table for command output."""
        lines = [f"{'stage':<24}{'calls':>7}{'cached':>8}{'prompt':>10}{'compl.':>9}{'cost':>11}"]
        for name, v in self.as_dict().items():
            lines.append(
                f"{name:<24}{v['calls']:>7}{v['cache_hits']:>8}{v['prompt_tokens']:>10}"
                f"{v['completion_tokens']:>9}{v['cost']:>11.4f}"
            )
        return "\n".join(lines)


def with_cumulative(usage: dict[str, Any], previous_path: str | os.PathLike) -> dict[str, Any]:
    """``usage`` (this invocation) plus ``cumulative``: its LLM stages added to those of the ``usage.json``
    already at ``previous_path`` (a resumed run keeps the first runs' counts) and ``invocations``."""
    from schemas.io import read_json

    prev: dict[str, Any] = {}
    if os.path.exists(previous_path):
        try:
            prev = read_json(previous_path)
        except Exception:
            prev = {}
    if not isinstance(prev, dict):
        prev = {}
    before = (
        prev.get("cumulative")
        if isinstance(prev.get("cumulative"), dict)
        else {k: v for k, v in prev.items() if isinstance(v, dict) and set(FIELDS) <= set(v) and k != "total"}
    )
    stages = {k: v for k, v in before.items() if k not in ("total", "invocations") and isinstance(v, dict)}
    for k, v in usage.items():
        if k != "total" and isinstance(v, dict) and set(FIELDS) <= set(v):
            acc = stages.setdefault(k, dict.fromkeys(FIELDS, 0))
            for f in FIELDS:
                acc[f] = acc.get(f, 0) + v[f]
    total = dict.fromkeys(FIELDS, 0)
    for v in stages.values():
        for f in FIELDS:
            total[f] += v.get(f, 0)
    for v in [*stages.values(), total]:
        v["cost"] = round(float(v["cost"]), 8)
    n = int(before.get("invocations", 1 if prev else 0) or 0) + 1
    return {**usage, "cumulative": {**dict(sorted(stages.items())), "total": total, "invocations": n}}
