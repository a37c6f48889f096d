"""One safe-identifier rule for every key the toolkit turns into a file name or a JSON key.

Action keys and sample keys become file names (``videos/<sample_key>/``, ``taxonomies/<action>.json``,
``RUN_DIR/samples/<key>.json``), so they are ASCII letters, digits, ``_``, ``.`` and ``-``, start with a
letter, digit or ``_`` (never ``.``, so ``..`` and hidden names are impossible) and are at most 200
characters. Difference keys are ASCII decimal integers (``"²"`` is a digit to Python, not to us). Keypoint
``loc_id``s are free text in the public release ("reaches lowest position"), never file names: they only
have to be non-empty, at most 200 characters and free of control characters.

The JSON Schemas in this package use the same patterns (``SAFE_ID_PATTERN``, ``DIFF_KEY_PATTERN``,
``LOC_ID_PATTERN``); ``tests/schemas/test_ids.py`` checks that they do. :func:`check_id` is the runtime
check for values that arrive outside a schema (CLI options, parquet columns, Label Studio exports,
prediction files), and :func:`inside` checks that a path about to be written stays in its folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from schemas.errors import ToolkitError

SAFE_ID_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$(?!\\n)"
DIFF_KEY_PATTERN = "^[0-9]{1,9}$(?!\\n)"
LOC_ID_PATTERN = "^[^\\u0000-\\u001f\\u007f]{1,200}$(?!\\n)"
#: Control characters (C0, DEL, C1) that no text field may hold; tab and newline are allowed in free text.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_RULES = {
    "id": (
        re.compile(SAFE_ID_PATTERN),
        "ASCII letters, digits, _ . - (not starting with '.'), at most 200 characters",
    ),
    "diff": (re.compile(DIFF_KEY_PATTERN), 'an ASCII decimal integer such as "3"'),
    "loc": (
        re.compile(LOC_ID_PATTERN),
        "non-empty text of at most 200 characters without control characters",
    ),
}


def is_safe(value: object, rule: str = "id") -> bool:
    """Whether ``value`` is a string that follows ``rule`` ("id", "diff" or "loc")."""
    return isinstance(value, str) and bool(_RULES[rule][0].search(value))  # search, as JSON Schema does


def check_id(
    value: object, *, what: str, rule: str = "id", file: str | None = None, key: str | None = None
) -> str:
    """Return ``value`` when it follows ``rule``; otherwise a one-line :class:`ToolkitError` naming it."""
    if not is_safe(value, rule):
        raise ToolkitError(f"unsafe {what} {value!r}: must be {_RULES[rule][1]}", file=file, key=key or what)
    return value  # type: ignore[return-value]


def check_text(value: object, *, what: str, file: str | None = None, key: str | None = None) -> None:
    """A text field must not hold control characters (NUL, escape, ...); tab and newline are fine."""
    if isinstance(value, str) and (m := CONTROL_CHARS.search(value)):
        raise ToolkitError(f"{what} contains the control character {m.group()!r}", file=file, key=key or what)


def inside(root: str | os.PathLike, path: str | os.PathLike, *, what: str = "path") -> Path:
    """``path`` (relative to ``root`` or absolute) when it resolves inside ``root``; else a ToolkitError.

    Every path the toolkit derives from data (a key, a release's video path) goes through here before
    it is written, so no value can make it write outside its output folder.
    """
    root_r = Path(root).resolve()
    full = (Path(root) / path).resolve()
    if full != root_r and root_r not in full.parents:
        raise ToolkitError(f"{what} {str(path)!r} would be written outside {root}", file=str(root), key=what)
    return Path(root) / path
