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

This module is the driver (selection, the loop over pairs, one sample's result); :class:`Run` takes its
resume logic from :mod:`viddiff_method.resume`, the stages' glue from :mod:`viddiff_method.run_stages` and
the aggregate files from :mod:`viddiff_method.outputs`; :mod:`viddiff_method.dataset_rows` reads the rows.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.dataset_dir import load_dataset, row_open_prediction_budget
from schemas.errors import ToolkitError
from schemas.io import write_json
from schemas.outdir import output_folder
from schemas.redact import redact
from viddiff_method.backends.clip import ClipBackend
from viddiff_method.backends.clip_cache import ClipCache
from viddiff_method.config import RunConfig
from viddiff_method.dataset_rows import closed_differences
from viddiff_method.methods import get_method
from viddiff_method.outputs import RunOutputs
from viddiff_method.resume import RunResume
from viddiff_method.run_stages import RunStages
from viddiff_method.stages.embed import FrameEmbedder
from viddiff_method.stages.llm_calls import make_client
from viddiff_runtime.llm.config import default_cache_dir
from viddiff_runtime.llm.errors import LLMError

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


# ----------------------------------------------------------------------------------------- the run


class Run(RunResume, RunStages, RunOutputs):
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

    # -- one sample ---------------------------------------------------------------------------
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
