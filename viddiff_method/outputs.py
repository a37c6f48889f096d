"""A run's aggregate outputs: predictions.json, localization.json, difference_frames.json, usage.json and
report.json, gathered from ``samples/<key>.json`` (written after every invocation, also after a stop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from schemas import check
from schemas.io import read_json, write_json
from schemas.redact import redact
from viddiff_runtime.llm.usage import with_cumulative


class RunOutputs:
    """The output writing of :class:`viddiff_method.pipeline.Run` (a mixin: it reads the run's state, its
    ``samples/<key>.json`` and the usage of its backends)."""

    out: Path
    skipped: dict[str, str]
    repairs: dict[str, list[str]]
    redone: dict[str, str]
    errors: list[str]

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
