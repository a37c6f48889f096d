"""What a scan produces: one :class:`ClipRecord` per source media item, and what it left out and why.

Frame indices in a record are 0-based positions in the media (for an image folder: positions in
integer-stem order, not the file numbers) and every range is half-open ``[start, end)`` at
:attr:`ClipRecord.fps`. A left-out item is a :class:`Skip` whose reason class is data, never parsed back
out of its message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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
    (``adjusted``, e.g. an end clamped to the video), each a :class:`Skip` (it unpacks as ``(item, why)``;
    a plugin adapter may give plain pairs), and the scan's ``assumptions`` (values that are not upstream
    facts; shown at build time and in the card)."""

    clips: list[ClipRecord]
    skipped: list[Skip] = field(default_factory=list)
    adjusted: list[Skip] = field(default_factory=list)
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
