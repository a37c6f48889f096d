"""One LLM request and its preparation: sampling defaults, encoded images, the cache key of the canonical
request, and the chat messages (the schema in the prompt unless the server enforces it)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.errors import ToolkitError
from viddiff_runtime.llm.images import ImageLike, encode_image


@dataclass
class LLMRequest:
    """One structured LLM/VLM call. ``schema`` is the JSON Schema the answer must satisfy."""

    stage: str
    model: str
    prompt: str
    schema: dict[str, Any]
    schema_name: str = "answer"
    system: str | None = None
    images: Sequence[ImageLike] = ()
    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    top_p: float | None = None  # sent (and part of the cache key) only when set


@dataclass
class _Prepared:
    key: str
    messages: list[dict[str, Any]]
    temperature: float | None
    seed: int | None
    max_tokens: int | None
    n_images: int
    top_p: float | None = None


def _schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "\n\nReply with only a JSON object (no prose, no code fences) that matches this JSON Schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )


class PreparationMixin:
    """:meth:`_prepare` of :class:`~viddiff_runtime.llm.client.LLMClient` (reads ``self.config``)."""

    def _prepare(self, req: LLMRequest) -> _Prepared:
        if not isinstance(req.schema, dict):
            raise ToolkitError("request schema must be a JSON Schema object", key=f"stage {req.stage}")
        cfg = self.config
        temperature = req.temperature if req.temperature is not None else cfg.temperature
        seed = req.seed if req.seed is not None else cfg.seed
        max_tokens = req.max_tokens if req.max_tokens is not None else cfg.max_tokens
        encoded = [encode_image(im, cfg.image_format) for im in req.images]
        hashes = [hashlib.sha256(data).hexdigest() for data, _ in encoded]
        canonical = {
            "model": req.model,
            "system": req.system,
            "prompt": req.prompt,
            "images": hashes,
            "schema": req.schema,
            "schema_name": req.schema_name,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": max_tokens,
        }
        if req.top_p is not None:  # only when set, so existing cache keys stay valid
            canonical["top_p"] = req.top_p
        key = hashlib.sha256(
            json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        text = (
            req.prompt
            if cfg.structured_output == "json_schema"
            else req.prompt + _schema_instruction(req.schema)
        )
        messages: list[dict[str, Any]] = []
        if req.system:
            messages.append({"role": "system", "content": req.system})
        if encoded:
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
            for data, mime in encoded:
                url = {"url": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"}
                if cfg.image_detail:
                    url["detail"] = cfg.image_detail
                parts.append({"type": "image_url", "image_url": url})
            messages.append({"role": "user", "content": parts})
        else:
            messages.append({"role": "user", "content": text})
        return _Prepared(key, messages, temperature, seed, max_tokens, len(encoded), req.top_p)


__all__ = ["LLMRequest"]
