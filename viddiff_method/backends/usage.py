"""Token and cost accounting per pipeline stage, shared by every LLM call of one client.

Kept apart from the client so reports (``viddiff run``, ``curate taxonomy``) can print it.
"""
from __future__ import annotations

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

    def add(self, other: "StageUsage") -> None:
        """Add ``other``'s counters into this one."""
        for f in FIELDS:
            setattr(self, f, getattr(self, f) + getattr(other, f))


@dataclass
class Usage:
    """Thread-safe per-stage usage; ``as_dict()`` adds a ``"total"`` entry."""

    stages: dict[str, StageUsage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, stage: str, *, calls: int = 0, cache_hits: int = 0, prompt_tokens: int = 0,
               completion_tokens: int = 0, cost: float = 0.0) -> None:
        """Add one event (a call, or a cache hit) to ``stage``."""
        with self._lock:
            self.stages.setdefault(stage, StageUsage()).add(
                StageUsage(calls, cache_hits, prompt_tokens, completion_tokens, cost))

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
            lines.append(f"{name:<24}{v['calls']:>7}{v['cache_hits']:>8}{v['prompt_tokens']:>10}"
                         f"{v['completion_tokens']:>9}{v['cost']:>11.4f}")
        return "\n".join(lines)
