"""Connect to a Label Studio server through ``label-studio-sdk`` and turn its errors into one line.

The client reads ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``; the API key is registered as a secret
so it never reaches a message.
"""

from __future__ import annotations

import contextlib
import json
import os

from schemas.errors import ToolkitError
from schemas.redact import register_secret


def connect(url: str | None = None, api_key: str | None = None):
    """A ``LabelStudio`` client from arguments or ``LABEL_STUDIO_URL`` / ``LABEL_STUDIO_API_KEY``; checked."""
    from label_studio_sdk import LabelStudio
    from label_studio_sdk.core.api_error import ApiError

    url = url or os.environ.get("LABEL_STUDIO_URL")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not url or not api_key:
        raise ToolkitError(
            "set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (printed by `curate annotate serve`)",
            key="LABEL_STUDIO_URL" if not url else "LABEL_STUDIO_API_KEY",
        )
    register_secret(api_key)
    ls = LabelStudio(base_url=url.rstrip("/"), api_key=api_key)
    try:
        ls.users.whoami()
    except ApiError as e:
        raise ToolkitError(
            f"Label Studio refused the API key (HTTP {e.status_code})", key="LABEL_STUDIO_API_KEY"
        ) from None
    except Exception as e:  # httpx connection errors
        raise ToolkitError(
            f"cannot reach Label Studio at {url}: {type(e).__name__}", key="LABEL_STUDIO_URL"
        ) from None
    return ls


def _api_detail(e) -> str:
    """The useful part of an SDK ``ApiError`` (status and the body's message), never its HTTP headers."""
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        text = json.dumps(body.get("validation_errors") or body.get("detail") or body, ensure_ascii=False)
    else:
        text = str(body)
    text = " ".join(text.split())[:300]
    status = getattr(e, "status_code", None)
    return f"HTTP {status}: {text}" if status else text


@contextlib.contextmanager
def api_errors(what: str, **where):
    """Turn a Label Studio ``ApiError`` raised inside the block into one ToolkitError line (no headers)."""
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as e:
        raise ToolkitError(f"Label Studio refused to {what}: {_api_detail(e)}", **where) from None
