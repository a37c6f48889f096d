"""Folding a model's taxonomy proposal into the taxonomy as drafts, repairing what is odd and reporting every repair.

Odd but schema-valid answers (empty lists, unknown stage or keypoint names, duplicates, too many items,
very long strings, statements naming a video) are repaired or skipped and noted in the
:class:`ProposeReport`, never a crash; accepted items are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from curation.taxonomy.dups import DEFAULT_DUP_THRESHOLD, similarity
from curation.taxonomy.edits import add_difference
from curation.taxonomy.keys import sorted_keys

MAX_NAME, MAX_DESCRIPTION, MAX_QUERY = 80, 500, 200


MAX_STAGES, MAX_KEYPOINTS = 8, 24


FUZZY_MATCH = 80


_DIRECTIONAL = re.compile(r"\b(video\s*[ab12]|first video|second video|left video|right video)\b", re.I)


@dataclass
class ProposeReport:
    """What a proposal run added and every repair it made to the model's answer."""

    action: str
    added: list[str] = field(default_factory=list)
    keypoints_added: list[str] = field(default_factory=list)
    stages_added: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False

    def note(self, msg: str) -> None:
        """Record one repair or skip."""
        self.notes.append(msg)

    def __str__(self) -> str:
        lines = [
            f"{self.action}: {len(self.added)} draft difference(s) added"
            + (f" (keys {', '.join(self.added)})" if self.added else "")
            + f", {len(self.keypoints_added)} keypoint(s), {len(self.stages_added)} stage(s)"
        ]
        lines += [f"  note: {n}" for n in self.notes]
        if self.written:
            lines.append("  review with `curate taxonomy validate`, then accept/retire/merge/edit by key")
        return "\n".join(lines)


def clean_text(text: Any, limit: int, what: str, report: ProposeReport) -> str:
    """``text`` on one line and at most ``limit`` characters; a cut is noted in ``report``."""
    s = re.sub(r"\s+", " ", str(text or "")).strip()
    if len(s) > limit:
        report.note(f"{what}: {len(s)} characters, cut to {limit}")
        s = s[: limit - 1].rstrip() + "…"
    return s


