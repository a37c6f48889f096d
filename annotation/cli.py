"""`curate annotate ...`: annotation rounds in Label Studio. Parses arguments, calls library functions."""

from __future__ import annotations

import click

from schemas.errors import ToolkitError

KIND = click.Choice(["differences", "timestamps"])


@click.group("annotate")
def annotate() -> None:
    """Annotation rounds in Label Studio: serve, push, pull/convert, status, agreement."""


@annotate.command("serve")
@click.option(
    "--data-dir",
    default=".label-studio",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Label Studio's data (SQLite DB, secret key, admin credentials).",
)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--media-root",
    default=".",
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder Label Studio may serve videos from; datasets to push must be inside it.",
)
def serve_cmd(data_dir: str, port: int, media_root: str) -> None:
    """Start a local Label Studio on 127.0.0.1 (its own venv) until Ctrl-C or SIGTERM."""
    from annotation.server import serve

    serve(data_dir, port=port, media_root=media_root, echo=click.echo)


@annotate.command("push")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--kind", type=KIND, required=True)
@click.option(
    "--project", "project", default=None, help="Project title ({action} is replaced; one project per action)."
)
@click.option(
    "--predictions",
    "run_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="Run directory whose predictions.json / localization.json pre-fill the tasks.",
)
@click.option(
    "--model-version", default=None, help="Model version of the predictions (default: run dir name)."
)
@click.option(
    "--media-root",
    default=None,
    help="Document root Label Studio serves (default: $LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT).",
)
@click.option("--action", "actions", multiple=True, help="Only these actions (repeatable).")
@click.option("--composite", is_flag=True, help="Also build and show a side-by-side A|B clip per pair.")
@click.option(
    "--force",
    is_flag=True,
    help="Update the label config even if the project has annotations, and "
    "replace the data of annotated tasks whose clips or taxonomy changed (their annotations then refer "
    "to the old inputs).",
)
@click.option(
    "--overlap",
    type=int,
    default=None,
    help="Annotators per task in the overlap share (Label Studio's maximum_annotations).",
)
@click.option(
    "--review",
    type=float,
    default=None,
    help="Share of tasks (0-1] that get --overlap annotators (default 2); e.g. 0.25.",
)
def push_cmd(
    dataset, kind, project, run_dir, model_version, media_root, actions, composite, force, overlap, review
) -> None:
    """Create or find the projects of DATASET, import one task per new pair and update the tasks whose
    clips or taxonomy changed (idempotent)."""
    from annotation.push import push

    for r in push(
        dataset,
        kind,
        project=project,
        predictions=run_dir,
        model_version=model_version,
        media_root=media_root,
        force=force,
        composite=composite,
        actions=list(actions) or None,
        overlap=overlap,
        review=review,
    ):
        click.echo(r.summary(), err=bool(r.skipped))
        for m in r.predictions_skipped[:10]:
            click.echo(f"  prediction skipped: {m}", err=True)
        for key, what in r.inputs_changed_annotated:
            click.echo(
                f"  left as is: {key} (annotated): {what} since the push (--force replaces its data)",
                err=True,
            )
        for key, what in r.annotated_replaced:
            click.echo(
                f"  replaced (--force): {key}: {what}; its annotations refer to the old inputs", err=True
            )


def _print_reports(reports) -> None:
    for rep in reports:
        click.echo(rep.summary())
        for p in rep.problems[:20]:
            click.echo(f"  problem: {p}", err=True)
        if len(rep.problems) > 20:
            click.echo(
                f"  ... {len(rep.problems) - 20} more in annotation/{rep.kind}/problems.json", err=True
            )
        for u in rep.unresolved[:10]:
            video = f" video {u['video'].upper()}" if u.get("video") else ""
            click.echo(
                f"  unresolved: {u['sample_key']}{video} {u.get('diff_key') or u.get('name')}: {u['values']}",
                err=True,
            )


