"""schemas.validate's fast path (jsonschema_rs) agrees with jsonschema on valid and broken rows."""

from __future__ import annotations

import copy
import random

import jsonschema
import pytest

from schemas import _fast_validator, load_schema, validate
from tests.eval.fixtures import rows


def _mutations(row: dict) -> list[dict]:
    """The row broken in the ways real files are: missing, mistyped, out-of-pattern and extra fields."""
    out = []
    for key in list(row):
        bad = copy.deepcopy(row)
        del bad[key]
        out.append(bad)
        for value in (None, 3, "x", [], {}, True, 1.5):
            bad = copy.deepcopy(row)
            bad[key] = value
            out.append(bad)
    for tweak in (
        lambda r: r["differences_gt"].__setitem__("0", "A"),
        lambda r: r["differences_gt"].__setitem__("x1", "a"),
        lambda r: r["videos"].pop(),
        lambda r: r["videos"][0].__setitem__("fps_original", "8"),
        lambda r: r["videos"][0].__setitem__("frames_trim", [0, "5", None]),
        lambda r: r.__setitem__("unexpected_field", 1),
        lambda r: r["differences_annotated"]["0"].__setitem__("num_frames", 2),
    ):
        bad = copy.deepcopy(row)
        tweak(bad)
        out.append(bad)
    return out


@pytest.mark.parametrize("row", rows(), ids=lambda r: r["sample_key"])
def test_fast_path_agrees_with_jsonschema(row):
    fast = _fast_validator("sample")
    assert fast is not None
    slow = jsonschema.Draft202012Validator(load_schema("sample"))
    cases = [row, *_mutations(row)]
    random.Random(0).shuffle(cases)
    n_invalid = 0
    for obj in cases:
        slow_ok = not list(slow.iter_errors(obj))
        assert fast.is_valid(obj) is slow_ok, obj
        assert (validate("sample", obj) == []) is slow_ok
        n_invalid += not slow_ok
    assert n_invalid > 20  # the mutations really break the row