def slug(text: str) -> str:
    """A key-safe id from a name (lower case, ``_`` between words, at most 48 characters)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48]


def fuzzy_key(query: str, choices: dict[str, str], cutoff: float = FUZZY_MATCH) -> str | None:
    """The key of ``choices`` ({key: text}) best matching ``query``, if good enough."""
    from rapidfuzz import fuzz, process, utils

    if not query or not choices:
        return None
    for k, text in choices.items():
        if query.casefold() in (k.casefold(), text.casefold()):
            return k
    hit = process.extractOne(
        query, choices, scorer=fuzz.token_sort_ratio, processor=utils.default_process, score_cutoff=cutoff
    )
    return hit[2] if hit else None


def merge_stages(
    tax: dict[str, Any], answer: dict[str, Any], origin: str, report: ProposeReport
) -> dict[str, str]:
    """Fold proposed stages and keypoints into ``tax``; returns {proposed keypoint id: final loc_id}."""
    proposed = answer.get("stages") or []
    if not proposed:
        report.note("the model proposed no stages")
    if tax["stages"]:
        if proposed:
            report.note(
                f"kept the {len(tax['stages'])} existing stage(s); {len(proposed)} proposed stage(s) not "
                f"merged (edit the file to change the stage transcript)"
            )
    else:
        seen: set[str] = set()
        for i, st in enumerate(proposed):
            name = clean_text(st.get("name"), MAX_NAME, f"stage {i} name", report)
            if not name:
                report.note(f"stage {i}: empty name, skipped")
                continue
            if name.casefold() in seen:
                report.note(f"stage {name!r}: duplicate, skipped")
                continue
            if len(tax["stages"]) >= MAX_STAGES:
                report.note(f"{len(proposed)} stages proposed; kept the first {MAX_STAGES}")
                break
            seen.add(name.casefold())
            tax["stages"].append(
                {
                    "name": name,
                    "description": clean_text(
                        st.get("description"), MAX_DESCRIPTION, f"stage {name!r} description", report
                    ),
                    "origin": origin,
                }
            )
            report.stages_added.append(name)
    stage_names = {s["name"]: s["name"] for s in tax["stages"]}
    kps = tax["keypoints"]
    id_map: dict[str, str] = {}
    proposed_kps = answer.get("keypoints") or []
    if not proposed_kps:
        report.note("the model proposed no keypoints")
    for i, kp in enumerate(proposed_kps):
        raw_id = str(kp.get("id") or "")
        name = clean_text(kp.get("name"), MAX_NAME, f"keypoint {i} name", report)
        loc = slug(raw_id) or slug(name)
        if not loc:
            report.note(f"keypoint {i}: no id or name, skipped")
            continue
        same = loc if loc in kps else fuzzy_key(name, {k: v.get("name", k) for k, v in kps.items()}, 90)
        if same is not None:
            id_map[raw_id] = id_map[loc] = same
            where = (
                "proposed twice; merged into"
                if same in report.keypoints_added
                else "already in the taxonomy as"
            )
            report.note(f"keypoint {raw_id or name!r}: {where} {same!r}")
            continue
        if len(report.keypoints_added) >= MAX_KEYPOINTS:
            report.note(f"{len(proposed_kps)} keypoints proposed; kept the first {MAX_KEYPOINTS}")
            break
        stage_raw = str(kp.get("stage") or "")
        stage = fuzzy_key(stage_raw, stage_names)
        if stage is None:
            report.note(f"keypoint {loc!r}: unknown stage {stage_raw[:60]!r}, left empty")
        kps[loc] = {
            "name": name or loc,
            "stage": stage,
            "status": "draft",
            "origin": origin,
            "description": clean_text(
                kp.get("description"), MAX_DESCRIPTION, f"keypoint {loc!r} description", report
            ),
        }
        id_map[raw_id] = id_map[loc] = loc
        report.keypoints_added.append(loc)
    return id_map


def merge_differences(
    tax: dict[str, Any],
    answer: dict[str, Any],
    id_map: dict[str, str],
    n: int,
    origin: str,
    report: ProposeReport,
    *,
    dup_threshold: float = DEFAULT_DUP_THRESHOLD,
) -> None:
    """Add the proposed differences to ``tax`` as drafts, repairing or skipping odd items (reported)."""
    items = answer.get("differences") or []
    if not items:
        report.note("the model proposed no differences")
    if len(items) > n:
        report.note(
            f"the model returned {len(items)} differences, {n} were asked; kept the first {n} usable ones"
        )
    elif len(items) < n:
        report.note(f"the model returned {len(items)} differences, {n} were asked")
    kp_names = {k: v.get("name", k) for k, v in tax["keypoints"].items()}
    for i, item in enumerate(items):
        if len(report.added) >= n:
            break
        name = clean_text(item.get("name"), MAX_NAME, f"difference {i} name", report)
        desc = clean_text(item.get("description"), MAX_DESCRIPTION, f"difference {i} description", report)
        if not name or not desc:
            report.note(f"difference {i}: empty name or description, skipped")
            continue
        query = (
            clean_text(item.get("query_string"), MAX_QUERY, f"difference {i} query_string", report) or desc
        )
        entry = {"name": name, "description": desc, "query_string": query}
        dup = next(
            (
                k
                for k in sorted_keys(tax["differences"])
                if similarity(entry, tax["differences"][k]) >= dup_threshold
            ),
            None,
        )
        if dup is not None:
            report.note(
                f"difference {name!r}: duplicate of key {dup} "
                f"({tax['differences'][dup]['status']}) {tax['differences'][dup]['name']!r}, skipped"
            )
            continue
        if _DIRECTIONAL.search(desc):
            report.note(
                f"difference {name!r}: names a video, so it is not direction-free; kept as a draft to edit"
            )
        links: list[str] = []
        for raw in item.get("keypoints") or []:
            raw = str(raw)
            loc = (
                id_map.get(raw)
                or (raw if raw in tax["keypoints"] else None)
                or id_map.get(slug(raw))
                or fuzzy_key(raw, kp_names, 85)
            )
            if loc is None:
                report.note(f"difference {name!r}: unknown keypoint {raw[:60]!r}, link dropped")
            elif loc not in links:
                links.append(loc)
        entry.update(
            num_frames=item.get("num_frames") if item.get("num_frames") in ("1", "gt_1") else "gt_1",
            keypoints=links,
        )
        report.added.append(add_difference(tax, entry, status="draft", origin=origin))
