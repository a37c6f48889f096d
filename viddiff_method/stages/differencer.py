"""Stage 3, the differencer: a structured VLM call per difference (or per group of differences).

The images are the localized frames of video A, then those of video B; the prompt gives the action,
the statement (the difference's description), how many frames come from each video and how far apart
in seconds they are (computed from the stored clips' native fps). The answer is validated against a
JSON Schema whose ``answer`` is an enum (a/b, or a/b/c), so nothing is ever coerced to 'a' (a
published defect): an answer that stays invalid after the client's retries becomes a null prediction
and is reported. Groups never exceed the images-per-request cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from viddiff_method.config import RunConfig
from viddiff_method.stages.llm_calls import SYSTEM_PROMPT, complete_all
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.request import LLMRequest


@dataclass
class DiffQuery:
    """One difference to judge: its key, statement, and the frames chosen in A and in B."""

    key: str
    description: str
    frames_a: list[np.ndarray]
    frames_b: list[np.ndarray]
    seconds_a: list[float]  # timestamps of the frames in their clip
    seconds_b: list[float]


def options_text(options: str) -> str:
    """The answer options shown to the model."""
    text = "(a) video A, (b) video B"
    if options == "abc":
        text += ", (c) no visible difference or cannot tell"
    return text


def _gap(seconds: Sequence[float]) -> str:
    if len(seconds) < 2:
        return ""
    gaps = np.diff(seconds)
    return f" about {float(np.mean(gaps)):.2f} s apart"


def answer_schema(options: str) -> dict[str, Any]:
    """Schema of one answer: a short reasoning and the letter."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["answer_detailed", "answer"],
        "properties": {
            "answer_detailed": {"type": "string"},
            "answer": {"type": "string", "enum": list(options)},
        },
    }


def single_prompt(action_description: str, q: DiffQuery, options: str) -> str:
    """Prompt for one difference."""
    na, nb = len(q.frames_a), len(q.frames_b)
    return (
        f'These are frames from two videos of a person performing the action "{action_description}". '
        f"The first {na} image(s) are from video A{_gap(q.seconds_a)}, the last {nb} image(s) from video B"
        f"{_gap(q.seconds_b)}.\n"
        f'Statement: "{q.description}"\n'
        f"In which video is the statement more true? Options: {options_text(options)}. "
        "Explain briefly in 'answer_detailed', then give the letter in 'answer'."
    )


def group_prompt(action_description: str, qs: Sequence[DiffQuery], options: str) -> str:
    """Prompt for several differences of one pair in one request."""
    lines, pos = [], 1
    for q in qs:
        na, nb = len(q.frames_a), len(q.frames_b)
        lines.append(
            f'- statement {q.key}: "{q.description}" — images {pos}-{pos + na - 1} are video A'
            f"{_gap(q.seconds_a)}, images {pos + na}-{pos + na + nb - 1} are video B{_gap(q.seconds_b)}"
        )
        pos += na + nb
    return (
        f'These are frames from two videos (A and B) of a person performing the action "{action_description}". '
        "For each statement below, decide in which video it is more true, looking at that statement's images.\n"
        + "\n".join(lines)
        + f"\nOptions for each: {options_text(options)}. Answer every statement key."
    )


