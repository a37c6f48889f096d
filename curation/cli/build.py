"""`curate build` and `curate samples`: parse arguments, call curation.build.builder / curation.samples.trees."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("build")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Dataset directory (default: `output` in the config).",
)
@click.option("--workers", type=int, default=1, show_default=True, help="Clips encoded in parallel.")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local threads, or Ray (RAY_ADDRESS picks a cluster; else a local Ray).",
)
@click.option("--dry-run", is_flag=True, help="Plan only: show what would be built, write nothing.")
def build(config: Path, out: Path | None, workers: int, executor: str, dry_run: bool) -> None:
    """Build a dataset directory of frame-exact video pairs from a YAML CONFIG."""
    from curation.build.builder import build as run_build
    from curation.build.builder import load_plan
    from viddiff_runtime.media import fmt_fps

    if dry_run:
        result = load_plan(config, out=out, workers=workers)
        click.echo(f"plan: {len(result.samples)} pairs, {len(result.tasks)} clips -> {result.out}")
        for key, a in result.actions_meta.items():
            click.echo(
                f"  {key}: {a['pairs_built']}/{a['pairs_requested']} pairs at {fmt_fps(a['fps'])} fps "
                f"({a['source_dataset']})"
            )
        summary = result.summary()
    else:
        result = run_build(config, out=out, workers=workers, executor=executor)
        click.echo(
            f"built {result.n_samples} pairs in {result.out} ({result.made} clips made, {result.reused} reused)"
        )
        summary = result.summary
    for line in summary:
        click.echo(f"  {line}")
    for line in result.warnings:
        click.echo(f"warning: assumption: {line}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


@click.command("samples")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True)
def samples(out: Path, seed: int) -> None:
    """Write small SYNTHETIC source trees in the four real layouts, plus a matching build config."""
    from curation.samples.trees import write_sample_sources

    config = write_sample_sources(out, seed=seed)
    click.echo(f"sample sources written to {out}; build them with: curate build {config}")
