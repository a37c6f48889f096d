"""The LLM judge: matching and opposite calls through the toolkit's LLM client, as a judge protocol says.

The prompts, their sha256 and the sampling settings are written into the results;
``comparable_to_published`` is true only for the published protocol with the published judge models.
"""

from __future__ import annotations

import json
from typing import Any

from eval.judges.base import MatchTask, sha256_text
from eval.judges.protocol import CALLS, JudgeProtocol, comparability, load_protocol
from schemas.dataset_dir import diff_key_order
from schemas.errors import ToolkitError

OPPOSITE_BATCH = 6


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
            "prompts_sha256": {c: sha256_text(t) for c, t in prompts.items()},
            "schemas": {c: self.protocol.call(c)["answer_schema"] for c in CALLS},
        }
