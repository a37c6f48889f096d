"""Adapter options: each source declares its ``sources.<name>`` keys as :class:`Option` values.

:meth:`curation.sources.base.BaseAdapter.options` checks a config block against them, so an unknown key or
a wrong type is one line naming ``sources.<name>.<key>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """One adapter option: its type check, default and a one-line description (shown in errors)."""

    kind: type | tuple[type, ...]
    default: Any
    help: str
    check: Callable[[Any], bool] | None = None


def type_name(kind: type | tuple[type, ...]) -> str:
    """``"int or float"``: an option's type as its error message names it."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


ON_BAD_MEDIA = Option(
    str,
    "error",
    "unreadable video, image folder with gaps, or media shorter than its "
    "annotations: error | skip (curate build stops on them unless skip; a scan lists them "
    "as skipped)",
    lambda v: v in ("error", "skip"),
)


def how_set(given: dict, *keys: str) -> str:
    """``"the default"`` or ``"set in the config"``: how an assumed option value was chosen."""
    return "set in the config" if set(keys) & set(given) else "the default"


def positive(v: Any) -> bool:
    """Option check: a number > 0."""
    return v > 0
