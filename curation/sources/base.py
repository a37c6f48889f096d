"""What every source adapter shares: the clip record, the scan result, options, selection, media helpers.

An adapter turns one dataset's real on-disk layout (README, "Source adapters") into
:class:`ClipRecord` rows. Frame indices in a record are 0-based positions in the media (for an image
folder: positions in integer-stem order, not the file numbers) and every range is half-open
``[start, end)`` at :attr:`ClipRecord.fps`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from tqdm import tqdm

from schemas import check
from schemas.errors import ToolkitError


@dataclass
class ClipRecord:
    """One source media item (video file or image folder) and what the source says about it.

    Fields match ``schemas/clip.schema.json``; :meth:`to_dict` validates against kind ``clip``.
    """

    clip_id: str
    dataset: str
    action: str
    media_path: str
    media_kind: Literal["video", "frames"]
    n_frames: int
    fps_declared: float | None
    fps_measured: float | None
    action_name: str | None = None
    view: str | None = None
    frame_ids: list[int] | None = None
    segment: tuple[int, int] | None = None
    subactions: list[dict[str, Any]] = field(default_factory=list)
    skill: dict[str, Any] | None = None
    participant: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """The clock the record's frame indices refer to: measured if known, else declared."""
        fps = self.fps_measured or self.fps_declared
        if not fps:
            raise ToolkitError("clip has neither a measured nor a declared fps", key=self.clip_id)
        return fps

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, validated against the ``clip`` schema."""
        d = asdict(self)
        d["segment"] = list(self.segment) if self.segment is not None else None
        check("clip", d, file=self.clip_id)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipRecord:
        """Inverse of :meth:`to_dict` (after validating)."""
        check("clip", d, file=d.get("clip_id"))
        d = dict(d)
        if d.get("segment") is not None:
            d["segment"] = tuple(d["segment"])
        return cls(**d)


def reason_of(why: str) -> str:
    """The reason class of a skip/adjust message: its text before the first ``:`` or `` (``.

    ``"frame folder missing: /data/x/01/1"`` and ``"label/frame count mismatch: 22 ..."`` count as
    ``frame folder missing`` and ``label/frame count mismatch`` in per-reason totals.
    """
    cut = len(why)
    for sep in (": ", " ("):
        i = why.find(sep)
        if i > 0:
            cut = min(cut, i)
    return why[:cut].strip()


class Skip(tuple):
    """One item a scan left out or changed: unpacks as ``(what, why)``, and carries its ``reason`` class and
    whether it is bad media (which stops a build unless the source says ``on_bad_media: skip``) as data, so
    no decision is taken by reading the message."""

    reason: str
    bad_media: bool

    def __new__(
        cls, what: str, reason: str, detail: str = "", *, bad_media: bool = False, why: str | None = None
    ) -> Skip:
        self = super().__new__(cls, (str(what), why or (f"{reason}: {detail}" if detail else reason)))
        self.reason, self.bad_media = reason, bad_media
        return self


class FolderProblem(Exception):
    """Why an image folder cannot be used (:func:`image_folder`); :meth:`skip` records it for ``what``."""

    def __init__(self, reason: str, detail: str = "", *, bad_media: bool = False, why: str | None = None):
        super().__init__(why or (f"{reason}: {detail}" if detail else reason))
        self.reason, self.detail, self.bad_media = reason, detail, bad_media

    def skip(self, what: str) -> Skip:
        """This problem as the scan's record for ``what``."""
        return Skip(what, self.reason, self.detail, bad_media=self.bad_media, why=str(self))


def count_reasons(items: Iterable[tuple[str, str]]) -> dict[str, int]:
    """``{reason class: count}`` of skipped/adjusted items, sorted by reason.

    A :class:`Skip` counts under its ``reason``; a plain ``(what, why)`` pair (a plugin adapter's) under
    :func:`reason_of` its message."""
    return dict(
        sorted(Counter(getattr(item, "reason", None) or reason_of(item[1]) for item in items).items())
    )


@dataclass
class ScanResult:
    """What a scan found (``clips``), what it left out (``skipped``), what it kept but changed
    (``adjusted``, e.g. an end clamped to the video), each ``(item, why)``, and the scan's
    ``assumptions`` (values that are not upstream facts; shown at build time and in the card)."""

    clips: list[ClipRecord]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    adjusted: list[tuple[str, str]] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    facts: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        """Clips per action label and per view (for reports)."""
        return {
            "action": dict(sorted(Counter(c.action_name or c.action for c in self.clips).items())),
            "view": dict(sorted(Counter(c.view or "-" for c in self.clips).items())),
        }

    def dropped(self) -> dict[str, int]:
        """Items left out per reason class (see :func:`reason_of`)."""
        return count_reasons(self.skipped)

    def adjusted_counts(self) -> dict[str, int]:
        """Clips kept but changed, per reason class."""
        return count_reasons(self.adjusted)


@runtime_checkable
class SourceAdapter(Protocol):
    """The interface ``curate build`` uses; one implementation per source dataset."""

    name: str

    def scan(self, root: Path, options: dict) -> ScanResult: ...

    def select(self, clips: list[ClipRecord], select: dict, *, where: str) -> list[ClipRecord]: ...

    def frame_files(self, clip: ClipRecord) -> list[Path]: ...


# ------------------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Option:
    """One adapter option: its type check, default and a one-line description (shown in errors)."""

    kind: type | tuple[type, ...]
    default: Any
    help: str
    check: Callable[[Any], bool] | None = None


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


# --------------------------------------------------------------------------------------------- base


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
                    f"invalid value {value!r}: expected {_type_name(opt.kind)} ({opt.help})",
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


# ------------------------------------------------------------------------------------- media helpers


def list_images(folder: Path) -> list[Path]:
    """Image files of a frame folder in integer-stem order (delegates to :mod:`viddiff_runtime.media`)."""
    from viddiff_runtime.media import list_frame_files

    return list_frame_files(folder)


def image_folder(folder: Path, *, step: int | None) -> tuple[list[Path], list[int]]:
    """List a frame folder and check its frame numbers; returns ``(files, ids)``.

    Raises :class:`FolderProblem` (the reason to skip the folder) when it cannot be used. ``step``: the
    expected difference between consecutive frame numbers (HuMMan Recon 6, FineDiving 1); ``None`` accepts
    any increasing numbering.
    """
    try:
        files = list_images(folder)
    except ToolkitError as e:
        raise FolderProblem(reason_of(e.message), why=e.message) from None  # e.g. names that are not numbers
    if not files:
        raise FolderProblem("image folder is empty")
    ids = [int(p.stem) for p in files]
    dup = [a for a, b in zip(ids, ids[1:]) if a == b]
    if dup:
        raise FolderProblem(
            "image folder has two files for a frame", why=f"image folder has two files for frame {dup[0]}"
        )
    if step is not None:
        gaps = [(a, b) for a, b in zip(ids, ids[1:]) if b - a != step]
        if gaps:
            a, b = gaps[0]
            raise FolderProblem(
                "image folder with gaps",
                f"frame {b} follows {a} (expected step {step}; "
                f"{len(gaps)} gap{'s' if len(gaps) > 1 else ''})",
                bad_media=True,
            )
    return files, ids


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of an image from its header, or None when unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except OSError:
        return None


@dataclass
class Probed:
    """The measured facts of a video file that a clip record needs."""

    fps: float
    n_frames: int
    width: int
    height: int
    codec: str


def probe_videos(
    paths: Iterable[Path], *, on_error: str = "error", source: str = "", workers: int = 8
) -> tuple[dict[Path, Probed], list[Skip]]:
    """Probe video files in parallel (threads) with a progress bar.

    Returns the probed facts by path and, with ``on_error="skip"``, the unreadable files and why; with
    ``on_error="error"`` the first unreadable file raises its one-line :class:`ToolkitError`.
    """
    from viddiff_runtime.media import probe

    paths = list(dict.fromkeys(paths))
    out: dict[Path, Probed] = {}
    bad: list[Skip] = []

    def one(p: Path) -> tuple[Path, Probed | ToolkitError]:
        try:
            info = probe(p)
        except ToolkitError as e:
            return p, e
        return p, Probed(float(info.fps), int(info.n_frames), info.width, info.height, info.codec)

    if not paths:
        return out, bad
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(paths)))) as pool:
        results = pool.map(one, paths)
        for p, res in tqdm(
            results, total=len(paths), desc=f"probe {source}".strip(), unit="video", disable=None, leave=False
        ):
            if isinstance(res, ToolkitError):
                if on_error == "error":
                    raise res
                bad.append(Skip(str(p), "unreadable video", res.message, bad_media=True))
            else:
                out[p] = res
    return out, bad


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
