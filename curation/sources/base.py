"""The adapter base class: option and root checks, the scan frame, selection by ``select`` keys.

An adapter turns one dataset's real on-disk layout (README, "Source adapters") into
:class:`~curation.sources.records.ClipRecord` rows; the records, the options and the shared media
helpers live in :mod:`curation.sources.records`, :mod:`curation.sources.options` and
:mod:`curation.sources.files`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from curation.sources.files import list_images
from curation.sources.options import Option, type_name
from curation.sources.records import ClipRecord, ScanResult
from schemas.errors import ToolkitError


@runtime_checkable
class SourceAdapter(Protocol):
    """The interface ``curate build`` uses; one implementation per source dataset."""

    name: str

    def scan(self, root: Path, options: dict) -> ScanResult: ...

    def select(self, clips: list[ClipRecord], select: dict, *, where: str) -> list[ClipRecord]: ...

    def frame_files(self, clip: ClipRecord) -> list[Path]: ...


class BaseAdapter:
    """Shared behaviour: option checking, root checking, selection, image-folder listing, probing.

    Subclasses set ``name``, ``OPTIONS`` and ``SELECT`` (select key -> predicate(clip, wanted value))
    and implement :meth:`_scan`.
    """

    #: registry name (the build config's ``source:`` value and ``sources.<name>`` key)
    name: ClassVar[str] = ""
    #: the ``source_dataset`` written into samples (``HuMMan``); other spellings seen in the wild
    dataset_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: what the data card says: display title, licence, link, a note for users, BibTeX citation
    title: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    link: ClassVar[str] = ""
    note: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    #: the SYNTHETIC sample tree (``curate samples``): its ``sources.<name>`` block and its actions;
    #: :meth:`write_sample_tree` writes the tree (a source without one is left out of the samples)
    SAMPLE_OPTIONS: ClassVar[dict[str, Any] | None] = None
    SAMPLE_ACTIONS: ClassVar[list[dict[str, Any]]] = []
    OPTIONS: dict[str, Option] = {}
    SELECT: dict[str, Callable[[ClipRecord, Any], bool]] = {}
    #: select key -> "this clip has no value for it" (such clips are counted as dropped ``no <key>``)
    MISSING: ClassVar[dict[str, Callable[[ClipRecord], bool]]] = {}

    @staticmethod
    def write_sample_tree(root: Path, rng: Any) -> None:  # pragma: no cover - overridden per source
        """Write this source's SYNTHETIC sample tree under ``root`` (see curation/samples/trees.py)."""
        raise NotImplementedError

    # ---- options and root
    def options(self, options: dict | None) -> dict[str, Any]:
        """Check ``options`` (the config's ``sources.<name>`` block) and fill defaults.

        Unknown keys and wrong types are one-line errors naming ``sources.<name>.<key>``.
        """
        options = dict(options or {})
        out: dict[str, Any] = {"root": options.pop("root", None)}
        for key, value in options.items():
            if key not in self.OPTIONS:
                raise ToolkitError(
                    f"unknown option for source {self.name}; known: root, {', '.join(sorted(self.OPTIONS))}",
                    key=f"sources.{self.name}.{key}",
                )
            opt = self.OPTIONS[key]
            kinds = opt.kind if isinstance(opt.kind, tuple) else (opt.kind,)
            ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
            if float in kinds and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if not ok or (opt.check is not None and not opt.check(value)):
                raise ToolkitError(
                    f"invalid value {value!r}: expected {type_name(opt.kind)} ({opt.help})",
                    key=f"sources.{self.name}.{key}",
                )
            out[key] = value
        for key, opt in self.OPTIONS.items():
            out.setdefault(key, opt.default)
        return out

    def check_root(self, root: str | os.PathLike | None) -> Path:
        """The root as a Path; a missing or non-directory root is a one-line error."""
        if root is None or str(root) == "":
            raise ToolkitError(f"no root given for source {self.name}", key=f"sources.{self.name}.root")
        path = Path(root).expanduser()
        if not path.exists():
            raise ToolkitError(f"{self.name} root not found", file=str(path), key=f"sources.{self.name}.root")
        if not path.is_dir():
            raise ToolkitError(
                f"{self.name} root is not a directory", file=str(path), key=f"sources.{self.name}.root"
            )
        return path.resolve()

    def scan(self, root: Path | str | None, options: dict | None = None) -> ScanResult:
        """Parse the dataset under ``root`` into clip records (``options``: the config's source block)."""
        opts = self.options(options)
        root_path = self.check_root(root if root is not None else opts["root"])
        opts["root"] = str(root_path)
        result = self._scan(root_path, opts)
        result.clips.sort(key=lambda c: c.clip_id)
        result.assumptions = self.assumptions(options or {}, opts, result)
        return result

    def assumptions(self, given: dict, opts: dict[str, Any], result: ScanResult) -> list[str]:
        """Values this scan relies on that are not upstream facts (overridden per source)."""
        return []

    def _scan(self, root: Path, opts: dict[str, Any]) -> ScanResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- selection
    def missing_counts(self, clips: list[ClipRecord], select: dict) -> dict[str, int]:
        """``{"no <key>": n}``: clips that match every other key of ``select`` but have no value for ``key``.

        E.g. FineDiving dives from numeric sources (``01`` … ``26``) have no height, so ``select
        {height: 10m}`` cannot pick them: the build counts them instead of losing them silently.
        """
        out: dict[str, int] = {}
        for key, missing in self.MISSING.items():
            if key not in select:
                continue
            rest = {k: v for k, v in select.items() if k != key}
            n = sum(1 for c in clips if c.dataset == self.name and missing(c) and self._matches(c, rest))
            if n:
                out[f"no {key}"] = n
        return out

    def _matches(self, clip: ClipRecord, select: dict) -> bool:
        return all(
            any(self.SELECT[k](clip, v) for v in (want if isinstance(want, list) else [want]))
            for k, want in select.items()
        )

    def select(self, clips: list[ClipRecord], select: dict, *, where: str) -> list[ClipRecord]:
        """Clips matching every key of an action's ``select`` block (a list value means any of them).

        An unknown key is an error naming ``<where>.select.<key>``; a select matching nothing is an error
        naming ``<where>.select`` that lists what exists.
        """
        if not isinstance(select, dict):
            raise ToolkitError(
                f"select must be a mapping, got {type(select).__name__}", key=f"{where}.select"
            )
        for key in select:
            if key not in self.SELECT:
                raise ToolkitError(
                    f"unknown select key for source {self.name}; known: {', '.join(self.SELECT)}",
                    key=f"{where}.select.{key}",
                )
        out = [c for c in clips if c.dataset == self.name and self._matches(c, select)]
        if not out:
            mine = [c for c in clips if c.dataset == self.name]
            actions = sorted(
                {c.action if c.action_name is None else f"{c.action} ({c.action_name})" for c in mine}
            )
            views = sorted({c.view for c in mine if c.view})
            missing = "".join(
                f"; {n} clip(s) with {why}" for why, n in self.missing_counts(clips, select).items()
            )
            raise ToolkitError(
                f"select {select} matches no {self.name} clip ({len(mine)} scanned; actions: "
                f"{_short(actions)}; views: {_short(views)}{missing})",
                key=f"{where}.select",
            )
        return out

    # ---- media
    def frame_files(self, clip: ClipRecord) -> list[Path]:
        """The image files of a ``frames`` clip in integer-stem order (position i = frame index i)."""
        if clip.media_kind != "frames":
            raise ToolkitError("not an image-folder clip", file=clip.media_path, key=clip.clip_id)
        return list_images(Path(clip.media_path))


def _short(items: list[str], n: int = 12) -> str:
    if not items:
        return "none"
    more = f", … (+{len(items) - n})" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def norm(text: Any) -> str:
    """Case- and space-insensitive form of a label for matching select values."""
    return " ".join(str(text).split()).casefold()
