"""One chat-completions call through the ``openai`` package: the request's structured-output fields, backoff
on transient errors (honouring Retry-After), server errors turned into :class:`LLMError`, tokens recorded."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import openai
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from viddiff_runtime.llm.errors import LLMError, _error_message, _is_transient, _refusal_kind, _Refused
from viddiff_runtime.llm.request import LLMRequest, _Prepared

#: The client's logger: its parts log under one name, so log lines read as they did before the split.
log = logging.getLogger("viddiff_runtime.llm.client")


@dataclass
class _Reply:
    content: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    model: str | None


class _BackoffWait:
    """Exponential backoff with jitter, honouring a server's Retry-After (capped at ``cap``)."""

    def __init__(self, initial: float, cap: float):
        self.exp = wait_exponential_jitter(initial=initial, max=cap, jitter=initial)
        self.cap = cap

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        resp = getattr(exc, "response", None)
        if resp is not None:
            for header, div in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
                val = resp.headers.get(header)
                try:
                    if val is not None:
                        return min(max(float(val) / div, 0.0), self.cap)
                except ValueError:
                    pass
        return self.exp(retry_state)


class TransportMixin:
    """The HTTP side of :class:`~viddiff_runtime.llm.client.LLMClient` (``self.config``, ``self._client``)."""

    def _openai(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                key = os.environ.get(self.config.api_key_env)
                if not key:
                    log.info(
                        "%s is not set; calling %s without an API key",
                        self.config.api_key_env,
                        self.base_url or "the default endpoint",
                    )
                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=key or "no-key",
                    timeout=self.config.timeout_s,
                    max_retries=0,
                )
            return self._client

    def _call(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        where: str,
        mode: str,
        max_tokens: int | None,
    ) -> _Reply:
        cfg = self.config
        kwargs: dict[str, Any] = {"model": req.model, "messages": messages}
        if prep.temperature is not None:
            kwargs["temperature"] = prep.temperature
        if prep.seed is not None:
            kwargs["seed"] = prep.seed
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if prep.top_p is not None:
            kwargs["top_p"] = prep.top_p
        if mode == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", req.schema_name)[:64] or "answer"
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": req.schema, "strict": cfg.strict_schema},
            }
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
            if cfg.json_object_schema or cfg.structured_output == "auto":
                kwargs["response_format"]["schema"] = req.schema
        client = self._openai()
        retrying = Retrying(
            stop=stop_after_attempt(1 + max(0, cfg.max_retries)),
            wait=_BackoffWait(cfg.backoff_initial_s, cfg.backoff_max_s),
            retry=retry_if_exception(lambda e: _is_transient(e, prep.n_images)),
            reraise=True,
            before_sleep=lambda rs: log.info(
                "%s: %s; retrying (attempt %d)",
                where,
                type(rs.outcome.exception()).__name__,
                rs.attempt_number + 1,
            ),
        )
        try:
            resp = retrying(client.chat.completions.create, **kwargs)
        except openai.AuthenticationError as e:
            raise LLMError(
                f"HTTP {e.status_code} authentication failed at {self.base_url or 'default endpoint'}: "
                f"{_error_message(e)} -- check the environment variable {cfg.api_key_env}",
                key=where,
            ) from None
        except openai.APIStatusError as e:
            kind = _refusal_kind(e, prep.n_images)
            if kind is not None:
                raise _Refused(kind, e.status_code, _error_message(e)) from None
            raise LLMError(
                f"HTTP {e.status_code} from {self.base_url or 'default endpoint'} after "
                f"{1 + cfg.max_retries} attempts: {_error_message(e)}",
                key=where,
            ) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            raise LLMError(
                f"{type(e).__name__} reaching {self.base_url or 'default endpoint'} after "
                f"{1 + cfg.max_retries} attempts",
                key=where,
            ) from None
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        self._usage.record(
            req.stage, calls=1, prompt_tokens=pt, completion_tokens=ct, cost=self._cost(req.model, pt, ct)
        )
        with self._lock:
            self._completion_seen.append(ct)
        choices = getattr(resp, "choices", None) or []
        first = choices[0] if choices else None
        content = (first.message.content if first is not None and first.message else None) or ""
        return _Reply(
            content, pt, ct, getattr(first, "finish_reason", None), getattr(resp, "model", None) or None
        )
