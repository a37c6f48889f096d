"""The registry of methods ``viddiff run --method`` can run, each one class with its traits and hooks.

A method says which stages it needs (CLIP over the clips, the LLM proposer) and implements the two
per-pair steps: :meth:`Method.localize` (keypoint frames and the frames shown per difference) and
:meth:`Method.predict` (an a/b/c answer per difference). :class:`viddiff_method.pipeline.Run` drives
the rest (selection, fingerprints, resume, caches, outputs) the same way for all of them.

Built in: ``viddiff`` (proposer → CLIP localizer → VLM differencer), ``lmm`` (one whole-video call per
pair), ``random`` (random frames) and ``prior`` (keypoints at their mean relative position in the other
pairs of the action). A lab adds its own by subclassing :class:`Method` and registering it with
:func:`register_method` or under the entry-point group ``viddiff_toolkit.methods``.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from schemas.errors import ToolkitError

if TYPE_CHECKING:  # pragma: no cover
    from viddiff_method.pipeline import Run
    from viddiff_method.stages.proposer import Proposal

ENTRY_POINT_GROUP = "viddiff_toolkit.methods"
Frames = list[dict[str, list[int]]]


class Method:
    """One method: its traits (class attributes) and its per-pair hooks."""

    name: ClassVar[str] = ""
    #: embed every sampled frame of both clips with CLIP before the pairs run
    embeds_clips: ClassVar[bool] = False
    #: build a proposal per action (or pair): True for every method that localizes
    proposes: ClassVar[bool] = True
    #: the proposal asks the LLM for stages and links (else: the taxonomy's differences and keypoints only)
    llm_proposal: ClassVar[bool] = False
    #: the proposal (closed mode) depends on every difference of the action, not only the pair's own
    proposal_uses_action_differences: ClassVar[bool] = False
    #: the pair's result depends on the other pairs' annotated keypoints (their fingerprint is included)
    uses_other_pairs_keypoints: ClassVar[bool] = False
    #: the usage stage a stop on failed answers is reported under
    answer_stage: ClassVar[str] = "differencer"

    def localize(
        self, run: Run, s: dict[str, Any], proposal: Proposal, embeddings: Any, diffs: dict[str, Any]
    ) -> tuple[Frames, Frames, Any]:
        """``(keypoint frames, frames per difference, stage segments or None)`` for A and B."""
        raise NotImplementedError

    def predict(
        self, run: Run, s: dict[str, Any], diffs: dict[str, Any], dfs: Frames, errors: list[str]
    ) -> dict[str, dict[str, Any]]:
        """``{diff_key: {description, prediction}}``: by default the VLM differencer on ``dfs``."""
        return run.difference(s, diffs, dfs, errors)


class ViddiffMethod(Method):
    """The VidDiff method: LLM proposer → CLIP frame localizer → VLM differencer."""

    name = "viddiff"
    embeds_clips = True
    llm_proposal = True
    proposal_uses_action_differences = True

    def localize(self, run, s, proposal, embeddings, diffs):
        return run.localize_viddiff(s, proposal, embeddings, diffs)


class _FrameBaseline(Method):
    """Baselines that pick frames without looking at them, then ask the VLM differencer."""

    def keypoint_frame(
        self, run: Run, s: dict[str, Any], loc_id: str, n_frames: int, rng: np.random.Generator
    ) -> int:
        raise NotImplementedError

    def difference_frames(
        self,
        run: Run,
        d: dict[str, Any],
        kp: dict[str, list[int]],
        n_frames: int,
        fps: float,
        rng: np.random.Generator,
    ) -> list[int]:
        """Frames linked to the difference's keypoints (the middle of their span), else the whole clip's."""
        from viddiff_method.stages import localizer as loc

        cfg = run.cfg.localizer
        linked = [kp[x][0] for x in (d.get("keypoints") or []) if kp.get(x)]
        a, b = (min(linked), max(linked) + 1) if linked else (0, n_frames)
        centre = (a + b - 1) // 2
        if d["num_frames"] == "1" and linked:
            return [linked[0]]
        return loc.centred_frames(
            centre,
            1 if d["num_frames"] == "1" else cfg.frames_per_difference,
            int(round(cfg.spacing_seconds * fps)),
            n_frames,
        )

    def localize(self, run, s, proposal, embeddings, diffs):
        from viddiff_method.stages.proposer import seed_for
        from viddiff_runtime import media

        rng = np.random.default_rng(seed_for(run.cfg, s))
        kps, dfs = [], []
        for v in range(2):
            info = media.probe(run.ds.video_path(s, v))
            n, fps = info.n_frames, float(info.fps)
            kp = {k: [self.keypoint_frame(run, s, k, n, rng)] for k in proposal.keypoints}
            dfs.append({k: self.difference_frames(run, d, kp, n, fps, rng) for k, d in diffs.items()})
            kps.append(kp)
        return kps, dfs, None


class RandomMethod(_FrameBaseline):
    """Random keypoint frames, random frames per difference (a floor for the localizer)."""

    name = "random"

    def keypoint_frame(self, run, s, loc_id, n_frames, rng):
        return int(rng.integers(0, n_frames))

    def difference_frames(self, run, d, kp, n_frames, fps, rng):
        from viddiff_method.methods.baselines import random_frames

        cfg = run.cfg.localizer
        return random_frames(
            rng,
            d["num_frames"],
            n_frames,
            fps,
            n=cfg.frames_per_difference,
            spacing_seconds=cfg.spacing_seconds,
        )


class PriorMethod(_FrameBaseline):
    """Each keypoint at its mean relative position in the action's other annotated pairs."""

    name = "prior"
    uses_other_pairs_keypoints = True

    def __init__(self) -> None:
        self._prior = None

    def keypoint_frame(self, run, s, loc_id, n_frames, rng):
        from viddiff_method.methods.baselines import PositionPrior

        if self._prior is None:
            self._prior = PositionPrior(run.ds.samples)
        f = self._prior.frame(s["action"], loc_id, n_frames, exclude=s["sample_key"])
        return f if f is not None else (n_frames - 1) // 2


class LMMMethod(Method):
    """The whole-video LMM baseline: one call per pair with both clips' frames, no localization."""

    name = "lmm"
    proposes = False
    answer_stage = "lmm"

    def localize(self, run, s, proposal, embeddings, diffs):
        return [{}, {}], [{}, {}], None

    def predict(self, run, s, diffs, dfs, errors):
        return run.run_lmm(s, errors)


_registry: dict[str, type[Method]] = {}
_loaded = False


def register_method(cls: type[Method]) -> type[Method]:
    """Register a :class:`Method` subclass under its ``name`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Method)) or not cls.name:
        raise ToolkitError(f"{cls!r} is not a method (a Method subclass with a name)")
    _registry[cls.name] = cls
    return cls


def methods() -> dict[str, type[Method]]:
    """Every registered method: the built-ins, then entry-point plugins."""
    global _loaded
    if not _loaded:
        _loaded = True
        for cls in (ViddiffMethod, LMMMethod, RandomMethod, PriorMethod):
            register_method(cls)
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                register_method(ep.load())
            except (ImportError, AttributeError) as e:
                raise ToolkitError(
                    f"cannot load method {ep.value!r}: {e}", key=f"entry point {ENTRY_POINT_GROUP}:{ep.name}"
                ) from None
    return dict(_registry)


def get_method(name: str) -> Method:
    """A fresh instance of method ``name``; an unknown name is a one-line error listing the known ones."""
    table = methods()
    if name not in table:
        raise ToolkitError(f"unknown method {name!r}; use one of {', '.join(table)}", key="--method")
    return table[name]()
