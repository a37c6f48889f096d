"""LLM proposals for a taxonomy: the stage transcript, keypoints, and linked differences, as drafts.

Two structured calls per action: (1) ordered stages and keypoints (critical instants, each in a
stage); (2) ``n`` visible, skill-relevant, direction-free differences, each linked to keypoints.
Everything the model returns is cleaned before it lands: odd but schema-valid answers (empty lists,
unknown stage or keypoint names, duplicates, too many items, very long strings, statements naming a
video) are repaired or skipped and reported, never a crash. New items are ``draft``; accepted items
are never touched. People then accept, retire, merge or edit by key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from curation.taxonomy.dups import DEFAULT_DUP_THRESHOLD, similarity
from curation.taxonomy.edits import add_difference
from curation.taxonomy.keys import sorted_keys
from curation.taxonomy.store import load_or_create, save_taxonomy
from schemas.errors import ToolkitError
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.request import LLMRequest

MAX_NAME, MAX_DESCRIPTION, MAX_QUERY = 80, 500, 200
MAX_STAGES, MAX_KEYPOINTS = 8, 24
MAX_CONTEXT_CHARS = 20_000
FUZZY_MATCH = 80

SYSTEM = (
    "You help build a benchmark of fine-grained differences between two videos of the same physical action. "
    "You know the skill from a coach's or expert's point of view and you describe only what a camera shows."
)

_STR = {"type": "string"}
STAGES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["stages", "keypoints"],
    "properties": {
        "stages": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "description"],
                "properties": {"name": _STR, "description": _STR},
            },
        },
        "keypoints": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name", "description", "stage"],
                "properties": {"id": _STR, "name": _STR, "description": _STR, "stage": _STR},
            },
        },
    },
}
DIFFERENCES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["differences"],
    "properties": {
        "differences": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "description", "query_string", "num_frames", "keypoints"],
                "properties": {
                    "name": _STR,
                    "description": _STR,
                    "query_string": _STR,
                    "num_frames": {"enum": ["1", "gt_1"]},
                    "keypoints": {"type": "array", "items": _STR},
                },
            },
        }
    },
}

STAGES_PROMPT = """Action: {name}
Description: {description}
{context}{existing}
Write the stage transcript of this action: its ordered sub-actions (at most {max_stages}), each with a short name \
and a one-sentence visual description. Then list keypoints: critical instants that a single video frame can show \
(for example "lowest position of the hips"), each with a short snake_case id, a name, a description of what is \
visible at that instant, and the name of the stage it belongs to (one of your stage names)."""

DIFFERENCES_PROMPT = """Action: {name}
Description: {description}
{context}
Stages, in order: {stages}
Keypoints (id: description): {keypoints}
{existing}
Propose {n} differences in how two people might perform this action that a viewer can see in the video and that \
matter for skill. Each is a direction-free statement that can be more true of one video than the other \
(e.g. "the squat is deeper"), never naming a video ("video A", "the first video"). For each give: a short name; \
the description (the statement); a query_string (a shorter paraphrase); num_frames "1" if one well-chosen frame \
per video is enough to judge it, or "gt_1" if it needs motion across frames; and keypoints: the ids of the \
keypoints where it is visible (from the list above)."""

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


def _clean(text: Any, limit: int, what: str, report: ProposeReport) -> str:
    s = re.sub(r"\s+", " ", str(text or "")).strip()
    if len(s) > limit:
        report.note(f"{what}: {len(s)} characters, cut to {limit}")
        s = s[: limit - 1].rstrip() + "…"
    return s


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:48]


def _fuzzy(query: str, choices: dict[str, str], cutoff: float = FUZZY_MATCH) -> str | None:
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


def _context_block(context: str | None) -> str:
    return f'Expert notes about this action:\n"""\n{context}\n"""\n' if context else ""


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
            name = _clean(st.get("name"), MAX_NAME, f"stage {i} name", report)
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
                    "description": _clean(
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
        name = _clean(kp.get("name"), MAX_NAME, f"keypoint {i} name", report)
        loc = _slug(raw_id) or _slug(name)
        if not loc:
            report.note(f"keypoint {i}: no id or name, skipped")
            continue
        same = loc if loc in kps else _fuzzy(name, {k: v.get("name", k) for k, v in kps.items()}, 90)
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
        stage = _fuzzy(stage_raw, stage_names)
        if stage is None:
            report.note(f"keypoint {loc!r}: unknown stage {stage_raw[:60]!r}, left empty")
        kps[loc] = {
            "name": name or loc,
            "stage": stage,
            "status": "draft",
            "origin": origin,
            "description": _clean(
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
        name = _clean(item.get("name"), MAX_NAME, f"difference {i} name", report)
        desc = _clean(item.get("description"), MAX_DESCRIPTION, f"difference {i} description", report)
        if not name or not desc:
            report.note(f"difference {i}: empty name or description, skipped")
            continue
        query = _clean(item.get("query_string"), MAX_QUERY, f"difference {i} query_string", report) or desc
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
                or id_map.get(_slug(raw))
                or _fuzzy(raw, kp_names, 85)
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


def _own_draft(item: dict[str, Any], origin: str) -> bool:
    """An item this model proposed that nobody has accepted yet: left out of the prompts, so a rerun of the
    same proposal asks exactly the same question (and the LLM cache answers it)."""
    return item.get("origin") == origin and item.get("status", "draft") == "draft"


def _existing_differences_text(tax: dict[str, Any], origin: str = "") -> str:
    live = [
        tax["differences"][k]
        for k in sorted_keys(tax["differences"])
        if tax["differences"][k]["status"] != "retired" and not _own_draft(tax["differences"][k], origin)
    ]
    if not live:
        return ""
    return (
        "Already in the taxonomy (do not repeat these):\n"
        + "\n".join(f"- {d['name']}: {d['description']}" for d in live)
        + "\n"
    )


def propose(
    root: str | os.PathLike,
    action: str,
    *,
    client: LLMClient,
    model: str,
    n: int = 15,
    context: str | None = None,
    dup_threshold: float = DEFAULT_DUP_THRESHOLD,
) -> ProposeReport:
    """Ask the LLM for stages, keypoints and ``n`` differences of ``action``; add them as drafts and save.

    Existing items are kept as they are; the new version lands in ``ROOT/taxonomies/<action>.json``
    (the previous one is kept under ``history/``).
    """
    if n < 1:
        raise ToolkitError("must be at least 1", key="--n")
    tax = load_or_create(root, action)
    report = ProposeReport(action)
    origin = f"llm:{model}"
    if context and len(context) > MAX_CONTEXT_CHARS:
        report.note(f"context has {len(context)} characters; the first {MAX_CONTEXT_CHARS} were sent")
        context = context[:MAX_CONTEXT_CHARS]
    ctx = _context_block(context)
    existing = ""
    stages_known = [s for s in tax["stages"] if not _own_draft(s, origin)]
    kps_known = {k: v for k, v in tax["keypoints"].items() if not _own_draft(v, origin)}
    if stages_known:
        existing = (
            "\nThe taxonomy already has these stages; reuse them exactly: "
            + "; ".join(f"{s['name']} ({s['description']})" for s in stages_known)
            + "\n"
        )
    if kps_known:
        existing += (
            "Existing keypoints (reuse their ids): "
            + "; ".join(f"{k}: {v['description']}" for k, v in kps_known.items())
            + "\n"
        )
    answer = client.complete(
        LLMRequest(
            stage="taxonomy.stages",
            model=model,
            system=SYSTEM,
            schema=STAGES_SCHEMA,
            schema_name="stage_transcript",
            prompt=STAGES_PROMPT.format(
                name=tax["name"],
                description=tax["description"],
                context=ctx,
                existing=existing,
                max_stages=MAX_STAGES,
            ),
        )
    )
    id_map = merge_stages(tax, answer, origin, report)
    stages = " > ".join(s["name"] for s in tax["stages"]) or "(none)"
    keypoints = (
        "; ".join(
            f"{k}: {v['description'] or v['name']}"
            for k, v in tax["keypoints"].items()
            if v.get("status") != "retired"
        )
        or "(none)"
    )
    answer = client.complete(
        LLMRequest(
            stage="taxonomy.differences",
            model=model,
            system=SYSTEM,
            schema=DIFFERENCES_SCHEMA,
            schema_name="differences",
            prompt=DIFFERENCES_PROMPT.format(
                name=tax["name"],
                description=tax["description"],
                context=ctx,
                n=n,
                stages=stages,
                keypoints=keypoints,
                existing=_existing_differences_text(tax, origin),
            ),
        )
    )
    merge_differences(tax, answer, id_map, n, origin, report, dup_threshold=dup_threshold)
    report.written = save_taxonomy(
        root,
        tax,
        op="propose",
        detail=f"{model}: +{len(report.added)} differences, +{len(report.keypoints_added)} keypoints",
    )
    return report
