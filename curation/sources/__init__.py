"""Source adapters: each parses one dataset's real on-disk layout into :class:`ClipRecord` rows.

``get_adapter(name)`` returns an object with ``scan(root, options) -> ScanResult``, ``select(clips,
select, where=...)`` and ``frame_files(clip)``; ``curate build`` uses these, ``curate sources scan``
shows what a scan finds. Sources are registered in :mod:`curation.sources.registry`.
"""

from __future__ import annotations

from curation.sources.base import BaseAdapter, ClipRecord, ScanResult, SourceAdapter
from curation.sources.registry import (
    get_adapter,
    register_source,
    source_class,
    source_key,
    source_names,
    sources,
)

__all__ = [
    "BaseAdapter",
    "ClipRecord",
    "ScanResult",
    "SourceAdapter",
    "get_adapter",
    "register_source",
    "scan_source",
    "source_class",
    "source_key",
    "source_names",
    "sources",
]


def scan_source(name: str, root, options: dict | None = None) -> ScanResult:
    """Shortcut: ``get_adapter(name).scan(root, options)``."""
    return get_adapter(name).scan(root, options)
