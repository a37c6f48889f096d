"""How an LLM call fails: the error classes, and which server errors are transient (retried with backoff)
or refusals that a retry cannot change (images, unknown model, unsupported field)."""

from __future__ import annotations

import json
import re

import openai

from schemas.errors import ToolkitError
from schemas.redact import redact


class LLMError(ToolkitError):
    """An LLM call failed for good: invalid answers after the retries, or a non-retryable API error."""


class BudgetExceeded(ToolkitError):
    """The next call would exceed ``max_cost``; nothing was sent. Valid answers so far are cached."""

    exit_code = 3


_IMAGE_RE = re.compile(
    r"image|vision|mmproj|multimodal|multi-modal|can only concatenate str \(not \"list\"\)", re.IGNORECASE
)
_MODEL_RE = re.compile(
    r"\bmodel\b[^.]{0,80}\b(not found|does not exist|unknown|not served|not available|not loaded)"
    r"|unknown model|no such model|model_not_found",
    re.IGNORECASE,
)
_FORMAT_RE = re.compile(
    r"response_format|json_schema|json schema|structured output|validation error|"
    r"unsupported (field|parameter|value)|extra (fields|inputs) not permitted|"
    r"unrecognized request argument",
    re.IGNORECASE,
)
_HINTS = {
    "image": "this endpoint does not accept images: serve a vision model (llama.cpp: pass --mmproj) or use a "
    "text-only method",
    "format": "this server refuses the structured-output request; use structured_output: auto (json_schema, then "
    "json_object with the schema, then the schema in the prompt) or set one that it accepts",
    "model": "the server does not serve this model; set models.<role> (or --model) to a model it lists at "
    "GET /v1/models",
    "request": "the server refused the request as sent; retrying cannot change that",
}


def _refusal_kind(exc: BaseException, n_images: int) -> str | None:
    """Why a server error will not change on retry (image / model / format / request), else None."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code in (401, 403, 408, 409, 429):
        return None
    msg = _error_message(exc)
    if n_images and _IMAGE_RE.search(msg):
        return "image"
    if _MODEL_RE.search(msg):
        return "model"
    if _FORMAT_RE.search(msg):
        return "format"
    if 400 <= exc.status_code < 500:
        return "request"
    return None


def _is_transient(exc: BaseException, n_images: int = 0) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        if _refusal_kind(exc, n_images) is not None:
            return False
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


class _Refused(Exception):
    """A server refusal that retrying will not change (internal: turned into an :class:`LLMError`)."""

    def __init__(self, kind: str, status: int, message: str):
        super().__init__(message)
        self.kind, self.status, self.message = kind, status, message


def _error_message(e: openai.APIStatusError) -> str:
    """The server's whole error message on one line (secrets redacted), capped at 1500 characters."""
    body = getattr(e, "body", None)
    text = None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            text = str(inner["message"])
        elif isinstance(body.get("detail"), (str, list)):
            text = json.dumps(body["detail"]) if isinstance(body["detail"], list) else body["detail"]
    elif isinstance(body, str) and body.strip():
        text = body
    text = " | ".join(line.strip() for line in (text or str(e)).splitlines() if line.strip())
    return redact(text)[:1500]


__all__ = ["BudgetExceeded", "LLMError"]
