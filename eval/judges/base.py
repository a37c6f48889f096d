"""What every open-set judge is (:class:`Judge`) and the pieces the judges share."""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

#: one sample to match: (action description, ground truth {key: text}, prediction {key: text})
MatchTask = tuple[str, dict[str, str], dict[str, str]]


class Judge(Protocol):
    """What :func:`eval.protocols.open.score_open` needs from a judge."""

    comparable_to_published: bool

    def match_many(self, tasks: list[MatchTask]) -> list[list[tuple[str, str | None]]]:
        """Per task, proposed ``(gt_key, pred_key or None)`` pairs; may be imperfect (caller repairs)."""

    def opposites(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """For each ``(gt statement, predicted statement)``: are they direct opposites?"""

    def describe(self) -> dict[str, Any]:
        """Everything needed to reproduce the judge's decisions (models, prompts, seed, thresholds)."""


def sha256_text(text: str) -> str:
    """The sha256 of a prompt or setting as results record it (so a reader can tell two runs' judges apart)."""
    return hashlib.sha256(text.encode()).hexdigest()
