"""Thin helpers over the shared LLM client: build it from the run config, run many requests tolerantly.

``complete_all`` differs from ``LLMClient.complete_many`` in one way the method needs: a request whose
answers stay invalid after the client's retries gives ``None`` (reported) instead of aborting every
other request of the run. A budget stop still stops everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from viddiff_method.config import RunConfig
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.config import LLMConfig
from viddiff_runtime.llm.errors import BudgetExceeded, LLMError
from viddiff_runtime.llm.request import LLMRequest

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "The images come from a public machine-learning research dataset of videos of people performing "
    "actions. They are used only to test a model's ability to compare how actions are performed."
)


def make_client(cfg: RunConfig, cache_path: str | Path | None) -> LLMClient:
    """An :class:`LLMClient` for the run's ``llm`` settings (the same LLM config every command reads),
    caching in ``cache_path`` (None: no cache)."""
    llm = LLMConfig.from_run_settings(asdict(cfg.llm))
    llm.cache_path = str(cache_path) if cache_path else None
    return LLMClient(llm)


def complete_all(
    client: LLMClient,
    reqs: Sequence[LLMRequest],
    errors: list[str] | None = None,
) -> list[dict[str, Any] | None]:
    """Answers in input order; a request that fails for good yields ``None`` and a line in ``errors``."""
    reqs = list(reqs)
    if not reqs:
        return []

    def one(req: LLMRequest):
        try:
            return client.complete(req)
        except BudgetExceeded:
            raise
        except LLMError as e:
            log.warning("%s", e)
            if errors is not None:
                errors.append(f"{req.stage}: {e}")
            return None

    if len(reqs) == 1:
        return [one(reqs[0])]
    with ThreadPoolExecutor(
        max_workers=max(1, client.config.max_concurrency), thread_name_prefix="viddiff"
    ) as pool:
        return list(pool.map(one, reqs))
