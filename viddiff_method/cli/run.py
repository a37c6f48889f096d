"""`viddiff run DATASET --mode closed|open --out RUN_DIR`: the VidDiff method or a baseline."""

from __future__ import annotations

import click

from schemas.errors import ToolkitError


@click.command("run")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option(
    "--mode",
    type=click.Choice(["closed", "open"]),
    required=True,
    help="closed: predict a/b for the labelled differences; open: propose differences too.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    required=True,
    help="Run directory (created; a rerun resumes it).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML overriding viddiff_method/configs/default.yaml.",
)
@click.option(
    "--method",
    default="viddiff",
    show_default=True,
    help="A registered method (viddiff_method/methods/__init__.py): viddiff, or the baselines lmm (whole-video "
    "LMM), random (random frames), prior (position prior); plugins add more.",
)
@click.option("--split", default=None, help="Only samples of this split (e.g. easy).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N selected samples.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the LLM and CLIP caches live (default: the cache every command shares, "
    "$VIDDIFF_CACHE_DIR, else $XDG_CACHE_HOME/viddiff-toolkit or ~/.cache/viddiff-toolkit).",
)
@click.option(
    "--no-cache", is_flag=True, help="Do not read or write cached LLM answers (every call is made)."
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def run(dataset, mode, out, config_file, method, split, limit, cache_dir, no_cache, no_progress) -> None:
    """Run the VidDiff method (or a baseline) on DATASET and write predictions and localizations."""
    from viddiff_method.config import RunConfig
    from viddiff_method.pipeline import run as run_pipeline

    cfg = RunConfig.load(config_file)
    summary = run_pipeline(
        dataset,
        out,
        mode=mode,
        method=method,
        config=cfg,
        split=split,
        limit=limit,
        cache_dir=cache_dir,
        progress=not no_progress,
        no_cache=no_cache,
    )
    total = summary.usage.get("total", {})
    clip = summary.usage.get("clip", {})
    click.echo(
        f"{summary.n_selected} samples selected: {summary.n_done_before} already done, "
        f"{summary.n_done_now} done now, {summary.n_incomplete} incomplete"
        + (f", {len(summary.skipped)} skipped" if summary.skipped else "")
    )
    for line in summary_notes(summary, mode):
        click.echo(line)
    click.echo(
        f"LLM: {total.get('calls', 0)} calls, {total.get('cache_hits', 0)} cache hits, "
        f"cost {total.get('cost', 0.0):.4f}"
        + (
            f"; CLIP: {clip.get('frames_encoded', 0)} frames encoded, "
            f"{clip.get('frames_from_cache', 0)} from cache"
            if clip
            else ""
        )
    )
    click.echo(f"wrote {summary.out}/predictions.json, localization.json, difference_frames.json, usage.json")
    if summary.n_incomplete:
        first = f"; first: {summary.errors[0]}" if summary.errors else ""
        raise ToolkitError(
            f"{summary.n_incomplete} samples have failed LLM calls (see report.json); "
            f"rerun the same command to retry them{first}",
            file=str(summary.out),
        )


def summary_notes(summary, mode: str) -> list[str]:
    """Why work was redone or skipped, and what to do about it (nothing is skipped silently)."""
    from collections import Counter

    lines = []
    if summary.redone:
        for why, n in sorted(Counter(summary.redone.values()).items()):
            lines.append(
                f"{n} redone: {why} since the earlier result (clips, differences, proposal or config)"
            )
    if summary.skipped:
        for why, n in sorted(Counter(summary.skipped.values()).items()):
            lines.append(f"{n} skipped: {why}")
        if mode == "closed":
            lines.append(
                "closed mode predicts only labelled differences: label the pairs (curate annotate) "
                "or run --mode open; the skipped keys are listed in report.json"
            )
        else:
            lines.append("the skipped keys are listed in report.json")
    if not summary.n_selected:
        lines.append("nothing to run: no sample was selected")
    elif summary.n_done_before == summary.n_selected:
        lines.append(
            "nothing to run: every selected pair is already done with unchanged inputs "
            "(outputs rewritten from RUN_DIR/samples; a new --out recomputes them)"
        )
    return lines


__all__ = ["run", "summary_notes"]
