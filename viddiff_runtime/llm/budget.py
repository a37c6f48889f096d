"""Cost per call from the configured prices, and the hard ``max_cost`` budget checked before each call."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from viddiff_runtime.llm.errors import BudgetExceeded
from viddiff_runtime.llm.request import LLMRequest, _Prepared
from viddiff_runtime.llm.transport import _Reply

#: Rough prompt-token charge per image, used only to estimate a call's cost for the budget check.
IMAGE_TOKENS_ESTIMATE = 765
#: Completion tokens assumed for the budget check before any call has been observed.
DEFAULT_COMPLETION_ESTIMATE = 256


class BudgetMixin:
    """Prices and budget of :class:`~viddiff_runtime.llm.client.LLMClient` (``self._usage``, ``self._reserved``)."""

    def _price(self, model: str) -> dict[str, float] | None:
        return self.config.prices.get(model)

    def _cost(self, model: str, pt: int, ct: int) -> float:
        p = self._price(model)
        if not p:
            return 0.0
        return (pt * float(p.get("prompt", 0.0)) + ct * float(p.get("completion", 0.0))) / 1e6

    def _estimate(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        mode: str,
        max_tokens: int | None,
    ) -> float:
        chars = 0
        for m in messages:
            c = m["content"]
            chars += len(c) if isinstance(c, str) else sum(len(p.get("text", "")) for p in c)
        if mode != "none":
            chars += len(json.dumps(req.schema))
        pt = chars // 4 + IMAGE_TOKENS_ESTIMATE * prep.n_images
        with self._lock:
            seen = list(self._completion_seen)
        ct = max_tokens or (int(np.mean(seen)) if seen else DEFAULT_COMPLETION_ESTIMATE)
        return self._cost(req.model, pt, ct)

    def _call_budgeted(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        where: str,
        mode: str,
        max_tokens: int | None,
    ) -> _Reply:
        max_cost = self.config.max_cost
        estimate = 0.0
        if max_cost is not None:
            if not self._price(req.model):
                raise BudgetExceeded(
                    f"max_cost is set but prices has no entry for model {req.model!r}, so the "
                    f"budget cannot be checked",
                    key="prices",
                )
            estimate = self._estimate(req, prep, messages, mode, max_tokens)
            with self._lock:
                spent = self._usage.cost
                if spent + self._reserved + estimate > max_cost:
                    raise BudgetExceeded(
                        f"stopped before this call: spent {spent:.4f} + in flight {self._reserved:.4f} + estimated "
                        f"{estimate:.4f} would exceed max_cost {max_cost:g}; valid answers so far are cached, "
                        f"rerun with a higher --max-cost to continue",
                        key=where,
                    )
                self._reserved += estimate
        try:
            return self._call(req, prep, messages, where, mode, max_tokens)
        finally:
            if max_cost is not None:
                with self._lock:
                    self._reserved -= estimate


__all__ = ["DEFAULT_COMPLETION_ESTIMATE", "IMAGE_TOKENS_ESTIMATE"]
