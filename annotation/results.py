"""Turn Label Studio annotation results into toolkit labels, checking each against the label config.

Label Studio validates neither annotations nor predictions on the server (measured on 1.23.2), so
every region is checked here with ``LabelInterface`` (offline) plus the rules the toolkit relies on: one
choice per difference, integer frames inside the clip, a keypoint is a single frame, each keypoint and
stage marked at most once per video. A bad or missing item is reported, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from annotation.configs import KEY_PREFIX, STAGE_PREFIX, VIDEO_CONTROLS
from annotation.frames import ls_to_index, ls_to_span

_VIDEO_OF = re.compile(r"(?:tl|fps|n_frames|video)_([ab])\b")


def video_of(where: str) -> str | None:
    """Which video (``a``/``b``) a problem location such as ``tl_b key:start`` or ``data.fps_a`` is about."""
    m = _VIDEO_OF.search(where)
    return m.group(1) if m else None


@dataclass
class Problem:
    """One bad or missing item of an export: where it is, what is wrong, and whose task and annotation it is.

    ``project`` / ``task`` are the Label Studio ids (from the export), ``annotator`` the ``user:<id>`` who
    last changed the annotation, ``video`` the side (``a``/``b``) the item belongs to, when it has one.
    """

    sample_key: str | None
    where: str
    message: str
    annotation_id: int | None = None
    annotator: str | None = None
    project: int | None = None
    task: int | None = None
    video: str | None = None

    def __post_init__(self) -> None:
        if self.video is None:
            self.video = video_of(self.where)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (one entry of ``problems.json``)."""
        return {
            "sample_key": self.sample_key,
            "project": self.project,
            "task": self.task,
            "annotation_id": self.annotation_id,
            "annotator": self.annotator,
            "video": self.video,
            "where": self.where,
            "message": self.message,
        }

    def __str__(self) -> str:
        proj = f" project {self.project}" if self.project is not None else ""
        ann = f" annotation {self.annotation_id}" if self.annotation_id is not None else ""
        who = f" by {self.annotator}" if self.annotator else ""
        return f"{self.sample_key}{proj}{ann}{who}: {self.where}: {self.message}"


@dataclass
class ParsedAnnotation:
    """The labels of one annotation, already in toolkit conventions (0-based frames, half-open spans)."""

    annotation_id: int | None
    annotator: str
    ground_truth: bool
    created_by: str | None = None  # the first author, when someone else changed the annotation later
    choices: dict[str, str] = field(default_factory=dict)  # diff_key -> a|b|c
    keypoints: dict[tuple[str, str], int] = field(default_factory=dict)  # (side, loc_id) -> frame index
    stages: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (side, stage) -> [s, e)


@lru_cache(maxsize=64)
def _interface(config: str):
    from label_studio_sdk.label_interface import LabelInterface

    return LabelInterface(config)


def config_items(config: str) -> tuple[list[str], dict[str, list[str]]]:
    """``(difference keys, {timeline control: labels})`` declared by a label config."""
    li = _interface(config)
    diffs, timelines = [], {}
    for ctl in li.controls:
        if ctl.tag == "Choices" and ctl.name.startswith("diff_"):
            diffs.append(ctl.name[len("diff_") :])
        elif ctl.tag == "TimelineLabels":
            timelines[ctl.name] = list(ctl.labels)
    return diffs, timelines


def annotator_name(completed_by: Any) -> str:
    """Stable annotator id: ``user:<id>`` (the e-mail is kept separately when known)."""
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id", completed_by.get("email"))
    return f"user:{completed_by}"


def annotation_authors(annotation: dict[str, Any]) -> tuple[str, str | None]:
    """``(annotator, created_by)`` of an exported annotation.

    The labels belong to the user who last changed them: Label Studio lets a second user open someone
    else's annotation and press *Update*, which keeps ``completed_by`` (the creator), sets ``updated_by``
    and moves ``updated_at`` on. An annotation created through the API *for* a user (``completed_by``) gets
    the caller as ``updated_by`` at the same instant: that is no change, so it stays the creator's. The
    rule: ``updated_by`` when it differs from ``completed_by`` and ``updated_at`` is more than
    :data:`CHANGED_AFTER_S` after ``created_at``; else ``completed_by``. ``created_by`` is the creator when
    someone else changed it later (kept in ``labels.jsonl`` as history), else None.
    """
    creator = annotator_name(annotation.get("completed_by"))
    updater = annotation.get("updated_by")
    if updater in (None, "") or (isinstance(updater, dict) and not updater):
        return creator, None
    last = annotator_name(updater)
    if last == creator or not _changed_later(annotation):
        return creator, None
    return last, creator


CHANGED_AFTER_S = 1.0


