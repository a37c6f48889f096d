"""One config mechanism for every command: typed dataclasses filled from a YAML mapping.

:func:`from_mapping` checks each key against the dataclass's fields and each value against its type
hint (``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, ``X | None``, ``dict``/``list``, nested
dataclasses), and rejects unknown keys and wrong types with one line naming ``file: key``. Range and
cross-field checks stay with each config (they are about meaning, not type). Used by the run config
(``viddiff_method/config.py``) and the LLM config (``viddiff_runtime/llm/config.py``).
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from schemas.errors import ToolkitError

T = TypeVar("T")
_SCALARS: dict[type, tuple[type, ...]] = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}


def from_mapping(cls: type[T], data: Any, *, file: str | None = None, prefix: str = "") -> T:
    """An instance of dataclass ``cls`` from ``data``; unknown keys and wrong types are one-line errors."""
    if not isinstance(data, dict):
        raise ToolkitError("expected a mapping", file=file, key=prefix.rstrip(".") or "$")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if not isinstance(k, str):
            raise ToolkitError("setting names must be strings", file=file, key=str(k))
        if k not in known:
            raise ToolkitError(f"unknown setting; known here: {', '.join(sorted(known))}", file=file, key=key)
        kwargs[k] = coerce(hints[k], v, file=file, key=key)
    return cls(**kwargs)


def coerce(hint: Any, value: Any, *, file: str | None, key: str) -> Any:
    """``value`` checked against type ``hint`` (ints widen to float); a mismatch names ``file: key``."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise ToolkitError("must not be null", file=file, key=key)
        options = [a for a in args if a is not type(None)]
        errors = []
        for a in options:
            try:
                return coerce(a, value, file=file, key=key)
            except ToolkitError as e:
                errors.append(e)
        raise (
            errors[0]
            if len(options) == 1
            else ToolkitError(
                f"expected {' or '.join(_name(a) for a in options)}, got {type(value).__name__}",
                file=file,
                key=key,
            )
        )
    if value is None:
        raise ToolkitError("must not be null", file=file, key=key)
    if origin is Literal:
        if value not in args:
            raise ToolkitError(
                f"must be one of {', '.join(map(str, args))}, got {value!r}", file=file, key=key
            )
        return value
    if is_dataclass(hint):
        return from_mapping(hint, value, file=file, prefix=key + ".")
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ToolkitError("expected a mapping", file=file, key=key)
        return dict(value)
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ToolkitError("expected a list", file=file, key=key)
        return list(value)
    if hint in _SCALARS:
        if not isinstance(value, _SCALARS[hint]) or (hint is not bool and isinstance(value, bool)):
            raise ToolkitError(f"expected {hint.__name__}, got {type(value).__name__}", file=file, key=key)
        return float(value) if hint is float else value
    return value  # Any and other hints: taken as given


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
