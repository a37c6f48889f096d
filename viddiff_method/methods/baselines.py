"""Baselines: random frames, a fixed-position keypoint prior, and the whole-video LMM.

* ``random``: frames drawn uniformly (with the same count and spacing as the method), then the same
  VLM differencer — the paper's "random frames" ablation.
* ``prior``: each keypoint at its mean relative position (frame / clip length) over the annotated
  samples of the same action, leaving the sample itself out so its own labels never leak in; a
  difference's frames come from its keypoints. Keypoints are strongly time-biased (about 6 % std of
  clip length), so this is a strong localization baseline.
* ``lmm``: one VLM call per pair with the frames of both whole videos at the domain fps (A then B),
  closed or open prompt (as in the published baseline), the frames' real timing stated in the prompt.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from viddiff_method.config import RunConfig
from viddiff_method.stages.differencer import keyed_answers_schema
from viddiff_method.stages.llm_calls import SYSTEM_PROMPT, complete_all
from viddiff_method.stages.localizer import centred_frames
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.request import LLMRequest

# ------------------------------------------------------------------------------------- random frames


def random_frames(
    rng: np.random.Generator,
    num_frames: str,
    T: int,
    fps: float,
    *,
    n: int = 3,
    spacing_seconds: float = 0.35,
) -> list[int]:
    """Random rows: one for ``"1"``, ``n`` spaced ones around a random centre for ``"gt_1"``."""
    if T <= 0:
        return []
    centre = int(rng.integers(0, T))
    if num_frames == "1":
        return [centre]
    return centred_frames(centre, n, int(round(spacing_seconds * fps)), T)


# ------------------------------------------------------------------------------------- position prior


class PositionPrior:
    """Mean relative position of each keypoint per action, from ``retrieval_frames`` annotations."""

    def __init__(self, samples: Sequence[dict[str, Any]]):
        # action -> keypoint -> list of (sample_key, relative position)
        self._obs: dict[str, dict[str, list[tuple[str, float]]]] = defaultdict(lambda: defaultdict(list))
        for s in samples:
            rf = s.get("retrieval_frames")
            if not rf:
                continue
            for v, locs in enumerate(rf[:2]):
                n = s["videos"][v].get("n_frames") or 0
                if n <= 0:
                    continue
                for kp, frames in (locs or {}).items():
                    if frames:
                        self._obs[s["action"]][kp].append((s["sample_key"], (frames[0] + 0.5) / n))

    def position(self, action: str, kp: str, *, exclude: str | None = None) -> float | None:
        """Mean relative position in [0, 1) of ``kp`` (leave-one-out on ``exclude``); None if unseen."""
        vals = [r for key, r in self._obs.get(action, {}).get(kp, []) if key != exclude]
        return float(np.mean(vals)) if vals else None

    def frame(self, action: str, kp: str, n_frames: int, *, exclude: str | None = None) -> int | None:
        """Predicted 0-based frame of ``kp`` in a clip of ``n_frames`` frames."""
        pos = self.position(action, kp, exclude=exclude)
        if pos is None or n_frames <= 0:
            return None
        return int(min(n_frames - 1, max(0, math.floor(pos * n_frames))))


# ------------------------------------------------------------------------------------- whole-video LMM


def lmm_closed_schema(keys: Sequence[str], options: str) -> dict[str, Any]:
    """``{"answers": {key: {"prediction": a|b}}}`` for the given statement keys."""
    item = {
        "type": "object",
        "additionalProperties": False,
        "required": ["prediction"],
        "properties": {"prediction": {"type": "string", "enum": list(options)}},
    }
    return keyed_answers_schema(keys, item)


def lmm_open_schema(n: int, options: str) -> dict[str, Any]:
    """``{"differences": [{description, prediction}]}`` with at most ``n`` items."""
    item = {
        "type": "object",
        "additionalProperties": False,
        "required": ["description", "prediction"],
        "properties": {
            "description": {"type": "string"},
            "prediction": {"type": "string", "enum": list(options)},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["differences"],
        "properties": {"differences": {"type": "array", "items": item}},
    }


def _preamble(action_description: str, na: int, nb: int, fps_a: float, fps_b: float) -> str:
    return (
        f'You are shown two videos of a person performing the action "{action_description}", as frames. '
        f"The first {na} images are video A, sampled at {fps_a:g} frames per second ({na / fps_a:.1f} s); "
        f"the last {nb} images are video B, sampled at {fps_b:g} frames per second ({nb / fps_b:.1f} s).\n"
    )


class LMMBaseline:
    """One request per pair with both whole videos."""

    def __init__(self, client: LLMClient, cfg: RunConfig):
        self.client = client
        self.cfg = cfg
        self.errors: list[str] = []

    def max_frames_per_video(self) -> int:
        """Frames per video so that A + B fit the images-per-request cap."""
        cap = self.cfg.llm.images_per_request // 2
        m = self.cfg.lmm.max_frames_per_video
        return max(1, min(cap, m) if m else cap)

    def request(
        self,
        sample: dict[str, Any],
        mode: str,
        frames_a: list[np.ndarray],
        frames_b: list[np.ndarray],
        fps_a: float,
        fps_b: float,
        statements: dict[str, str],
        n_open: int,
        seed: int,
    ) -> LLMRequest:
        """The closed or open request for one pair."""
        opts = self.cfg.differencer.options
        pre = _preamble(sample["action_description"], len(frames_a), len(frames_b), fps_a, fps_b)
        if mode == "closed":
            listing = "\n".join(f'- {k}: "{d}"' for k, d in statements.items())
            prompt = (
                pre + "For each statement below, say in which video it is more true: 'a' (video A) or 'b' "
                "(video B)"
                + (", or 'c' if there is no visible difference" if opts == "abc" else "")
                + f".\n{listing}\nAnswer every key."
            )
            schema, name = lmm_closed_schema(list(statements), opts), "closed"
        else:
            prompt = (
                pre + f"List up to {n_open} differences in how the action is performed in the two videos. "
                "Each 'description' is a visual statement that does not mention video A or B (e.g. 'the "
                "knees bend more'), and 'prediction' says in which video it is more true ('a' or 'b')."
            )
            schema, name = lmm_open_schema(n_open, opts), "open"
        return LLMRequest(
            stage="lmm",
            model=self.cfg.llm.lmm_model,
            prompt=prompt,
            schema=schema,
            schema_name=name,
            system=SYSTEM_PROMPT,
            images=[*frames_a, *frames_b],
            seed=seed,
        )

    def predictions(
        self, mode: str, answer: dict[str, Any] | None, statements: dict[str, str], n_open: int
    ) -> dict[str, dict[str, Any]]:
        """Benchmark-format predictions from an answer (null predictions when there is none)."""
        if mode == "closed":
            got = (answer or {}).get("answers", {})
            return {
                k: {"description": d, "prediction": (got.get(k) or {}).get("prediction")}
                for k, d in statements.items()
            }
        items = (answer or {}).get("differences", [])[:n_open]
        return {
            str(i): {"description": it["description"], "prediction": it["prediction"]}
            for i, it in enumerate(items)
        }

    def run(self, reqs: Sequence[LLMRequest]) -> list[dict[str, Any] | None]:
        """Answers to the requests (None for a request that failed for good)."""
        return complete_all(self.client, reqs, self.errors)
