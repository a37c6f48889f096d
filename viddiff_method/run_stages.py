"""How a run feeds each stage: proposals (stage 1, reused from ``proposals/<key>.json``), CLIP embeddings and
the VidDiff localizer (stage 2), the VLM differencer and the LMM baseline (stage 3).

The methods' hooks (:mod:`viddiff_method.methods`) call :meth:`RunStages.localize_viddiff`,
:meth:`RunStages.difference` and :meth:`RunStages.run_lmm` on the run they are given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from schemas.dataset_dir import DatasetDir, diff_key_order, row_open_prediction_budget, sha256_file
from schemas.errors import ToolkitError
from schemas.ids import inside
from schemas.io import read_json, write_json
from schemas.redact import redact
from viddiff_method.config import RunConfig
from viddiff_method.dataset_rows import closed_differences, sample_keypoints
from viddiff_method.methods.baselines import LMMBaseline
from viddiff_method.stages import localizer as loc
from viddiff_method.stages.differencer import Differencer, DiffQuery, resize_max_side
from viddiff_method.stages.embed import VideoRef
from viddiff_method.stages.proposer import Proposal, Proposer, seed_for
from viddiff_runtime import media
from viddiff_runtime.llm.errors import LLMError

if TYPE_CHECKING:  # pragma: no cover
    from viddiff_method.methods import Method


def _stop_on_proposer_errors(proposer: Proposer, key: str) -> None:
    """A proposer call without a valid answer stops the run before a degraded proposal is saved."""
    if proposer.errors:
        raise LLMError(
            f"the proposer got no valid answer ({proposer.errors[0]}); nothing was saved for {key!r}, "
            "rerun to retry",
            key="proposer",
        )


class RunStages:
    """The stages' glue of :class:`viddiff_method.pipeline.Run` (a mixin: it uses the run's settings and its lazily made
    ``client`` and ``embedder``)."""

    spec: Method
    ds: DatasetDir
    out: Path
    mode: str
    cfg: RunConfig
    progress: bool
    repairs: dict[str, list[str]]

    # -- stage 1 ------------------------------------------------------------------------------
    def _proposal_key(self, s: dict[str, Any]) -> str:
        return s["action"] if self.cfg.proposer.per == "action" else s["sample_key"]

    def _proposals(self, pending: list[dict[str, Any]]) -> dict[str, Proposal]:
        """Proposals per action (or per sample), reusing ``proposals/<key>.json`` when present."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for s in pending:
            groups.setdefault(self._proposal_key(s), []).append(s)
        by_action: dict[str, list[dict[str, Any]]] = {}
        for r in self.ds.samples:
            by_action.setdefault(r["action"], []).append(r)
        keypoints_of: dict[str, dict[str, dict[str, Any]]] = {}  # per action: the taxonomy is read once
        proposer = Proposer(self.client, self.cfg)
        out: dict[str, Proposal] = {}
        for key, rows in groups.items():
            path = inside(self.out, f"proposals/{key}.json", what="proposal key")
            first = rows[0]
            action_rows = by_action[first["action"]]
            n_needed = max(row_open_prediction_budget(r) for r in rows) if self.mode == "open" else 0
            fingerprint = self._proposal_inputs(first)
            if path.exists():
                saved = dict(read_json(path))
                if (
                    saved.pop("inputs", None) == fingerprint
                ):  # an earlier proposal from other inputs is redone
                    p = Proposal.from_dict(saved)
                    if self.mode == "closed" or p.n_open >= n_needed:
                        out[key] = p
                        continue
            seed = seed_for(self.cfg, first if self.cfg.proposer.per == "sample" else None)
            if self.mode == "open":
                diffs = proposer.propose_differences(first["action_description"], n_needed, seed)
            else:
                diffs = {}
                for r in rows if self.cfg.proposer.per == "sample" else action_rows:
                    for k, d in (r.get("differences_annotated") or {}).items():
                        if d:
                            diffs.setdefault(k, d)
                diffs = dict(sorted(diffs.items(), key=lambda kv: diff_key_order(kv[0])))
            if first["action"] not in keypoints_of:
                keypoints_of[first["action"]] = sample_keypoints(self.ds, first["action"], action_rows)
            keypoints = dict(keypoints_of[first["action"]])
            _stop_on_proposer_errors(proposer, key)
            if self.spec.llm_proposal:
                p = proposer.propose(first["action"], first["action_description"], diffs, keypoints, seed)
                _stop_on_proposer_errors(proposer, key)
            else:
                p = Proposal(first["action"], first["action_description"], [], diffs, keypoints, [])
            p.n_open = n_needed
            if self.spec.llm_proposal and self.cfg.proposer.filter_retrieval_strings:
                strings = [s.retrieval_strings for s in p.stages]
                emb = self.embedder.embed_texts([t for ss in strings for t in ss])
                kept, notes = loc.filter_retrieval_strings(strings, emb)
                for st, k in zip(p.stages, kept):
                    st.retrieval_strings = k
                p.repairs += notes
            p.repairs = [redact(r) for r in p.repairs]  # repairs quote LLM text, which may echo a secret
            write_json(path, {**p.to_dict(), "inputs": fingerprint})
            out[key] = p
        for key, p in out.items():
            if p.repairs:
                self.repairs[key] = list(p.repairs)
        return out

    # -- stage 2 ------------------------------------------------------------------------------
    def _refs(self, s: dict[str, Any]) -> list[VideoRef]:
        refs = []
        for v in range(2):
            path = self.ds.video_path(s, v)
            if not path.exists():
                raise ToolkitError(
                    "video file not found", file=str(path), key=f"{s['sample_key']}.videos[{v}]"
                )
            sha = s["videos"][v].get("sha256") or sha256_file(path)
            refs.append(VideoRef(f"{s['sample_key']}/{v}", path, sha, self.cfg.fps_for(s["domain"])))
        return refs

    def _embed_videos(self, pending: list[dict[str, Any]]):
        """CLIP embeddings of every pending clip at its domain fps (from the cache where possible)."""
        refs = [r for s in pending for r in self._refs(s)]
        return self.embedder.embed_videos(refs, progress=self.progress)

    def _embed_texts(self, videos, proposals: dict[str, Proposal]) -> dict[str, Any]:
        """Add the embeddings of every stage's retrieval strings."""
        texts = [t for p in proposals.values() for st in p.stages for t in st.retrieval_strings]
        return {"videos": videos, "texts": self.embedder.embed_texts(texts)}

    def localize_viddiff(self, s, p: Proposal, embeddings, diffs) -> tuple[list, list, list]:
        cfg = self.cfg.localizer
        kps, dfs, segs_out = [], [], []
        stage_texts = [np.stack([embeddings["texts"][t] for t in st.retrieval_strings]) for st in p.stages]
        for v in range(2):
            ve = embeddings["videos"][f"{s['sample_key']}/{v}"]
            T = len(ve.plan.indices)
            S = loc.stage_similarity(ve.emb, stage_texts)
            segs = loc.segment(S, cfg.duration_prior)
            segs_out.append(
                [[ve.plan.indices[a], ve.plan.indices[b] if b < T else ve.plan.n_frames] for a, b in segs]
            )
            kp = {}
            for k in p.keypoints:
                row = loc.keypoint_frame(p.stage_of_keypoint(k), segs, T, cfg.keypoint_position)
                row = row if row is not None else (T - 1) // 2
                kp[k] = loc.to_source([row], ve.plan.indices)
            df = {}
            for k, d in diffs.items():
                rows = loc.frames_for_difference(
                    d["num_frames"],
                    p.stages_of(k),
                    segs,
                    T,
                    ve.plan.fps,
                    n=cfg.frames_per_difference,
                    spacing_seconds=cfg.spacing_seconds,
                )
                df[k] = loc.to_source(rows, ve.plan.indices)
            kps.append(kp)
            dfs.append(df)
        return kps, dfs, segs_out

    # -- stage 3 ------------------------------------------------------------------------------
    def difference(self, s, diffs, dfs, errors: list[str]) -> dict[str, dict[str, Any]]:
        if not diffs:
            return {}
        frames, fps = [], []
        for v in range(2):
            wanted = sorted({i for fr in dfs[v].values() for i in fr})
            # decoding explicit indices reports the clip's native fps, so the clip is not probed again
            dec = media.decode(self.ds.video_path(s, v), indices=wanted) if wanted else None
            frames.append(dict(zip(dec.indices, dec.frames)) if dec else {})
            fps.append(dec.fps if dec else 1.0)  # no frame of this clip is shown: the rate is never used
        qs = [
            DiffQuery(
                k,
                d["description"],
                [frames[0][i] for i in dfs[0][k]],
                [frames[1][i] for i in dfs[1][k]],
                [i / fps[0] for i in dfs[0][k]],
                [i / fps[1] for i in dfs[1][k]],
            )
            for k, d in diffs.items()
        ]
        differ = Differencer(self.client, self.cfg)
        preds = differ.run(s["action_description"], qs, seed_for(self.cfg, s))
        errors += differ.errors
        return {k: {"description": d["description"], "prediction": preds.get(k)} for k, d in diffs.items()}

    def run_lmm(self, s, errors: list[str]) -> dict[str, dict[str, Any]]:
        base = LMMBaseline(self.client, self.cfg)
        m = base.max_frames_per_video()
        frames, rates = [], []
        for v in range(2):
            path = self.ds.video_path(s, v)
            info = media.probe(path)
            native = float(info.fps)
            dec = media.decode(path, fps=min(self.cfg.fps_for(s["domain"]), native), max_frames=m, info=info)
            idx = dec.indices
            eff = (
                native * (len(idx) - 1) / (idx[-1] - idx[0]) if len(idx) > 1 and idx[-1] > idx[0] else dec.fps
            )
            frames.append(resize_max_side(list(dec.frames), self.cfg.differencer.max_side))
            rates.append(round(eff, 3))
        statements = (
            {k: d["description"] for k, d in closed_differences(s).items()} if self.mode == "closed" else {}
        )
        n = row_open_prediction_budget(s)
        req = base.request(
            s, self.mode, frames[0], frames[1], rates[0], rates[1], statements, n, seed_for(self.cfg, s)
        )
        answer = base.run([req])[0]
        errors += base.errors
        return base.predictions(self.mode, answer, statements, n)
