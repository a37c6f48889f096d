"""`viddiff run` as a library call: proposer → CLIP localizer → VLM differencer (or a baseline).

RUN_DIR layout::

    config.json              the resolved run (mode, method, dataset, every setting)
    predictions.json         {sample_key: {diff_key: {description, prediction}}}
    localization.json        {sample_key: [{loc_id: [frame]}, {...}]}  keypoints, stored-clip frames
    difference_frames.json   {sample_key: [{diff_key: [frames]}, {...}]}  frames shown per difference
    usage.json               LLM calls/cache hits/tokens/cost per stage of this invocation, the CLIP stage's
                             counters, the endpoint's structured-output mode and served model, and
                             ``cumulative``: the LLM totals over every invocation into this RUN_DIR
    report.json              samples done/skipped, proposer repairs, failed calls
    proposals/<action>.json  the proposer's stages, links and repairs (reused on rerun)
    samples/<key>.json       one finished sample, with the fingerprint of its inputs (a rerun skips it
                             while its clips, differences, proposal and config are unchanged)
    .viddiff-folder.json     marks the folder as a RUN_DIR (another non-empty folder is refused)
    (no cache here: llm.sqlite and clip.sqlite live in the cache every command shares, see --cache-dir)

Frames written out are 0-based indices into the stored clips at their native fps, mapped back from
the rows of the downsampled clip the localizer worked on.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schemas import check
from schemas.dataset_dir import (
    DatasetDir,
    content_hash,
    diff_key_order,
    load_dataset,
    row_open_prediction_budget,
    sha256_file,
)
from schemas.errors import ToolkitError
from schemas.ids import inside
from schemas.io import read_json, write_json
from schemas.outdir import output_folder
from schemas.redact import redact
from viddiff_method.backends.clip import ClipBackend
from viddiff_method.backends.clip_cache import ClipCache
from viddiff_method.config import RunConfig
from viddiff_method.methods import get_method
from viddiff_method.methods.baselines import LMMBaseline
from viddiff_method.stages import localizer as loc
from viddiff_method.stages.differencer import Differencer, DiffQuery, resize_max_side
from viddiff_method.stages.embed import FrameEmbedder, VideoRef
from viddiff_method.stages.llm_calls import make_client
from viddiff_method.stages.proposer import Proposal, Proposer, seed_for
from viddiff_runtime import media
from viddiff_runtime.llm.config import default_cache_dir
from viddiff_runtime.llm.errors import LLMError
from viddiff_runtime.llm.usage import with_cumulative

log = logging.getLogger(__name__)

MODES = ("closed", "open")


@dataclass
class RunSummary:
    """What a run did: counts, where the outputs are, and the usage."""

    out: Path
    n_selected: int
    n_done_before: int
    n_done_now: int
    n_incomplete: int
    skipped: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    redone: dict[str, str] = field(
        default_factory=dict
    )  # sample_key -> why its earlier result was not reused
    errors: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------- dataset


def sample_keypoints(ds: DatasetDir, action: str, samples: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Keypoints of an action: its taxonomy's active keypoints, else the loc_ids in retrieval_frames."""
    tax = ds.taxonomy(action)
    if tax is not None:
        return {
            k: {"name": v.get("name", k), "description": v.get("description", ""), "stage": v.get("stage")}
            for k, v in tax["keypoints"].items()
            if v.get("status", "active") == "active"
        }
    keys: dict[str, dict[str, Any]] = {}
    for s in samples:
        for locs in s.get("retrieval_frames") or []:
            for k in locs or {}:
                keys.setdefault(k, {"name": k, "description": k, "stage": None})
    return keys


