"""The LLM/VLM client every part of the toolkit uses: any OpenAI-compatible endpoint via ``openai``.

One request = (stage, model, prompt, optional system prompt and images, JSON Schema). The client
asks for structured output; ``auto`` (the default) finds per endpoint + model what the server takes
(``json_schema``, then ``json_object`` with the schema, then ``none``: the schema in the prompt), falls
back on a refusal or an ignored ``response_format`` and remembers the decision in the cache. It
validates every answer with jsonschema, retries an invalid answer by telling the model what was
wrong, backs off on 429/5xx/timeouts (tenacity) but never retries a refusal that cannot change
(images, unknown model, unsupported field), recognises cut-off answers (``finish_reason: length``)
and images the server did not read, caches valid answers in SQLite under the hash of the canonical
request (one cache shared by every command, see :func:`default_cache_dir`), runs batches in a bounded
thread pool, and accounts tokens and cost per stage with a hard budget. The API key is read from the environment at call time and is never
logged, cached or written anywhere.

Its parts live beside it, one job each: the settings in ``config``, the request and its preparation in
``request``, images in ``images``, parsing and validating answers in ``answers``, errors and their
classification in ``errors``, the HTTP call and its retries in ``transport``, the structured-output mode per
endpoint in ``modes`` and the budget in ``budget``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

import openai

from schemas.errors import ToolkitError
from viddiff_runtime.llm.answers import parse_json_answer, schema_errors
from viddiff_runtime.llm.budget import BudgetMixin
from viddiff_runtime.llm.cache import SQLiteCache
from viddiff_runtime.llm.config import STRUCTURED_OUTPUT_CHOICES, LLMConfig
from viddiff_runtime.llm.errors import _HINTS, BudgetExceeded, LLMError, _Refused
from viddiff_runtime.llm.modes import ModesMixin
from viddiff_runtime.llm.request import LLMRequest, PreparationMixin, _Prepared
from viddiff_runtime.llm.transport import TransportMixin, _Reply
from viddiff_runtime.llm.usage import Usage

log = logging.getLogger(__name__)

#: Model names the toolkit uses when the user names none; against a custom base_url they are replaced by the
#: single model the server serves (``GET /v1/models``).
BUILTIN_MODELS = frozenset({"gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4o-2024-05-13"})
#: Fewest prompt tokens an image that was read adds (OpenAI: 85 at low detail; transformers serve: 0).
MIN_IMAGE_TOKENS = 16


class LLMClient(PreparationMixin, ModesMixin, BudgetMixin, TransportMixin):
    """Structured, cached, budgeted calls to an OpenAI-compatible chat endpoint."""

    def __init__(self, config: LLMConfig | None = None):
        self.config = config or LLMConfig()
        if self.config.structured_output not in STRUCTURED_OUTPUT_CHOICES:
            raise ToolkitError(f"must be {', '.join(STRUCTURED_OUTPUT_CHOICES)}", key="structured_output")
        self.cache = SQLiteCache(self.config.cache_path) if self.config.cache_path else None
        self._usage = Usage()
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._completion_seen: list[int] = []
        self._client: openai.OpenAI | None = None
        self._key_locks: dict[str, threading.Lock] = {}
        self._failed: dict[str, BaseException] = {}  # request key -> the failure its in-flight twins share
        self._memo: dict[str, dict[str, Any]] = {}  # answers of this client when there is no cache
        self._modes: dict[str, tuple[str, bool]] = {}  # endpoint|model -> (mode, confirmed by a valid answer)
        self._images_ok: set[str] = set()
        self._served: list[str] | bool | None = False  # False: not asked yet
        self._substituted: dict[str, str] = {}
        self.reported_models: dict[str, str] = {}  # model asked for -> model the server says answered

    # -- public -------------------------------------------------------------------------------
    @property
    def usage(self) -> Usage:
        """Calls, cache hits, tokens and cost per stage since this client was made."""
        return self._usage

    @property
    def base_url(self) -> str | None:
        """The endpoint: config, else ``OPENAI_BASE_URL``, else the openai package default."""
        return self.config.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def endpoint_report(self) -> dict[str, Any]:
        """What was learnt about the endpoint: structured-output mode per model, the models the server
        reported, and default model names replaced by the served one (for usage.json and results)."""
        with self._lock:
            modes = {k.split("|", 1)[1]: m for k, (m, _) in sorted(self._modes.items())}
            return {
                "base_url": self.base_url,
                "structured_output": modes,
                "served_models": dict(sorted(self.reported_models.items())),
                "default_model_replaced": dict(sorted(self._substituted.items())),
            }

    def request_key(self, req: LLMRequest) -> str:
        """sha256 of the canonical request (model, system, prompt, image hashes, schema, sampling)."""
        return self._prepare(self._resolved(req)).key

    def complete(self, req: LLMRequest) -> dict[str, Any]:
        """Return the validated JSON answer to ``req`` (from the cache when it is there).

        Identical requests in flight at once (threads) make one call: the others wait, then take its
        answer, or its failure (they are not sent again).
        """
        req = self._resolved(req)
        prep = self._prepare(req)
        hit = self._cached(req, prep)
        if hit is not None:
            return hit
        with self._lock:
            key_lock = self._key_locks.setdefault(prep.key, threading.Lock())
        with key_lock:
            failed = self._failed.get(prep.key)
            if failed is not None:
                raise failed
            hit = self._cached(req, prep)
            if hit is not None:
                return hit
            try:
                answer = self._complete_uncached(req, prep)
            except (LLMError, BudgetExceeded) as e:
                self._failed[prep.key] = e
                raise
            if self.cache is None:
                self._memo[prep.key] = answer
            return answer

    def _cached(self, req: LLMRequest, prep: _Prepared) -> dict[str, Any] | None:
        hit = self.cache.get(prep.key) if self.cache is not None else self._memo.get(prep.key)
        if hit is not None and not schema_errors(req.schema, hit):
            self._usage.record(req.stage, cache_hits=1)
            log.debug("cache hit %s %s", req.stage, prep.key[:16])
            return hit
        return None

    # -- model names --------------------------------------------------------------------------
    def served_models(self) -> list[str] | None:
        """The model ids ``GET /v1/models`` lists (None when the endpoint does not answer it)."""
        with self._lock:
            if self._served is not False:
                return self._served  # type: ignore[return-value]
        try:
            served: list[str] | None = sorted(m.id for m in self._openai().models.list())
        except (openai.APIError, ValueError, TypeError, AttributeError) as e:
            log.info(
                "GET /v1/models at %s failed (%s); model names are sent as configured",
                self.base_url,
                type(e).__name__,
            )
            served = None
        with self._lock:
            self._served = served
        return served

    def _resolved(self, req: LLMRequest) -> LLMRequest:
        """``req`` with a built-in default model name replaced by the one model a custom endpoint serves."""
        url = self.base_url
        if req.model not in BUILTIN_MODELS or not url or "api.openai.com" in url:
            return req
        with self._lock:
            sub = self._substituted.get(req.model)
        if sub is None:
            served = self.served_models()
            if not served or req.model in served:
                return req
            if len(served) > 1:
                raise ToolkitError(
                    f"no model is configured for {url}, which serves {len(served)} models: "
                    f"{', '.join(served)}; name one in the LLM config's models (or --model)",
                    key=f"stage {req.stage}",
                )
            sub = served[0]
            log.warning(
                "no model configured: using %s, the one model %s serves (instead of %s)", sub, url, req.model
            )
            with self._lock:
                self._substituted[req.model] = sub
        return replace(req, model=sub)

    # -- one request, all its attempts ---------------------------------------------------------
    def _complete_uncached(self, req: LLMRequest, prep: _Prepared) -> dict[str, Any]:
        where = f"stage {req.stage}, request {prep.key[:16]}"
        cfg = self.config
        messages = list(prep.messages)
        attempts = 1 + max(0, cfg.max_invalid_retries)
        invalid = 0
        max_tokens = prep.max_tokens
        longer_tried = False
        problem = ""
        mode, confirmed = self._mode(req.model)
        while True:
            try:
                reply = self._call_budgeted(req, prep, messages, where, mode, max_tokens)
            except _Refused as r:
                nxt = self._next_mode(mode)
                if r.kind == "format" and cfg.structured_output == "auto" and nxt and not confirmed:
                    self._set_mode(req.model, nxt, False, f"HTTP {r.status} refused {mode}: {r.message}")
                    mode = nxt
                    continue
                raise LLMError(
                    f"HTTP {r.status} from {self.base_url or 'default endpoint'} (not retried; "
                    f"structured_output {mode}): {r.message} -- {_HINTS[r.kind]}",
                    key=where,
                ) from None
            if reply.finish_reason == "length":
                limit = f"max_tokens={max_tokens}" if max_tokens else "the server's default output limit"
                if cfg.max_tokens_retry and not longer_tried and (max_tokens or 0) < cfg.max_tokens_retry:
                    longer_tried = True
                    log.info(
                        "%s: the answer was cut off at %s; asking once more with max_tokens=%d",
                        where,
                        limit,
                        cfg.max_tokens_retry,
                    )
                    max_tokens = cfg.max_tokens_retry
                    continue
                more = "" if longer_tried else " or set max_tokens_retry to a larger limit"
                raise LLMError(
                    f"the answer was cut off: it hit {limit} (finish_reason: length) after "
                    f"{reply.completion_tokens} tokens; raise max_tokens{more}",
                    key=where,
                )
            if prep.n_images:
                self._verify_images(req, prep, messages, reply, where, mode)
            try:
                answer = parse_json_answer(reply.content)
                errs = (
                    ["$: the answer must be a JSON object"]
                    if not isinstance(answer, dict)
                    else schema_errors(req.schema, answer)
                )
                if errs:
                    raise ValueError(
                        "; ".join(errs[:3]) + (f" (and {len(errs) - 3} more)" if len(errs) > 3 else "")
                    )
            except ValueError as e:
                problem = str(e)
                nxt = self._next_mode(mode)
                not_json = problem.startswith(("not valid JSON", "$: the answer must be"))
                if (
                    cfg.structured_output == "auto"
                    and nxt
                    and not confirmed
                    and (mode == "json_schema" or not_json)
                ):
                    # HTTP 200 but not what response_format asked for: the server ignored it
                    self._set_mode(
                        req.model, nxt, False, f"answer in {mode} mode did not follow the schema ({problem})"
                    )
                    mode = nxt
                    continue
                invalid += 1
                log.info("%s: invalid answer (attempt %d of %d): %s", where, invalid, attempts, problem)
                if invalid >= attempts:
                    break
                messages = list(prep.messages) + [
                    {"role": "assistant", "content": reply.content[:4000]},
                    {
                        "role": "user",
                        "content": f"That answer was invalid: {problem}. Reply again with only a JSON "
                        f"object that matches the schema.",
                    },
                ]
                continue
            if not confirmed:
                self._set_mode(req.model, mode, True)
                confirmed = True
            with self._lock:  # a fixed mode is recorded too (usage.json, results)
                self._modes.setdefault(self._mode_key(req.model), (mode, True))
            if reply.model:
                with self._lock:
                    self.reported_models[req.model] = reply.model
            if self.cache is not None:
                self.cache.put(
                    prep.key,
                    answer,
                    stage=req.stage,
                    model=reply.model or req.model,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                )
            return answer
        raise LLMError(
            f"invalid answer after {attempts} attempts (structured_output {mode}): {problem}", key=where
        )

    def _verify_images(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        reply: _Reply,
        where: str,
        mode: str,
    ) -> None:
        """Fail when the server's prompt token count shows the images were not read.

        A count that leaves less than ``MIN_IMAGE_TOKENS`` per image above a generous text-only estimate is
        checked once per endpoint + model against the same request without its images.
        """
        mk = self._mode_key(req.model)
        if mk in self._images_ok or reply.prompt_tokens <= 0:
            return
        chars = sum(
            len(m["content"])
            if isinstance(m["content"], str)
            else sum(len(p.get("text", "")) for p in m["content"])
            for m in messages
        )
        if reply.prompt_tokens > chars / 2.5 + MIN_IMAGE_TOKENS * prep.n_images:
            self._images_ok.add(mk)
            return
        text_only = [
            m
            if isinstance(m["content"], str)
            else {
                **m,
                "content": "\n".join(p.get("text", "") for p in m["content"] if p.get("type") == "text"),
            }
            for m in messages
        ]
        probe = self._call(req, prep, text_only, where + " (image check)", mode, 1)
        if (
            probe.prompt_tokens
            and reply.prompt_tokens - probe.prompt_tokens < MIN_IMAGE_TOKENS * prep.n_images
        ):
            raise LLMError(
                f"the endpoint did not read the {prep.n_images} image(s): the request counted "
                f"{reply.prompt_tokens} prompt tokens, the same text without images "
                f"{probe.prompt_tokens} -- this endpoint does not accept images (transformers serve "
                f"drops them): serve a vision model or use a text-only method",
                key=where,
            )
        self._images_ok.add(mk)

    def complete_many(
        self, reqs: Sequence[LLMRequest], *, progress: str | None = None
    ) -> list[dict[str, Any]]:
        """Run ``reqs`` in a pool of ``max_concurrency`` threads; answers in input order.

        The first failure (or a budget stop) cancels what has not started and is raised; answers that
        already succeeded are cached, so a rerun resumes where this one stopped.
        """
        from tqdm.auto import tqdm

        reqs = list(reqs)
        results: list[dict[str, Any] | None] = [None] * len(reqs)
        if not reqs:
            return []
        bar = tqdm(total=len(reqs), desc=progress or "llm", disable=progress is None, unit="call")
        pool = ThreadPoolExecutor(max_workers=max(1, self.config.max_concurrency), thread_name_prefix="llm")
        try:
            futures = {pool.submit(self.complete, r): i for i, r in enumerate(reqs)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    exc = f.exception()
                    if exc is not None:
                        for p in pending:
                            p.cancel()
                        raise exc
                    results[futures[f]] = f.result()
                    bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        return results  # type: ignore[return-value]


__all__ = ["BUILTIN_MODELS", "LLMClient"]
