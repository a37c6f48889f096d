"""Write the report: one self-contained HTML page and its Markdown twin (figures as PNG files beside it)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from eval.data import load_eval_data
from eval.protocols import protocols
from eval.report.figures import figures
from eval.report.runs import dataset_for, load_run
from eval.report.strips import pick_pairs, strip
from eval.report.template import HTML_TEMPLATE, MD_TEMPLATE
from schemas import toolkit_version
from schemas.io import atomic_write


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
    ds_path = dataset_for(dirs, Path(dataset) if dataset else None)
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
