"""Writing evaluation results: ``DIR/metrics.json`` plus per-item JSONL files, atomically.

Every ``metrics.json`` carries ``task`` (closed/open/localization, which ``viddiff report`` dispatches on),
``inputs`` (dataset path and fingerprint, prediction file path and sha256, toolkit version, time) and
``protocol`` (what was measured and how it differs from the public eval).
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

from eval.data import EvalData
from schemas import toolkit_version
from schemas.io import write_json, write_jsonl


def inputs_block(
    data: EvalData, pred_path: Path | None, pred_sha: str | None, **extra: Any
) -> dict[str, Any]:
    """Provenance of one evaluation: what was scored against what, by which toolkit, when."""
    return {
        "dataset": str(data.source),
        "dataset_kind": data.kind,
        "dataset_name": data.name,
        "dataset_fingerprint": data.fingerprint(),
        "predictions": str(pred_path) if pred_path else None,
        "predictions_sha256": pred_sha,
        "toolkit_version": toolkit_version(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }


def write_results(out_dir: str | os.PathLike, metrics: dict[str, Any], **jsonl: list[dict[str, Any]]) -> Path:
    """Write ``metrics.json`` and each ``name=rows`` as ``name.jsonl`` into ``out_dir``; return metrics path.

    The JSONL files are written first and ``metrics.json`` last, so a folder with a ``metrics.json`` is
    complete.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in jsonl.items():
        write_jsonl(out / f"{name}.jsonl", rows)
    write_json(out / "metrics.json", metrics)
    return out / "metrics.json"