@annotate.command("pull")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--kind", type=KIND, default=None, help="Default: both kinds.")
@click.option("--project", default=None, help="Project title used at push time, if not the default.")
@click.option("--reviewer", default=None, help="User id or e-mail whose labels win over the agreement rule.")
@click.option(
    "--tolerance",
    default=2,
    show_default=True,
    type=int,
    help="Keypoint frames of several annotators agree when max - min <= this.",
)
def pull_cmd(dataset, kind, project, reviewer, tolerance) -> None:
    """Download the projects' exports (kept verbatim) and write the labels into DATASET."""
    from annotation.pull import pull

    _print_reports(pull(dataset, kind, project=project, reviewer=reviewer, tolerance=tolerance))


@annotate.command("convert")
@click.argument("export", type=click.Path(dir_okay=False))
@click.option("--dataset", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--kind", type=KIND, required=True)
@click.option("--reviewer", default=None, help="User id whose labels win over the agreement rule.")
@click.option("--tolerance", default=2, show_default=True, type=int)
@click.option(
    "--config",
    "config",
    default=None,
    type=click.Path(dir_okay=False),
    help="The project's label config (XML) to validate against; default: generated from the taxonomy.",
)
def convert_cmd(export, dataset, kind, reviewer, tolerance, config) -> None:
    """Convert a Label Studio JSON export (offline) into DATASET."""
    from annotation.convert import convert_file

    _print_reports(
        [convert_file(export, dataset, kind, reviewer=reviewer, tolerance=tolerance, config=config)]
    )


def _fmt(x, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}%" if pct else f"{x:.3f}"


@annotate.command("agreement")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--delta", default=2, show_default=True, type=int, help="Keypoint window ±delta frames.")
def agreement_cmd(dataset, delta) -> None:
    """Inter-annotator agreement per action (a/b/c and keypoint timing)."""
    from annotation.agreement import agreement

    res = agreement(dataset, delta=delta)
    if not res["actions"]:
        raise ToolkitError(
            "no converted labels yet: run `curate annotate pull` (or convert) first", file=dataset
        )
    click.echo(
        f"{'action':<16} {'items':>5} {'agree':>7} {'kappa':>7} {'alpha':>7} | {'kp items':>8} "
        f"{'|d| fr':>7} {'|d| s':>7} {'<=d':>6}"
    )
    for name, r in [*res["actions"].items(), ("ALL", res["overall"])]:
        lab, kp = r["labels"], r["keypoints"]
        click.echo(
            f"{name:<16} {lab['items']:>5} {_fmt(lab['percent'], True):>7} {_fmt(lab['cohen_kappa']):>7} "
            f"{_fmt(lab['krippendorff_alpha']):>7} | {kp['items']:>8} {_fmt(kp['mean_abs_frames']):>7} "
            f"{_fmt(kp['mean_abs_seconds']):>7} "
            f"{_fmt(None if kp['within_delta'] is None else 100 * kp['within_delta'], True):>6}"
        )


@annotate.command("status")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--project", default=None, help="Project title used at push time, if not the default.")
def status_cmd(dataset, project) -> None:
    """Per action: tasks on the server, annotated, doubly annotated."""
    from annotation.status import status

    rows = status(dataset, project=project)
    click.echo(
        f"{'kind':<12} {'action':<16} {'project':>7} {'pairs':>5} {'tasks':>5} {'annotated':>9} {'double':>6} "
        f"{'overlap':>8}"
    )
    for s in rows:
        ov = f"{s.overlap_tasks}x{s.max_annotations}" if s.project_id else "-"
        click.echo(
            f"{s.kind:<12} {s.action:<16} {s.project_id or '-':>7} {s.pairs_in_dataset:>5} {s.tasks:>5} "
            f"{s.annotated:>9} {s.doubly_annotated:>6} {ov:>8}"
        )
    click.echo(
        "double: tasks with two or more annotations; overlap: tasks handed to several annotators "
        "x annotators each (push --overlap/--review)"
    )
