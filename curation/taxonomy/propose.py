"""LLM proposals for a taxonomy: the stage transcript, keypoints, and linked differences, as drafts.

Two structured calls per action: (1) ordered stages and keypoints (critical instants, each in a
stage); (2) ``n`` visible, skill-relevant, direction-free differences, each linked to keypoints.
Everything the model returns is cleaned before it lands (:mod:`curation.taxonomy.drafts`). New items
are ``draft``; accepted items are never touched. People then accept, retire, merge or edit by key.
"""

from __future__ import annotations

import os
from typing import Any

from curation.taxonomy.drafts import MAX_STAGES, ProposeReport, merge_differences, merge_stages
from curation.taxonomy.dups import DEFAULT_DUP_THRESHOLD
from curation.taxonomy.keys import sorted_keys
from curation.taxonomy.store import load_or_create, save_taxonomy
from schemas.errors import ToolkitError
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.request import LLMRequest

MAX_CONTEXT_CHARS = 20_000

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


def _context_block(context: str | None) -> str:
    return f'Expert notes about this action:\n"""\n{context}\n"""\n' if context else ""


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

    def ask(stage: str, schema: dict[str, Any], schema_name: str, template: str, **fields: Any) -> Any:
        """One structured call about this action (its name, description and expert notes in the prompt)."""
        prompt = template.format(name=tax["name"], description=tax["description"], context=ctx, **fields)
        return client.complete(
            LLMRequest(
                stage=stage, model=model, system=SYSTEM, schema=schema, schema_name=schema_name, prompt=prompt
            )
        )

    answer = ask(
        "taxonomy.stages",
        STAGES_SCHEMA,
        "stage_transcript",
        STAGES_PROMPT,
        existing=existing,
        max_stages=MAX_STAGES,
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
    answer = ask(
        "taxonomy.differences",
        DIFFERENCES_SCHEMA,
        "differences",
        DIFFERENCES_PROMPT,
        n=n,
        stages=stages,
        keypoints=keypoints,
        existing=_existing_differences_text(tax, origin),
    )
    merge_differences(tax, answer, id_map, n, origin, report, dup_threshold=dup_threshold)
    report.written = save_taxonomy(
        root,
        tax,
        op="propose",
        detail=f"{model}: +{len(report.added)} differences, +{len(report.keypoints_added)} keypoints",
    )
    return report