def keyed_answers_schema(keys: Sequence[str], item: dict[str, Any]) -> dict[str, Any]:
    """``{"answers": {key: item}}`` with every key required: the grouped answers of the differencer and
    the whole-video LMM baseline."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["answers"],
        "properties": {
            "answers": {
                "type": "object",
                "additionalProperties": False,
                "required": list(keys),
                "properties": dict.fromkeys(keys, item),
            }
        },
    }


def group_schema(keys: Sequence[str], options: str) -> dict[str, Any]:
    """Schema of a grouped answer: ``{"answers": {key: {answer_detailed, answer}}}``."""
    return keyed_answers_schema(keys, answer_schema(options))


def _cap_frames(q: DiffQuery, cap: int) -> DiffQuery:
    """Thin a query's frames evenly so that A + B fit in ``cap`` images."""
    if len(q.frames_a) + len(q.frames_b) <= cap:
        return q
    half = max(1, cap // 2)

    def thin(frames, secs):
        keep = np.unique(np.linspace(0, len(frames) - 1, min(half, len(frames))).round().astype(int))
        return [frames[i] for i in keep], [secs[i] for i in keep]

    fa, sa = thin(q.frames_a, q.seconds_a)
    fb, sb = thin(q.frames_b, q.seconds_b)
    return DiffQuery(q.key, q.description, fa, fb, sa, sb)


def plan_groups(qs: Sequence[DiffQuery], per_call: int, cap: int) -> list[list[DiffQuery]]:
    """Split queries into requests of at most ``per_call`` differences and ``cap`` images."""
    groups: list[list[DiffQuery]] = []
    cur: list[DiffQuery] = []
    n_img = 0
    for q in qs:
        q = _cap_frames(q, cap)
        k = len(q.frames_a) + len(q.frames_b)
        if cur and (len(cur) >= per_call or n_img + k > cap):
            groups.append(cur)
            cur, n_img = [], 0
        cur.append(q)
        n_img += k
    if cur:
        groups.append(cur)
    return groups


def resize_max_side(frames: Sequence[np.ndarray], side: int | None) -> list[np.ndarray]:
    """Downscale frames whose longer side exceeds ``side`` px (bicubic); ``None`` keeps them as they are."""
    if not side:
        return list(frames)
    from PIL import Image

    out = []
    for f in frames:
        h, w = f.shape[:2]
        if max(h, w) <= side:
            out.append(f)
            continue
        s = side / max(h, w)
        out.append(
            np.asarray(Image.fromarray(f).resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC))
        )
    return out


class Differencer:
    """Asks the VLM about every difference of a pair; returns ``{key: "a"|"b"|"c"|None}``."""

    def __init__(self, client: LLMClient, cfg: RunConfig):
        self.client = client
        self.cfg = cfg
        self.errors: list[str] = []

    def _resize(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        return resize_max_side(frames, self.cfg.differencer.max_side)

    def requests(
        self,
        action_description: str,
        qs: Sequence[DiffQuery],
        seed: int,
    ) -> list[tuple[list[DiffQuery], LLMRequest]]:
        """The requests (and the queries each answers) for one pair."""
        opts = self.cfg.differencer.options
        cap = self.cfg.llm.images_per_request
        out = []
        for group in plan_groups(qs, self.cfg.differencer.differences_per_call, cap):
            images = [im for q in group for im in self._resize(q.frames_a) + self._resize(q.frames_b)]
            if len(group) == 1:
                prompt, schema, name = (
                    single_prompt(action_description, group[0], opts),
                    answer_schema(opts),
                    "answer",
                )
            else:
                prompt = group_prompt(action_description, group, opts)
                schema, name = group_schema([q.key for q in group], opts), "answers"
            out.append(
                (
                    group,
                    LLMRequest(
                        stage="differencer",
                        model=self.cfg.llm.differencer_model,
                        prompt=prompt,
                        schema=schema,
                        schema_name=name,
                        system=SYSTEM_PROMPT,
                        images=images,
                        seed=seed,
                    ),
                )
            )
        return out

    def run(self, action_description: str, qs: Sequence[DiffQuery], seed: int) -> dict[str, str | None]:
        """Predictions for the queries of one pair (None where the VLM never gave a valid answer)."""
        planned = self.requests(action_description, qs, seed)
        answers = complete_all(self.client, [r for _, r in planned], self.errors)
        preds: dict[str, str | None] = {}
        for (group, _), ans in zip(planned, answers):
            for q in group:
                if ans is None:
                    preds[q.key] = None
                elif len(group) == 1:
                    preds[q.key] = ans["answer"]
                else:
                    preds[q.key] = ans["answers"][q.key]["answer"]
        return preds
