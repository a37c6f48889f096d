"""A model's answer: parse the JSON out of it and list every way it fails the request's JSON Schema."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import jsonschema

from schemas.errors import ToolkitError


def parse_json_answer(content: str) -> Any:
    """Parse a model's JSON answer, tolerating code fences and prose around one JSON object."""
    text = (content or "").strip()
    fence = re.match(r"^```(?:json|JSON)?\s*(.*?)\s*```$", text, re.DOTALL)
    if fence:
        text = fence.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(text[start : end + 1])
            except json.JSONDecodeError:
                pass
        raise ValueError(f"not valid JSON ({first.msg} at char {first.pos})") from None


@lru_cache(maxsize=256)
def _validator_for(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ToolkitError(f"the request's JSON Schema is invalid: {e.message}") from None
    return cls(schema)


def schema_errors(schema: dict[str, Any], obj: Any) -> list[str]:
    """Every way ``obj`` fails ``schema``, as ``"$.path: message"`` strings (empty = valid)."""
    v = _validator_for(json.dumps(schema, sort_keys=True))
    out = []
    for err in sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append(f"{path}: {err.message[:200]}")
    return out


__all__ = ["parse_json_answer", "schema_errors"]
