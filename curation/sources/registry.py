"""The registry of source datasets: one adapter class per source, found by name.

The four built-in sources are registered here; a lab adds a private one without forking by exposing its
adapter class (a :class:`curation.sources.base.BaseAdapter` subclass) under the entry-point group
``viddiff_toolkit.sources`` in its own package, or by calling :func:`register_source` before a build.
Everything that lists sources (build configs, ``source_dataset`` names, the data card's licences and
citations, the sample trees) reads this registry, so a new source is one module plus its test.
"""

from __future__ import annotations

import importlib
import re
from importlib import metadata

from curation.sources.base import BaseAdapter
from schemas.errors import ToolkitError

ENTRY_POINT_GROUP = "viddiff_toolkit.sources"
_BUILTIN = (
    "curation.sources.humman:HuMManAdapter",
    "curation.sources.egoexo4d:EgoExo4DAdapter",
    "curation.sources.finediving:FineDivingAdapter",
    "curation.sources.jigsaws:JigsawsAdapter",
)
_registry: dict[str, type[BaseAdapter]] = {}
_loaded = False


def register_source(cls: type[BaseAdapter]) -> type[BaseAdapter]:
    """Register an adapter class under its ``name`` (usable as a class decorator); returns the class."""
    if not (isinstance(cls, type) and issubclass(cls, BaseAdapter)) or not cls.name:
        raise ToolkitError(f"{cls!r} is not a source adapter (a BaseAdapter subclass with a name)")
    from schemas.ids import is_safe

    if not is_safe(cls.name, "id"):
        raise ToolkitError(f"source name {cls.name!r} is not a safe identifier", key=f"{cls.__module__}.name")
    _registry[cls.name] = cls
    return cls


def _load(spec: str, where: str) -> type[BaseAdapter]:
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ToolkitError(f"cannot load source adapter {spec!r}: {e}", key=where) from None


def sources() -> dict[str, type[BaseAdapter]]:
    """Every registered source, built-ins first (in their fixed order), then entry-point plugins."""
    global _loaded
    if not _loaded:
        _loaded = True
        for spec in _BUILTIN:
            register_source(_load(spec, "builtin"))
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            register_source(_load(ep.value, f"entry point {ENTRY_POINT_GROUP}:{ep.name}"))
    return dict(_registry)


def source_names() -> tuple[str, ...]:
    """The registered source names, e.g. ``("humman", "egoexo4d", "finediving", "jigsaws")``."""
    return tuple(sources())


def source_key(name: str) -> str:
    """The registry name for a ``source_dataset`` spelling (``HuMMan``, the release's ``humann``, …).

    Unknown spellings come back lower-cased, so a row from a source this install does not know is kept.
    """
    key = _norm(name)
    for cls in sources().values():
        if key in {_norm(cls.name), _norm(cls.dataset_name), _norm(cls.title), *map(_norm, cls.aliases)} - {
            ""
        }:
            return cls.name
    return key


def _norm(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name or "").lower())


def source_class(name: str) -> type[BaseAdapter]:
    """The adapter class registered as ``name``; an unknown name is a one-line error listing the known ones."""
    table = sources()
    if name not in table:
        raise ToolkitError(f"unknown source {name!r}; known: {', '.join(table)}")
    return table[name]


def get_adapter(name: str) -> BaseAdapter:
    """A fresh adapter for source ``name``; an unknown name is a one-line error listing the known ones."""
    return source_class(name)()
