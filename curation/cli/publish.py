"""``curate publish`` and ``curate import-release``: parse arguments, call the library, print a summary."""

from __future__ import annotations

import click


@click.command("publish")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Hub-layout folder to write."
)
@click.option(
    "--repo-id", default=None, help="ORG/NAME: also upload the folder to this dataset repo (HF_TOKEN)."
)
@click.option("--private", is_flag=True, help="Create the repo private (when it does not exist yet).")
@click.option(
    "--videos",
    type=click.Choice(["embed", "folder"]),
    default="folder",
    show_default=True,
    help="Embed the clips in the parquet files, or ship them in videos/ referenced by path.",
)
@click.option(
    "--allow-partial", is_flag=True, help="Publish the fit rows and record the others instead of refusing."
)
@click.option("--balance", is_flag=True, help="Swap A/B in some pairs so a and b labels balance per split.")
@click.option(
    "--license",
    "license_id",
    default=None,
    help="Licence id for the card (default: dataset.json or 'other').",
)
@click.option(
    "--pretty-name", default=None, help="Card title (default: dataset.json publish.pretty_name or name)."
)
def publish(dataset, out, repo_id, private, videos, allow_partial, balance, license_id, pretty_name) -> None:
    """Write DATASET as a Hugging Face dataset folder in the VidDiffBench format, with a data card."""
    from curation.publish.folder import publish as run_publish
    from curation.publish.folder import upload

    result = run_publish(
        dataset,
        out,
        videos=videos,
        allow_partial=allow_partial,
        balance=balance,
        repo_id=repo_id,
        license=license_id,
        pretty_name=pretty_name,
    )
    click.echo(f"published {result.rows} pairs to {result.out} ({len(result.files)} files, videos: {videos})")
    if result.dropped_c_only:
        click.echo(
            f"dropped {len(result.dropped_c_only)} rows labelled only c/null: "
            + ", ".join(result.dropped_c_only)
        )
    for problem in result.dropped_partial:
        click.echo(f"left out (--allow-partial): {problem}")
    for b in result.balance or []:
        click.echo(
            f"balanced split {b.split}: a/b {b.a_before}/{b.b_before} -> {b.a_after}/{b.b_after}, "
            f"swapped {len(b.swapped)} pairs"
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if repo_id:
        url = upload(out, repo_id, private=private)
        click.echo(f"uploaded to {url}")


@click.command("import-release")
@click.argument("path", type=click.Path(exists=True))
@click.option(
    "--videos",
    "videos_root",
    default=None,
    type=click.Path(file_okay=False),
    help="Root the release's video paths are relative to (default: PATH's folder).",
)
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Dataset directory to write."
)
@click.option("--name", default=None, help="Dataset name (default: the release's file or folder name).")
@click.option(
    "--skip-missing", is_flag=True, help="Leave out pairs whose videos are missing instead of stopping."
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Clips cut in parallel."
)
def import_release(path, videos_root, out, name, skip_missing, workers) -> None:
    """Turn the public VidDiffBench release (parquet + videos) at PATH into a dataset directory."""
    from curation.publish.release_import import import_release as run_import

    result = run_import(
        path, out, videos_root=videos_root, name=name, skip_missing=skip_missing, workers=workers
    )
    click.echo(
        f"imported {len(result.dataset.samples)} pairs into {result.dataset.root}"
        + (f" ({result.resumed} from an earlier run)" if result.resumed else "")
    )
    if result.skipped:
        click.echo(f"skipped {len(result.skipped)} pairs with missing videos: " + ", ".join(result.skipped))
