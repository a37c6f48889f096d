"""``viddiff report``: one self-contained HTML page (and a Markdown twin) comparing runs.

A RUN_DIR holds ``predictions.json`` and/or ``localization.json``, an optional ``config.json`` and,
optionally, eval outputs: any ``metrics.json`` below it whose ``task`` is closed, open or localization
(e.g. ``RUN/eval/closed/metrics.json``). Closed and localization metrics that are missing are computed
on the fly when the dataset is known (``--dataset``, else ``config.json["dataset"]``, else the dataset
named in a metrics file); open metrics need a judge, so they only come from ``viddiff eval open``.

The page has: the leaderboard by split (closed accuracy with significance marks, open recall,
localization errors with the human ceiling), per-action accuracy bars, localization plots, and, for a
few pairs, a strip of frames of A against B at the annotated and predicted keypoints, with each
statement, its ground truth and every run's answer. Images are PNG/JPEG data URLs, so the file opens
in a browser with no server.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.data import EvalData, clip_fps, gt_labels, load_eval_data
from eval.predictions import Localization, Predictions
from eval.protocols import protocols
from eval.report import plots
from eval.report.template import HTML_TEMPLATE, MD_TEMPLATE
from schemas import toolkit_version
from schemas.dataset_dir import diff_key_order
from schemas.errors import ToolkitError
from schemas.io import atomic_write, read_json, read_jsonl

log = logging.getLogger(__name__)
SPLIT_ORDER = {"easy": 0, "medium": 1, "hard": 2}
MAX_KEYPOINT_BARS = 40
THUMB_WIDTH = 256  # stored size; shown at 128 px (sharp on high-DPI screens)


@dataclass
class Run:
    """One run folder: its files, and the metrics found or computed for it."""

    name: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics_origin: dict[str, str] = field(default_factory=dict)
    predictions: Predictions | None = None
    localization: Localization | None = None
    difference_frames: dict[str, Any] = field(default_factory=dict)


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


def _dataset_for(runs_dirs: list[Path], dataset: Path | None) -> Path | None:
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
            parsed = proto.call("load")(path, data)
            if proto.run_file == "predictions.json":
                run.predictions = parsed
            elif proto.run_file == "localization.json":
                run.localization = parsed
            if proto.name not in run.metrics and proto.score is not None:
                res = proto.call("score")(data, parsed)
                run.metrics[proto.name], run.items[proto.name] = res.metrics, res.items
                run.metrics_origin[proto.name] = "computed by viddiff report"
                if getattr(res, "human", None):
                    run.items["human"] = res.human
    if (run_dir / "difference_frames.json").exists():  # `viddiff run`: frames shown per difference
        dfr = read_json(run_dir / "difference_frames.json")
        run.difference_frames = dfr if isinstance(dfr, dict) else {}
    if not run.metrics and run.predictions is None and run.localization is None:
        raise ToolkitError(
            "no predictions.json, localization.json or eval metrics.json found "
            "(pass --dataset to score predictions)",
            file=str(run_dir),
        )
    return run


# ----------------------------------------------------------------------------------------- tables


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _sec(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _splits(runs: list[Run], task: str) -> list[str]:
    names = {s for r in runs for s in (r.metrics.get(task) or {}).get("by_split", {})}
    return sorted(names, key=lambda s: (SPLIT_ORDER.get(s, 9), s))


def closed_table(runs: list[Run]) -> dict[str, Any]:
    """Leaderboard rows: per split accuracy (* = p < 0.05), the macro Avg over splits, pooled All."""
    splits = _splits(runs, "closed")
    rows = []
    for r in runs:
        m = r.metrics.get("closed")
        if not m:
            continue
        cells = []
        for s in [*splits, None]:
            b = m if s is None else m["by_split"].get(s)
            if not b or b.get("accuracy") is None:
                cells.append({"text": "–", "title": ""})
                continue
            star = "*" if b["significant"] else ""
            cells.append(
                {
                    "text": f"{_pct(b['accuracy'])}{star}",
                    "title": f"{b['correct']}/{b['n']}, 95% CI {_pct(b['ci95'][0])}–{_pct(b['ci95'][1])}, "
                    f"p={b['p_value']:.3g}",
                }
            )
        avg = m.get("accuracy_split_mean", m.get("macro_accuracy_over_splits"))
        cells.insert(
            len(splits), {"text": _pct(avg), "title": "mean of split accuracies (the leaderboard's Avg)"}
        )
        strict = (m.get("protocol") or {}).get("rules") == "strict-official"
        rows.append(
            {
                "name": f"{r.name} [strict-official]" if strict else r.name,
                "cells": cells,
                "unknown": m["unknown_keys"]["count"],
                "origin": r.metrics_origin.get("closed", ""),
            }
        )
    return {"columns": [*splits, "Avg (split mean)", "All (pooled)"], "rows": rows}


def open_table(runs: list[Run]) -> dict[str, Any]:
    """Open recall per split plus the error breakdown; the judge is named in each row."""
    splits = _splits(runs, "open")
    rows = []
    for r in runs:
        m = r.metrics.get("open")
        if not m:
            continue
        cells = [_pct((m["by_split"].get(s) or {}).get("recall")) for s in splits]
        judge = m.get("judge") or {}
        rows.append(
            {
                "name": r.name,
                "cells": [
                    *cells,
                    _pct(m.get("recall_split_mean", m.get("macro_recall_over_splits"))),
                    _pct(m["recall"]),
                    _pct(m["err_nomatch"]),
                    _pct(m["err_flipped"]),
                ],
                "judge": judge.get("match_model") or judge.get("kind", "?"),
                "comparable": bool(m.get("comparable_to_published")),
                "why": "; ".join(m.get("not_comparable_because") or ["recorded before judge protocols"]),
            }
        )
    return {"columns": [*splits, "Avg (split mean)", "All (pooled)", "no match", "flipped"], "rows": rows}


LOC_COLUMNS = (
    "n",
    "missing",
    "mae_frames",
    "mae_seconds",
    "mae_norm",
    "hit@0.25s",
    "hit@0.5s",
    "hit@1s",
    "hit@5%",
    "hit@10%",
)


def _loc_cells(b: dict[str, Any]) -> list[str]:
    out = []
    for c in LOC_COLUMNS:
        v = b.get(c)
        if c in ("n", "missing"):
            out.append(str(v))
        elif c == "mae_frames":
            out.append("–" if v is None else f"{v:.2f}")
        elif c == "mae_seconds":
            out.append(_sec(v))
        else:
            out.append(_pct(v))
    return out


def localization_table(runs: list[Run]) -> dict[str, Any]:
    """One row per run; then, when doubly-annotated items exist, each run on those items and the human row."""
    rows, extra, human = [], [], None
    for r in runs:
        m = r.metrics.get("localization")
        if not m:
            continue
        rows.append({"name": r.name, "cells": _loc_cells(m), "kind": "run"})
        hh = m.get("human_vs_human")
        if hh:
            extra.append(
                {
                    "name": f"{r.name} on doubly-annotated items",
                    "cells": _loc_cells(hh["model_on_same_items"]),
                    "kind": "same",
                }
            )
            human = human or {
                "name": f"human vs human ({hh['n_samples']} doubly-annotated pairs)",
                "cells": _loc_cells(hh),
                "kind": "human",
            }
    return {"columns": list(LOC_COLUMNS), "rows": rows + extra + ([human] if human else [])}


# ------------------------------------------------------------------------------------------ figures


def figures(runs: list[Run]) -> list[dict[str, Any]]:
    """The report's plots as ``{id, title, png}``; only those with data."""
    out = []
    closed = {r.name: r.metrics["closed"]["by_action"] for r in runs if r.metrics.get("closed")}
    if any(closed.values()):
        out.append(
            {
                "id": "closed_by_action",
                "title": "Closed accuracy per action",
                "png": plots.action_accuracy_bars(closed),
            }
        )
    opened = {r.name: r.metrics["open"]["by_action"] for r in runs if r.metrics.get("open")}
    if any(opened.values()):
        out.append(
            {
                "id": "open_by_action",
                "title": "Open recall per action",
                "png": plots.action_accuracy_bars(opened, field="recall", title="Open recall per action"),
            }
        )
    errors: dict[str, list[float]] = {}
    kps: dict[str, dict[str, Any]] = {}
    n_kp = len({k for r in runs for k in (r.metrics.get("localization") or {}).get("by_keypoint", {})})
    by = "by_keypoint" if n_kp <= MAX_KEYPOINT_BARS else "by_action"  # keep the chart readable
    for r in runs:
        m = r.metrics.get("localization")
        if not m:
            continue
        its = r.items.get("localization") or []
        errors[r.name] = [it["err_seconds"] for it in its if it.get("err_seconds") is not None]
        kps[r.name] = m.get(by) or {}
        hh = m.get("human_vs_human")
        if hh:
            kps.setdefault("human vs human", hh.get(by) or {})
            human = r.items.get("human")
            if human and "human vs human" not in errors:
                errors["human vs human"] = [
                    it["err_seconds"] for it in human if it.get("err_seconds") is not None
                ]
    if any(errors.values()):
        out.append(
            {
                "id": "loc_hits",
                "title": "Localization hit rate vs tolerance",
                "png": plots.hit_rate_curves(errors),
            }
        )
    if any(kps.values()):
        what = "keypoint" if by == "by_keypoint" else "action"
        out.append(
            {
                "id": "loc_keypoints",
                "title": f"Localization error per {what}",
                "png": plots.keypoint_error_bars(kps, title=f"Localization error per {what}"),
            }
        )
    return out