def _changed_later(annotation: dict[str, Any]) -> bool:
    """True when ``updated_at`` is more than :data:`CHANGED_AFTER_S` after ``created_at`` (both ISO 8601)."""
    try:
        created = datetime.fromisoformat(str(annotation["created_at"]).replace("Z", "+00:00"))
        updated = datetime.fromisoformat(str(annotation["updated_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return False
    return (updated - created).total_seconds() > CHANGED_AFTER_S


def parse_annotation(
    annotation: dict[str, Any],
    config: str,
    task_data: dict[str, Any],
    *,
    sample_key: str,
    problems: list[Problem],
) -> ParsedAnnotation:
    """Parse one exported annotation; append a :class:`Problem` for each bad or missing item."""
    ann_id = annotation.get("id")
    annotator, created_by = annotation_authors(annotation)
    parsed = ParsedAnnotation(ann_id, annotator, bool(annotation.get("ground_truth")), created_by)

    flagged: list[str] = []  # where each problem of this annotation is (a flagged item is not also "missing")

    def bad(where: str, msg: str) -> None:
        flagged.append(where)
        problems.append(Problem(sample_key, where, msg, ann_id, annotator))

    result = annotation.get("result")
    if not isinstance(result, list):
        bad("result", f"expected a list of regions, got {type(result).__name__}")
        return parsed
    li = _interface(config)
    diff_keys, timelines = config_items(config)
    tl_side = {tl: side for side, (_, tl) in VIDEO_CONTROLS.items()}
    seen_choice: set[str] = set()
    dup_marks: set[tuple[str, str]] = set()
    for i, region in enumerate(result):
        where = f"result[{i}]"
        if not isinstance(region, dict):
            bad(where, "region is not an object")
            continue
        errors = li.validate_prediction({"result": [region]}, return_errors=True)
        if errors:
            bad(
                f"{where} ({region.get('from_name')})", "; ".join(e.replace("Region 0: ", "") for e in errors)
            )
            continue
        name, value = region["from_name"], region["value"]
        if region.get("type") == "choices" and name.startswith("diff_"):
            key = name[len("diff_") :]
            choices = value.get("choices") or []
            if len(choices) != 1:
                bad(f"{where} ({name})", f"expected exactly one choice, got {choices}")
            elif key in seen_choice:
                bad(f"{where} ({name})", "difference labelled twice in one annotation")
            else:
                parsed.choices[key] = choices[0]
                seen_choice.add(key)
        elif region.get("type") == "timelinelabels" and name in tl_side:
            side = tl_side[name]
            _parse_timeline(region, side, task_data, where, bad, parsed, dup_marks)
    for key in diff_keys:
        if key not in seen_choice and not any(w.endswith(f"(diff_{key})") for w in flagged):
            bad(f"diff_{key}", "missing: no a/b/c choice for this difference")
    for tl, labels in timelines.items():
        side = tl_side.get(tl)
        for label in labels:
            if label.startswith(KEY_PREFIX):
                loc = label[len(KEY_PREFIX) :]
                if (side, loc) not in parsed.keypoints and not any(f"({tl} {label})" in w for w in flagged):
                    bad(f"{tl} {label}", "missing: keypoint not marked")
    for side, label in dup_marks:
        if label.startswith(KEY_PREFIX):
            parsed.keypoints.pop((side, label[len(KEY_PREFIX) :]), None)
        else:
            parsed.stages.pop((side, label[len(STAGE_PREFIX) :]), None)
    return parsed


def _parse_timeline(region, side, task_data, where, bad, parsed: ParsedAnnotation, dup_marks) -> None:
    name = region["from_name"]
    value = region["value"]
    labels = value.get("timelinelabels") or []
    ranges = value.get("ranges") or []
    if len(labels) != 1 or len(ranges) != 1:
        bad(f"{where} ({name})", f"expected one label and one range, got {len(labels)} and {len(ranges)}")
        return
    label, rng = labels[0], ranges[0]
    start, end = rng.get("start"), rng.get("end")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
        bad(f"{where} ({name} {label})", f"frames must be integers, got start={start!r} end={end!r}")
        return
    n = task_data.get(f"n_frames_{side}")
    if not 1 <= start <= end or (isinstance(n, int) and end > n):
        frame = f"frame {start}" if start == end else f"range [{start}, {end}]"
        bad(
            f"{where} ({name} {label})",
            f"video {side.upper()} {frame} is outside the clip's frames 1..{n} (Label Studio numbering; "
            "the editor accepts marks after the last frame)",
        )
        return
    if label.startswith(KEY_PREFIX):
        loc = label[len(KEY_PREFIX) :]
        if start != end:
            bad(f"{where} ({name} {label})", f"a keypoint must be a single frame, got range [{start}, {end}]")
            return
        if (side, loc) in parsed.keypoints or (side, label) in dup_marks:
            bad(f"{where} ({name} {label})", "keypoint marked more than once on this video")
            dup_marks.add((side, label))
            return
        parsed.keypoints[(side, loc)] = ls_to_index(start)
    elif label.startswith(STAGE_PREFIX):
        stage = label[len(STAGE_PREFIX) :]
        if (side, stage) in parsed.stages or (side, label) in dup_marks:
            bad(f"{where} ({name} {label})", "stage marked more than once on this video")
            dup_marks.add((side, label))
            return
        parsed.stages[(side, stage)] = ls_to_span(start, end)


def norm_xml(xml: str | None) -> str:
    """A label config without trailing blanks on its lines, for comparing configs."""
    return "\n".join(line.rstrip() for line in (xml or "").strip().splitlines())


_STATEMENT = re.compile(r"""<Header value=(?:"(\[[^"]*)"|'(\[[^']*)')""")


def config_meaning(xml: str | None) -> tuple:
    """What a label config asks (controls, labels and difference statements), without its layout: a
    layout-only change (composite player, rule text, sample key) is safe on an annotated project."""
    try:
        diffs, timelines = config_items(xml or "")
    except Exception:
        return (norm_xml(xml),)
    return (
        tuple(diffs),
        tuple(sorted((k, tuple(v)) for k, v in timelines.items())),
        tuple(a or b for a, b in _STATEMENT.findall(xml or "")),
    )
