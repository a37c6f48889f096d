"""Run folders of ``viddiff report``: their files, and the metrics found below them or computed on the fly
(closed and localization, when the dataset is known)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.data import EvalData
from eval.predictions import Localization, Predictions
from eval.protocols import protocols
from schemas.errors import ToolkitError
from schemas.io import read_json, read_jsonl


@dataclass
class Run:
    """One run folder: its files, and the metrics found or computed for it."""

    name: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics_origin: dict[str, str] = field(default_factory=dict)
    #: run file name -> what its protocol's loader parsed (a plugin protocol's table reads its own file here)
    loaded: dict[str, Any] = field(default_factory=dict)
    difference_frames: dict[str, Any] = field(default_factory=dict)

    @property
    def predictions(self) -> Predictions | None:
        """The run's parsed ``predictions.json`` (closed and open answers), if any."""
        return self.loaded.get("predictions.json")

    @property
    def localization(self) -> Localization | None:
        """The run's parsed ``localization.json`` (predicted keypoint frames), if any."""
        return self.loaded.get("localization.json")


def find_metrics(run_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """``{task: (path, metrics)}`` for the newest ``metrics.json`` of each task below ``run_dir``."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for p in sorted(run_dir.rglob("metrics.json")):
        m = read_json(p)
        task = m.get("task") if isinstance(m, dict) else None
        if task not in protocols():
            continue
        created = (m.get("inputs") or {}).get("created") or ""
        old = found.get(task)
        if old is None or created > ((old[1].get("inputs") or {}).get("created") or ""):
            found[task] = (p, m)
    return found


def dataset_for(runs_dirs: list[Path], dataset: Path | None) -> Path | None:
    """``dataset`` if given, else the one named by a run's ``config.json`` or by one of its metrics files."""
    if dataset is not None:
        return dataset
    for d in runs_dirs:
        cfg = d / "config.json"
        if cfg.exists():
            ds = (read_json(cfg) or {}).get("dataset")
            if ds:
                p = Path(ds)
                return p if p.is_absolute() or p.exists() else d / p
        for _, m in find_metrics(d).values():
            ds = (m.get("inputs") or {}).get("dataset")
            if ds and Path(ds).exists():
                return Path(ds)
    return None


def load_run(run_dir: Path, data: EvalData | None) -> Run:
    """Read a run folder; compute closed/localization metrics it lacks when ``data`` is given."""
    if not run_dir.is_dir():
        raise ToolkitError("run folder not found", file=str(run_dir))
    cfg = read_json(run_dir / "config.json") if (run_dir / "config.json").exists() else {}
    run = Run(name=str(cfg.get("name") or run_dir.name), path=run_dir, config=cfg)
    for task, (p, m) in find_metrics(run_dir).items():
        run.metrics[task], run.metrics_origin[task] = m, str(p)
        if (p.parent / "items.jsonl").exists():
            run.items[task] = read_jsonl(p.parent / "items.jsonl")
        if task == "localization" and (p.parent / "human_items.jsonl").exists():
            run.items["human"] = read_jsonl(p.parent / "human_items.jsonl")
    if data is not None:
        for proto in protocols().values():
            path = run_dir / proto.run_file if proto.run_file else None
            if path is None or proto.load is None or not path.exists():
                continue
            if proto.run_file not in run.loaded:  # protocols sharing a run file parse it once
                run.loaded[proto.run_file] = proto.call("load")(path, data)
            parsed = run.loaded[proto.run_file]
            if proto.name not in run.metrics and proto.score is not None:
                res = proto.call("score")(data, parsed)
                run.metrics[proto.name], run.items[proto.name] = res.metrics, res.items
                run.metrics_origin[proto.name] = "computed by viddiff report"
                if getattr(res, "human", None):
                    run.items["human"] = res.human
    if (run_dir / "difference_frames.json").exists():  # `viddiff run`: frames shown per difference
        dfr = read_json(run_dir / "difference_frames.json")
        run.difference_frames = dfr if isinstance(dfr, dict) else {}
    if not run.metrics and not run.loaded:
        raise ToolkitError(
            "no predictions.json, localization.json or eval metrics.json found "
            "(pass --dataset to score predictions)",
            file=str(run_dir),
        )
    return run