# ------------------------------------------------------------------------------------------- strips


def _jpeg_data_url(frame: Any) -> str:
    from PIL import Image

    im = Image.fromarray(frame)
    if im.width > THUMB_WIDTH:
        im = im.resize((THUMB_WIDTH, round(im.height * THUMB_WIDTH / im.width)), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _frames(data: EvalData, row: dict[str, Any], v: int, wanted: set[int]) -> dict[int, str]:
    from viddiff_runtime import media

    path = data.video_path(row, v)
    if path is None or not wanted:
        return {}
    dec = media.decode(path, indices=sorted(wanted))
    return {idx: _jpeg_data_url(fr) for idx, fr in zip(dec.indices, dec.frames)}


def _first(frames: list[int] | None) -> int | None:
    return frames[0] if frames else None


def _used_frames(run: Run, sample_key: str, diff_key: str) -> str | None:
    """ "A 6,8,10 · B 9": the frames a run looked at for one difference (``difference_frames.json``)."""
    pair = run.difference_frames.get(sample_key)
    if not isinstance(pair, list) or len(pair) != 2:
        return None
    parts = [
        f"{name} {','.join(str(x) for x in (d or {}).get(diff_key) or [])}"
        for name, d in zip("AB", pair)
        if (d or {}).get(diff_key)
    ]
    return " · ".join(parts) or None


def pick_pairs(data: EvalData, runs: list[Run], n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows with keypoints, preferring rows a run localized, then rows with a/b labels."""
    loc_keys = {k for r in runs if r.localization for k in r.localization.items}
    cands = [
        r for r in data.rows if any(v for d in (r.get("retrieval_frames") or []) for v in (d or {}).values())
    ]
    cands.sort(
        key=lambda r: (
            r["sample_key"] not in loc_keys,
            not any(v in ("a", "b") for v in gt_labels(r).values()),
        )
    )
    return cands[:n]


def strip(data: EvalData, row: dict[str, Any], runs: list[Run]) -> dict[str, Any]:
    """Frames of A and B at each keypoint (annotated, and each run's prediction) plus statements/answers."""
    sk = row["sample_key"]
    gt_pair = row.get("retrieval_frames") or [{}, {}]
    first_a = {k: v[0] for k, v in (gt_pair[0] or {}).items() if v}
    loc_ids = sorted(
        {k for d in gt_pair for k, v in (d or {}).items() if v}, key=lambda k: (first_a.get(k, 1 << 30), k)
    )  # in the order they happen in video A
    loc_runs = [r for r in runs if r.localization]
    wanted: list[set[int]] = [set(), set()]
    cells: list[dict[str, Any]] = []
    for loc_id in loc_ids:
        entry = {"loc_id": loc_id, "videos": []}
        for v in (0, 1):
            fps = clip_fps(row["videos"][v])
            marks = [{"label": "annotated", "frame": _first((gt_pair[v] or {}).get(loc_id))}]
            for r in loc_runs:
                pv = (r.localization.items.get(sk) or [{}, {}])[v] or {}
                marks.append({"label": r.name, "frame": _first(pv.get(loc_id))})
            for mk in marks:
                mk.update(time=None, err=None, img=None)
            for mk in marks:
                if mk["frame"] is not None:
                    wanted[v].add(mk["frame"])
                    mk["time"] = f"{mk['frame'] / fps:.2f} s"
            entry["videos"].append({"name": "AB"[v], "fps": fps, "marks": marks})
        cells.append(entry)
    try:
        images = [_frames(data, row, v, wanted[v]) for v in (0, 1)]
    except ToolkitError as e:
        log.warning("%s: frames not shown: %s", sk, e)
        images = [{}, {}]
    for entry in cells:
        for v, vid in enumerate(entry["videos"]):
            gt_frame = vid["marks"][0]["frame"]
            for mk in vid["marks"]:
                mk["img"] = images[v].get(mk["frame"]) if mk["frame"] is not None else None
                if mk["label"] != "annotated" and mk["frame"] is not None and gt_frame is not None:
                    mk["err"] = (
                        f"Δ {mk['frame'] - gt_frame:+d} fr ({(mk['frame'] - gt_frame) / vid['fps']:+.2f} s)"
                    )
    statements = []
    labels = gt_labels(row)
    for dk in sorted(labels, key=diff_key_order):
        entry = (row.get("differences_annotated") or {}).get(dk) or {}
        answers = []
        for r in runs:
            if r.predictions is None:
                continue
            p = r.predictions.for_sample(sk).get(dk, {}).get("prediction")
            ok = None if labels[dk] not in ("a", "b") else (p == labels[dk])
            answers.append({"run": r.name, "answer": p or "–", "ok": ok, "frames": _used_frames(r, sk, dk)})
        statements.append(
            {
                "key": dk,
                "text": entry.get("description", ""),
                "gt": labels[dk],
                "keypoints": ", ".join(entry.get("keypoints") or []),
                "answers": answers,
            }
        )
    return {
        "sample_key": sk,
        "action": row.get("action"),
        "split": row.get("split"),
        "description": row.get("action_description", ""),
        "keypoints": cells,
        "statements": statements,
        "has_images": any(images),
    }


# ------------------------------------------------------------------------------------------- output


def build_report(
    run_dirs: list[str | os.PathLike],
    out_html: str | os.PathLike,
    *,
    out_md: str | os.PathLike | None = None,
    dataset: str | os.PathLike | None = None,
    n_pairs: int = 3,
) -> tuple[Path, Path]:
    """Write the HTML report (self-contained) and its Markdown twin (figures as PNG files beside it)."""
    import jinja2

    dirs = [Path(d) for d in run_dirs]
    ds_path = _dataset_for(dirs, Path(dataset) if dataset else None)
    data = load_eval_data(ds_path) if ds_path else None
    runs = [load_run(d, data) for d in dirs]
    names = [r.name for r in runs]
    for r in runs:  # two runs called the same: add the folder to tell them apart
        if names.count(r.name) > 1:
            r.name = f"{r.name} ({r.path})"
    figs = figures(runs)
    strips = [strip(data, row, runs) for row in pick_pairs(data, runs, n_pairs)] if data else []
    ctx = {
        "title": "VidDiff evaluation report",
        "dataset": str(ds_path) if ds_path else None,
        "dataset_name": data.name if data else None,
        "toolkit_version": toolkit_version(),
        "runs": [
            {
                "name": r.name,
                "path": str(r.path),
                "origin": r.metrics_origin,
                "judge": (r.metrics.get("open") or {}).get("judge"),
            }
            for r in runs
        ],
        "tables": {name: proto.call("table")(runs) for name, proto in protocols().items()},
        "figures": figs,
        "strips": strips,
    }
    env = jinja2.Environment(
        autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined
    )
    env.filters["b64"] = lambda b: base64.b64encode(b).decode()
    out_html = Path(out_html)
    out_md = Path(out_md) if out_md else out_html.with_suffix(".md")
    atomic_write(out_html, env.from_string(HTML_TEMPLATE).render(**ctx))
    fig_dir = out_md.parent / f"{out_md.stem}_files"
    for f in figs:
        atomic_write(fig_dir / f"{f['id']}.png", f["png"])
    md_env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)
    md_env.filters["md"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    atomic_write(out_md, md_env.from_string(MD_TEMPLATE).render(**ctx, fig_dir=fig_dir.name))
    return out_html, out_md
