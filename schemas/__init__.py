"""JSON Schemas for every file the toolkit reads or writes, and one ``validate()`` helper.

This package is the bottom of the dependency graph: every other package may import it, it imports none
of them. Besides the schemas it holds the few data-contract helpers every package shares: the
user-facing error type (:mod:`schemas.errors`), atomic JSON/JSONL I/O (:mod:`schemas.io`) and the
dataset directory (:mod:`schemas.dataset_dir`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from schemas.errors import SchemaError, ToolkitError

__all__ = ["SchemaError", "ToolkitError", "check", "list_kinds", "load_schema", "toolkit_version", "validate"]


def toolkit_version() -> str:
    """The installed viddiff-toolkit version, recorded in every file the toolkit writes about its own
    work ("0+unknown" when run from a bare checkout that was never installed)."""
    from importlib import metadata

    try:
        return metadata.version("viddiff-toolkit")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@cache
def load_schema(kind: str) -> dict[str, Any]:
    """Return the JSON Schema named ``<kind>.schema.json`` shipped in this package."""
    try:
        text = resources.files("schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")
    except FileNotFoundError:
        raise ToolkitError(f"unknown schema kind {kind!r}; known: {', '.join(list_kinds())}") from None
    return json.loads(text)


def list_kinds() -> list[str]:
    """All schema kinds shipped (file stems without ``.schema.json``)."""
    return sorted(
        p.name[: -len(".schema.json")]
        for p in resources.files("schemas").iterdir()
        if p.name.endswith(".schema.json")
    )


@cache
def _fast_validator(kind: str) -> Any:
    """A compiled ``jsonschema_rs`` validator for ``kind`` (None when that package is missing).

    It only answers "valid?": about 50x faster than ``jsonschema`` on dataset rows, and every error
    message still comes from ``jsonschema`` (:func:`validate`), so messages do not depend on it.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - optional speed-up
        return None
    return jsonschema_rs.validator_for(load_schema(kind))


@cache
def _validator(kind: str) -> Any:
    import jsonschema  # imported on first use: it is a tenth of a second of every command's start-up

    schema = load_schema(kind)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _json_path(path) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validate(kind: str, obj: Any) -> list[tuple[str, str]]:
    """Validate ``obj`` against the ``kind`` schema; return every error as ``(json_path, message)``.

    An empty list means valid. Errors are sorted by path so reports are stable.
    """
    fast = _fast_validator(kind)
    if fast is not None and fast.is_valid(obj):
        return []
    errors = []
    for err in _validator(kind).iter_errors(obj):
        msg = err.message
        if len(msg) > 200:
            msg = msg[:197] + "..."
        errors.append((_json_path(err.absolute_path), msg))
    return sorted(errors)


def check(kind: str, obj: Any, *, file: str | None = None, prefix: str = "") -> None:
    """Raise :class:`SchemaError` (one line, naming file and JSON path) when ``obj`` is invalid."""
    errors = validate(kind, obj)
    if errors:
        if prefix:
            errors = [(prefix + p[1:], m) for p, m in errors]
        raise SchemaError(kind, errors, file=file)
