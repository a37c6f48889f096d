"""Source adapters: each parses one dataset's real on-disk layout into :class:`ClipRecord` rows.

``get_adapter("humman" | "egoexo4d" | "finediving" | "jigsaws")`` returns an object with ``scan(root,
options) -> ScanResult``, ``select(clips, select, where=...)`` and ``frame_files(clip)``; ``curate build``
uses these, ``curate sources scan`` shows what a scan finds.
"""
from __future__ import annotations

from curation.sources.base import SOURCE_NAMES, BaseAdapter, ClipRecord, ScanResult, SourceAdapter
from schemas.errors import ToolkitError

__all__ = ["SOURCE_NAMES", "ClipRecord", "ScanResult", "SourceAdapter", "get_adapter", "scan_source"]


def get_adapter(name: str) -> BaseAdapter:
    """The adapter for source ``name``; an unknown name is a one-line error listing the known ones."""
    if name == "humman":
        from curation.sources.humman import HuMManAdapter as cls
    elif name == "egoexo4d":
        from curation.sources.egoexo4d import EgoExo4DAdapter as cls
    elif name == "finediving":
        from curation.sources.finediving import FineDivingAdapter as cls
    elif name == "jigsaws":
        from curation.sources.jigsaws import JigsawsAdapter as cls
    else:
        raise ToolkitError(f"unknown source {name!r}; known: {', '.join(SOURCE_NAMES)}")
    return cls()


def scan_source(name: str, root, options: dict | None = None) -> ScanResult:
    """Shortcut: ``get_adapter(name).scan(root, options)``."""
    return get_adapter(name).scan(root, options)
