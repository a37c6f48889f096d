"""Resuming a RUN_DIR: the run's recorded config, each sample's input fingerprint and whether its earlier
result is reused (see :mod:`viddiff_method.pipeline` for the layout).

A rerun reuses ``samples/<key>.json`` only while the fingerprint of everything it was computed from (clips,
differences, proposal inputs, semantic config) is unchanged; execution-only settings may change freely.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.dataset_dir import DatasetDir, content_hash, row_open_prediction_budget, sha256_file
from schemas.errors import ToolkitError
from schemas.ids import inside
from schemas.io import read_json, write_json
from viddiff_method.config import RunConfig
from viddiff_method.dataset_rows import closed_differences, sample_keypoints
from viddiff_method.stages.proposer import seed_for

if TYPE_CHECKING:  # pragma: no cover
    from viddiff_method.methods import Method

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


class RunResume:
    """The resume logic of :class:`viddiff_method.pipeline.Run` (a mixin: it reads the run's settings)."""

    spec: Method
    ds: DatasetDir
    out: Path
    mode: str
    method: str
    cfg: RunConfig
    split: str | None
    limit: int | None
    inputs: dict[str, str]
    _proposal_fp: dict[str, str]

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
