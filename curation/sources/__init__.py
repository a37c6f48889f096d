"""Source adapters: each parses one dataset's real on-disk layout into :class:`ClipRecord` rows.

``get_adapter(name)`` returns an object with ``scan(root, options) -> ScanResult``, ``select(clips,
select, where=...)`` and ``frame_files(clip)``; ``curate build`` uses these, ``curate sources scan``
shows what a scan finds. Sources are registered in :mod:`curation.sources.registry`.

What an adapter author needs is exported here: the base class (:mod:`curation.sources.base`), the records
and skips a scan returns (:mod:`curation.sources.records`), options (:mod:`curation.sources.options`) and
the shared media helpers (:mod:`curation.sources.files`). A small source is one module (``humman.py``); a
larger one is a package that keeps its adapter, its layout readers and its SYNTHETIC sample tree apart
(``egoexo4d/``, ``finediving/``, ``jigsaws/``: ``adapter.py``, ``layout.py``, ``sample.py``).
"""

from __future__ import annotations

from curation.sources.base import BaseAdapter, SourceAdapter, norm
from curation.sources.files import image_folder, image_size, list_images, probe_videos
from curation.sources.options import ON_BAD_MEDIA, Option, how_set, positive
from curation.sources.records import ClipRecord, FolderProblem, ScanResult, Skip
from curation.sources.registry import (
    get_adapter,
    register_source,
    source_class,
    source_key,
    source_names,
    sources,
)

__all__ = [
    "ON_BAD_MEDIA",
    "BaseAdapter",
    "ClipRecord",
    "FolderProblem",
    "Option",
    "ScanResult",
    "Skip",
    "SourceAdapter",
    "get_adapter",
    "how_set",
    "image_folder",
    "image_size",
    "list_images",
    "norm",
    "positive",
    "probe_videos",
    "register_source",
    "source_class",
    "source_key",
    "source_names",
    "sources",
]