def closed_differences(sample: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sample's differences to predict in closed mode: every non-null ground-truth key."""
    gt = sample.get("differences_gt") or {}
    ann = sample.get("differences_annotated") or {}
    return {k: ann[k] for k in sorted(gt, key=diff_key_order) if gt[k] is not None and ann.get(k)}


# ----------------------------------------------------------------------------------------- the run

#: Settings that change how a run is executed but not what it computes; a resumed run may change them.
EXECUTION_ONLY = {
    "llm": (
        "base_url",
        "api_key_env",
        "max_concurrency",
        "max_cost",
        "prices",
        "timeout_s",
        "max_retries",
        "backoff_initial_s",
        "backoff_max_s",
        "max_tokens_retry",
        "structured_output",
        "json_object_schema",
        "strict_schema",
    ),
    "clip": ("device", "batch_size"),
}


def _semantic(value: Any) -> Any:
    """A config with the execution-only settings removed (for comparing a resumed run's config)."""
    if not isinstance(value, dict) or "llm" not in value:
        return value
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
    for section, keys in EXECUTION_ONLY.items():
        for k in keys:
            out.get(section, {}).pop(k, None)
    return out


def _stop_on_proposer_errors(proposer: Proposer, key: str) -> None:
    """A proposer call without a valid answer stops the run before a degraded proposal is saved."""
    if proposer.errors:
        raise LLMError(
            f"the proposer got no valid answer ({proposer.errors[0]}); nothing was saved for {key!r}, "
            "rerun to retry",
            key="proposer",
        )


class Run:
    """One `viddiff run` invocation over a dataset directory, writing into ``out``."""

    def __init__(
        self,
        dataset: str | os.PathLike,
        out: str | os.PathLike,
        *,
        mode: str,
        method: str = "viddiff",
        config: RunConfig | None = None,
        split: str | None = None,
        limit: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        progress: bool = True,
        no_cache: bool = False,
    ):
        if mode not in MODES:
            raise ToolkitError(f"unknown mode {mode!r}; use closed or open", key="--mode")
        self.spec = get_method(method)
        self.ds = load_dataset(dataset)
        self.out = Path(out)
        self.mode, self.method = mode, method
        self.cfg = config or RunConfig()
        self.split, self.limit = split, limit
        self.progress = progress
        # LLM answers and CLIP embeddings: --cache-dir, else the cache every command shares (VIDDIFF_CACHE_DIR,
        # else the user cache folder), so a rerun into a new RUN_DIR, another split or eval never pays twice
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.llm_cache = None if no_cache else self.cache_dir / "llm.sqlite"
        self.skipped: dict[str, str] = {}
        self.redone: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self._proposal_fp: dict[str, str] = {}
        self.repairs: dict[str, list[str]] = {}
        self.errors: list[str] = []
        self._client = None
        self._embedder: FrameEmbedder | None = None
        self._clip: ClipBackend | None = None

    # -- lazily made backends -----------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = make_client(self.cfg, self.llm_cache)
        return self._client

    @property
    def embedder(self) -> FrameEmbedder:
        if self._embedder is None:
            self._clip = ClipBackend.from_settings(self.cfg.clip, seed=self.cfg.seed)
            self._embedder = FrameEmbedder(self._clip, ClipCache(self.cache_dir / "clip.sqlite"))
        return self._embedder

    # -- selection ----------------------------------------------------------------------------
    def select(self) -> list[dict[str, Any]]:
        """Rows of the split (all if none), in file order, that this mode can run on, first ``limit``."""
        rows = [s for s in self.ds.samples if self.split is None or s.get("split") == self.split]
        if self.split is not None and not rows:
            splits = sorted({str(s.get("split")) for s in self.ds.samples})
            raise ToolkitError(
                f"no sample has split {self.split!r} (splits: {', '.join(splits)})", key="--split"
            )
        out = []
        for s in rows:
            if self.mode == "closed" and not closed_differences(s):
                self.skipped[s["sample_key"]] = "no labelled (non-null) differences to predict"
                continue
            if self.mode == "open" and not row_open_prediction_budget(s):
                self.skipped[s["sample_key"]] = "no n_differences_open_prediction and no labels to derive it"
                continue
            out.append(s)
        return out[: self.limit] if self.limit is not None else out

    def _resolved(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "method": self.method,
            "dataset": str(self.ds.root.resolve()),
            "dataset_name": self.ds.meta.get("name"),
            "split": self.split,
            "limit": self.limit,
            "config": self.cfg.to_dict(),
        }

    def _check_out_dir(self) -> None:
        path = self.out / "config.json"
        mine = self._resolved()
        if path.exists():
            old = read_json(path)
            for k in ("mode", "method", "config"):
                if _semantic(old.get(k)) != _semantic(mine[k]):
                    raise ToolkitError(
                        f"RUN_DIR was made with a different {k}; use a new --out to start afresh",
                        file=str(path),
                        key=k,
                    )
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(path, mine)

    # -- main ---------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        """Run every unfinished selected sample, then write the aggregate files (also after a stop)."""
        with output_folder(self.out, "run", legacy=("config.json",)):
            return self._run_locked()

    def _run_locked(self) -> RunSummary:
        self._check_out_dir()
        selected = self.select()
        self.inputs = {s["sample_key"]: self._sample_inputs(s) for s in selected}
        done, redone = set(), {}
        for s in selected:
            state = self._sample_state(s["sample_key"])
            if state == "done":
                done.add(s["sample_key"])
            elif state is not None:
                redone[s["sample_key"]] = state
        self.redone = redone
        pending = [s for s in selected if s["sample_key"] not in done]
        n_now = n_incomplete = 0
        try:
            if pending:
                # clips first: the costly stage, and a CLIP model that cannot load fails before any LLM call
                videos = self._embed_videos(pending) if self.spec.embeds_clips else {}
                proposals = self._proposals(pending) if self.spec.proposes else {}
                embeddings = self._embed_texts(videos, proposals) if self.spec.embeds_clips else {}
                from tqdm.auto import tqdm

                for s in tqdm(pending, desc=f"viddiff {self.method}", unit="pair", disable=not self.progress):
                    result = self._run_sample(s, proposals, embeddings)
                    result["inputs"] = self.inputs[s["sample_key"]]
                    write_json(self._sample_path(s["sample_key"]), result)
                    if result["complete"]:
                        n_now += 1
                    else:
                        n_incomplete += 1
                        answered = [v for v in result["predictions"].values() if v["prediction"] is not None]
                        if not n_now and not answered and result["errors"] and n_incomplete >= 2:
                            # nothing has worked yet: the endpoint is down or misconfigured, stop early
                            raise LLMError(
                                f"no valid answer for the first {n_incomplete} pairs; stopping "
                                f"({result['errors'][0]})",
                                key=self.spec.answer_stage,
                            )
        finally:
            usage = self._write_outputs(selected)
        return RunSummary(
            self.out,
            len(selected),
            len(done),
            n_now,
            n_incomplete,
            dict(self.skipped),
            usage,
            redone=redone,
            errors=list(self.errors),
        )

    def _sample_path(self, key: str) -> Path:
        return inside(self.out, f"samples/{key}.json", what="sample_key")

    def _sample_state(self, key: str) -> str | None:
        """ "done" when an earlier result is complete and its inputs are unchanged; None when there is no
        earlier result; otherwise why the earlier result is redone."""
        p = self._sample_path(key)
        if not p.exists():
            return None
        try:
            old = read_json(p)
        except ToolkitError:
            return "earlier result unreadable"
        if old.get("inputs") != self.inputs[key]:
            return "inputs changed" if old.get("inputs") else "inputs not recorded"
        return "done" if old.get("complete") else None

    # -- fingerprints -------------------------------------------------------------------------
    def _proposal_inputs(self, s: dict[str, Any]) -> str:
        """Fingerprint of what the proposal used by ``s`` is made from (no LLM call needed)."""
        if not self.spec.proposes:
            return ""
        per_sample = self.cfg.proposer.per == "sample"
        memo_key = s["sample_key"] if per_sample else s["action"]
        if memo_key in self._proposal_fp:  # per action: the taxonomy is read once, not once per pair
            return self._proposal_fp[memo_key]
        action_rows = [r for r in self.ds.samples if r["action"] == s["action"]]
        basis: dict[str, Any] = {
            "action": s["action"],
            "description": s["action_description"],
            "mode": self.mode,
            "method": self.method,
            "seed": seed_for(self.cfg, s if per_sample else None),
            "keypoints": sample_keypoints(self.ds, s["action"], action_rows),
        }
        if self.mode == "closed" and self.spec.proposal_uses_action_differences:  # baselines: the row's own
            diffs: dict[str, Any] = {}
            for r in [s] if per_sample else action_rows:
                for k, d in (r.get("differences_annotated") or {}).items():
                    if d:
                        diffs.setdefault(k, d)
            basis["differences"] = diffs
        self._proposal_fp[memo_key] = content_hash(basis)
        return self._proposal_fp[memo_key]

    def _sample_inputs(self, s: dict[str, Any]) -> str:
        """Fingerprint of everything a sample's result is computed from: its clips (sha256), the labelled
        differences and their statements (closed) or the prediction budget (open), the proposal's inputs,
        the position prior's annotations and the run's semantic config."""
        basis: dict[str, Any] = {
            "videos": [
                [v.get("path"), v.get("sha256") or sha256_file(self.ds.video_path(s, i))]
                for i, v in enumerate(s["videos"])
            ],
            "action": s["action"],
            "action_description": s["action_description"],
            "domain": s["domain"],
            "mode": self.mode,
            "method": self.method,
            "config": _semantic(self.cfg.to_dict()),
            "proposal": self._proposal_inputs(s),
        }
        if self.mode == "closed":
            basis["differences"] = closed_differences(s)
        else:
            basis["n_open"] = row_open_prediction_budget(s)
        if self.spec.uses_other_pairs_keypoints:
            basis["prior"] = [
                r.get("retrieval_frames")
                for r in self.ds.samples
                if r["action"] == s["action"] and r["sample_key"] != s["sample_key"]
            ]
        return content_hash(basis)

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
    def _run_sample(self, s, proposals, embeddings) -> dict[str, Any]:
        key = s["sample_key"]
        errors: list[str] = []
        if not self.spec.proposes:
            p, diffs = None, {}
        else:
            p = proposals[self._proposal_key(s)]
            if self.mode == "closed":
                diffs = closed_differences(s)
            else:
                diffs = dict(list(p.differences.items())[: row_open_prediction_budget(s)])
        kps, dfs, segs = self.spec.localize(self, s, p, embeddings, diffs)
        preds = self.spec.predict(self, s, diffs, dfs, errors)
        complete = all(v["prediction"] is not None for v in preds.values()) and not errors
        self.errors += errors
        return {
            "sample_key": key,
            "complete": complete,
            "predictions": preds,
            "localization": kps,
            "difference_frames": dfs,
            "stage_segments": segs,
            "errors": [redact(e) for e in errors],
        }

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

    # -- outputs ------------------------------------------------------------------------------
    def _write_outputs(self, selected: list[dict[str, Any]]) -> dict[str, Any]:
        preds, locs, dframes = {}, {}, {}
        incomplete = []
        for s in selected:
            p = self._sample_path(s["sample_key"])
            if not p.exists():
                continue
            r = read_json(p)
            preds[s["sample_key"]] = r["predictions"]
            locs[s["sample_key"]] = r["localization"]
            dframes[s["sample_key"]] = r["difference_frames"]
            if not r.get("complete"):
                incomplete.append(s["sample_key"])
        check("predictions", preds, file=str(self.out / "predictions.json"))
        check("localization", locs, file=str(self.out / "localization.json"))
        write_json(self.out / "predictions.json", preds)
        write_json(self.out / "localization.json", locs)
        write_json(self.out / "difference_frames.json", dframes)
        usage = self.usage()
        write_json(self.out / "usage.json", with_cumulative(usage, self.out / "usage.json"))
        write_json(
            self.out / "report.json",
            {
                "samples_selected": len(selected),
                "samples_written": len(preds),
                "incomplete": incomplete,
                "skipped": self.skipped,
                "proposer_repairs": self.repairs,
                "redone": self.redone,
                "errors": [redact(e) for e in self.errors],
            },
        )
        return usage

    def usage(self) -> dict[str, Any]:
        """This invocation's usage: LLM stages (calls, cache hits, tokens, cost) plus the CLIP stage."""
        from viddiff_runtime.llm.usage import Usage

        out = (self._client.usage if self._client is not None else Usage()).as_dict()
        if self._client is not None:
            out["llm_endpoint"] = self._client.endpoint_report()
        if self._embedder is not None:
            c = self._clip.counters()
            out["clip"] = {
                "calls": c["batches"],
                "frames_encoded": c["frames_encoded"],
                "texts_encoded": c["texts_encoded"],
                "frames_from_cache": self._embedder.frames_from_cache,
                "texts_from_cache": self._embedder.texts_from_cache,
                "model_loaded": self._clip.loaded,
                "model": self._clip.model_id,
            }
        return out


def run(
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    *,
    mode: str,
    method: str = "viddiff",
    config: RunConfig | None = None,
    split: str | None = None,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    no_cache: bool = False,
) -> RunSummary:
    """Run the VidDiff method or a baseline on a dataset directory; see the module docstring for outputs."""
    return Run(
        dataset,
        out,
        mode=mode,
        method=method,
        config=config,
        split=split,
        limit=limit,
        cache_dir=cache_dir,
        progress=progress,
        no_cache=no_cache,
    ).run()
