"""The one config mechanism: typed dataclasses, unknown keys and wrong types named by file and key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from schemas.errors import ToolkitError
from schemas.settings import from_mapping


@dataclass
class Inner:
    size: int = 1
    name: str | None = None


@dataclass
class Outer:
    rate: float = 1.0
    mode: Literal["a", "b"] = "a"
    flag: bool = False
    inner: Inner = field(default_factory=Inner)
    table: dict[str, float] = field(default_factory=dict)


def test_values_are_typed_and_ints_widen_to_float():
    cfg = from_mapping(Outer, {"rate": 2, "mode": "b", "inner": {"size": 3, "name": None}, "table": {"x": 1}})
    assert cfg.rate == 2.0 and isinstance(cfg.rate, float) and cfg.mode == "b" and cfg.inner == Inner(3, None)


@pytest.mark.parametrize(
    "data, key, text",
    [
        ({"nope": 1}, "nope", "unknown setting; known here: flag, inner, mode, rate, table"),
        ({"rate": "fast"}, "rate", "expected float, got str"),
        ({"flag": 1}, "flag", "expected bool, got int"),
        ({"inner": {"size": True}}, "inner.size", "expected int, got bool"),
        ({"inner": {"size": None}}, "inner.size", "must not be null"),
        ({"mode": "c"}, "mode", "must be one of a, b, got 'c'"),
        ({"inner": {"colour": 1}}, "inner.colour", "unknown setting"),
        ({"table": [1]}, "table", "expected a mapping"),
    ],
)
def test_bad_values_name_file_and_key(data, key, text):
    with pytest.raises(ToolkitError) as e:
        from_mapping(Outer, data, file="cfg.yaml")
    assert str(e.value).startswith(f"cfg.yaml: {key}: ") and text in str(e.value)
