"""`curate taxonomy ...` and `curate splits ...`: parse arguments, call the library, print a short report."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from schemas.errors import ToolkitError
from viddiff_runtime.cli import ToolkitGroup

#: The model the public benchmark used for its taxonomy proposals and splits (override with --model,
#: the config's ``models`` or the VIDDIFF_LLM_MODEL environment variable).
DEFAULT_MODEL = "gpt-4o-2024-08-06"

dataset_arg = click.argument("dataset", type=click.Path(file_okay=False, path_type=Path))
action_opt = click.option("--action", "action", required=True, help="Action key, e.g. fitness_0.")


def llm_options(f):
    """--config, --model, --max-cost, --cache-dir and --no-cache for commands that call the LLM."""
    f = click.option("--no-cache", is_flag=True, help="Do not read or write cached LLM answers.")(f)
    f = click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="LLM cache folder (default: the cache every command shares, $VIDDIFF_CACHE_DIR or "
        "~/.cache/viddiff-toolkit).",
    )(f)
    f = click.option(
        "--max-cost",
        type=float,
        envvar="VIDDIFF_MAX_COST",
        default=None,
        help="Stop before a call that would exceed this cost (price table in --config). "
        "Env: VIDDIFF_MAX_COST.",
    )(f)
    f = click.option(
        "--model",
        default=None,
        help=f"Model name (default: config models.<role>, VIDDIFF_LLM_MODEL, else {DEFAULT_MODEL}).",
    )(f)
    f = click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="LLM YAML (or a `viddiff run` config's llm: section): base_url, models per role, "
        "structured_output, prices, max_cost.",
    )(f)
    return f


def make_client(
    dataset: Path,
    config: Path | None,
    model: str | None,
    max_cost: float | None,
    role: str,
    cache_dir: Path | None = None,
    no_cache: bool = False,
):
    """An LLM client for ``role`` (answers in the shared user cache unless told otherwise) and the model to use."""
    from viddiff_runtime.llm.client import LLMClient
    from viddiff_runtime.llm.config import load_llm_config, resolve_cache_path

    cfg = load_llm_config(config, max_cost=max_cost)
    cfg.cache_path = resolve_cache_path(cfg, cache_dir, no_cache)
    model = model or cfg.model_for(role, default=os.environ.get("VIDDIFF_LLM_MODEL") or DEFAULT_MODEL)
    return LLMClient(cfg), model


def _print_usage(client) -> None:
    click.echo(client.usage.summary(), err=True)


def _need_dataset(dataset: Path) -> None:
    if not dataset.is_dir():
        raise ToolkitError("dataset directory not found", file=str(dataset))


@click.group("taxonomy", cls=ToolkitGroup)
def taxonomy() -> None:
    """Build and curate per-action difference taxonomies (DATASET/taxonomies/<action>.json)."""


@taxonomy.command("propose")
@dataset_arg
@action_opt
@click.option(
    "--n",
    "n",
    type=click.IntRange(1, 200),
    default=15,
    show_default=True,
    help="How many differences to ask for.",
)
@click.option(
    "--context",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Text file of expert notes (e.g. Ego-Exo4D expert commentary) fed to the LLM.",
)
@click.option(
    "--dup-threshold",
    type=click.FloatRange(0, 100),
    default=90.0,
    show_default=True,
    help="Similarity (0-100) at which a proposal counts as a duplicate and is skipped.",
)
@llm_options
def propose_cmd(dataset, action, n, context, dup_threshold, config, model, max_cost, cache_dir, no_cache):
    """LLM proposals of stages, keypoints and differences for ACTION, added as drafts."""
    from curation.taxonomy.propose import propose

    _need_dataset(dataset)
    client, model = make_client(dataset, config, model, max_cost, "taxonomy", cache_dir, no_cache)
    text = context.read_text(encoding="utf-8", errors="replace") if context else None
    try:
        report = propose(
            dataset, action, client=client, model=model, n=n, context=text, dup_threshold=dup_threshold
        )
    finally:
        _print_usage(client)
    click.echo(str(report))


@taxonomy.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--action", "actions", multiple=True, help="Only these actions (for a dataset directory).")
@click.option("--dup-threshold", type=click.FloatRange(0, 100), default=90.0, show_default=True)
def validate_cmd(paths, actions, dup_threshold):
    """Check taxonomy files (or every taxonomy of a dataset): schema, links, keys, near-duplicates."""
    from curation.taxonomy.checks import Issue, check_taxonomy
    from curation.taxonomy.store import list_actions, taxonomy_path
    from schemas.dataset_dir import taxonomy_name_mismatch
    from schemas.io import read_json

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            names = list(actions) or list_actions(p)
            if not names:
                raise ToolkitError("no taxonomies found", file=str(p / "taxonomies"))
            files += [taxonomy_path(p, a) for a in names]
        else:
            files.append(p)
    n_err = 0
    for f in files:
        tax = read_json(f)
        issues = check_taxonomy(tax, dup_threshold=dup_threshold)
        if (why := taxonomy_name_mismatch(f, tax)) is not None:
            issues.insert(0, Issue("$.action", why))
        errs = [i for i in issues if i.level == "error"]
        n_err += len(errs)
        click.echo(
            f"{f}: {'ok' if not errs else f'{len(errs)} error(s)'}"
            + (f", {len(issues) - len(errs)} warning(s)" if len(issues) > len(errs) else "")
        )
        for i in issues:
            click.echo(f"  {i}")
    if n_err:
        raise ToolkitError(f"{n_err} error(s) in {len(files)} file(s)")


@taxonomy.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def diff_cmd(old, new, as_json):
    """What changed between two taxonomy files (e.g. taxonomies/history/<action>.v1.json and the current one)."""
    from curation.taxonomy.diff import diff_taxonomies, format_diff
    from curation.taxonomy.store import load_taxonomy

    a, b = load_taxonomy(old), load_taxonomy(new)
    d = diff_taxonomies(a, b)
    click.echo(json.dumps(d, indent=2, ensure_ascii=False) if as_json else format_diff(d, a, b))


def _edit_and_save(dataset: Path, action: str, op: str, fn) -> None:
    from curation.taxonomy.store import load_taxonomy, save_taxonomy, taxonomy_path

    _need_dataset(dataset)
    path = taxonomy_path(dataset, action)
    if not path.exists():
        raise ToolkitError(
            "no taxonomy for this action yet (run `curate taxonomy propose` or `import`)", file=str(path)
        )
    tax = load_taxonomy(path)
    detail = fn(tax)
    written = save_taxonomy(dataset, tax, op=op, detail=detail)
    click.echo(f"{action}: {detail}" + ("" if written else " (no change)"))


@taxonomy.command("accept")
@dataset_arg
@action_opt
@click.argument("keys", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Accept every draft difference and keypoint.")
@click.option(
    "--keypoint", "keypoints", multiple=True, help="Accept this draft keypoint (loc_id); repeatable."
)
def accept_cmd(dataset, action, keys, all_, keypoints):
    """Make draft differences KEYS (and their keypoints) active."""
    from curation.taxonomy.edits import accept, accept_keypoints

    if not keys and not all_ and not keypoints:
        raise ToolkitError("give difference keys, --keypoint LOC or --all", key="KEYS")

    def fn(tax):
        done = accept(tax, None if all_ and not keys else keys)
        kps = accept_keypoints(tax, None if all_ else keypoints) if (all_ or keypoints) else []
        return f"accepted {', '.join(done) or 'no differences'}" + (
            f"; keypoints {', '.join(kps)}" if kps else ""
        )

    _edit_and_save(dataset, action, "accept", fn)


@taxonomy.command("retire")
@dataset_arg
@action_opt
@click.argument("keys", nargs=-1, required=True)
def retire_cmd(dataset, action, keys):
    """Retire differences KEYS: they keep their key and become null in differences_annotated."""
    from curation.taxonomy.edits import retire

    _edit_and_save(
        dataset, action, "retire", lambda tax: f"retired {', '.join(retire(tax, keys)) or 'nothing'}"
    )


@taxonomy.command("merge")
@dataset_arg
@action_opt
@click.argument("keep")
@click.argument("others", nargs=-1, required=True)
@click.option("--description", default=None, help="New statement for the kept difference.")
def merge_cmd(dataset, action, keep, others, description):
    """Merge OTHERS into KEEP (they are retired with merged_into=KEEP; keypoints are joined)."""
    from curation.taxonomy.edits import merge

    _edit_and_save(
        dataset,
        action,
        "merge",
        lambda tax: f"merged {', '.join(merge(tax, keep, others, description=description))} into {keep}",
    )


@taxonomy.command("edit")
@dataset_arg
@action_opt
@click.argument("key")
@click.option("--name", default=None)
@click.option("--description", default=None)
@click.option("--query-string", default=None)
@click.option("--num-frames", type=click.Choice(["1", "gt_1"]), default=None)
@click.option("--keypoints", default=None, help="Comma-separated loc_ids (empty string clears).")
def edit_cmd(dataset, action, key, name, description, query_string, num_frames, keypoints):
    """Change fields of difference KEY (or edit the JSON by hand and run `validate`)."""
    from curation.taxonomy.edits import edit

    kps = None if keypoints is None else [k.strip() for k in keypoints.split(",") if k.strip()]

    def fn(tax):
        was_active = tax["differences"].get(key, {}).get("status") == "active"
        changes = edit(
            tax,
            key,
            name=name,
            description=description,
            query_string=query_string,
            num_frames=num_frames,
            keypoints=kps,
        )
        if changes and was_active and ("description" in changes or "name" in changes):
            click.echo(
                f"warning: {key} is active; labels already collected refer to its old statement", err=True
            )
        return f"edited {key}: {', '.join(changes) or 'nothing changed'}"

    _edit_and_save(dataset, action, "edit", fn)


@taxonomy.command("dups")
@dataset_arg
@action_opt
@click.option("--threshold", type=click.FloatRange(0, 100), default=80.0, show_default=True)
def dups_cmd(dataset, action, threshold):
    """List near-duplicate differences (text similarity >= THRESHOLD) to merge or retire."""
    from curation.taxonomy.dups import near_duplicates
    from curation.taxonomy.store import load_taxonomy, taxonomy_path

    tax = load_taxonomy(taxonomy_path(dataset, action))
    pairs = near_duplicates(tax, threshold=threshold)
    for a, b, s in pairs:
        click.echo(
            f"{a} ~ {b} ({s:.0f}%): {tax['differences'][a]['name']!r} / {tax['differences'][b]['name']!r}"
        )
    if not pairs:
        click.echo("no near-duplicates")


@taxonomy.command("import")
@click.argument("csv_path", metavar="CSV", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@dataset_arg
@click.option("--action", "actions", multiple=True, help="Only these actions of the CSV.")
@click.option(
    "--status",
    type=click.Choice(["active", "draft"]),
    default="active",
    show_default=True,
    help="Status of newly imported differences.",
)
@click.option("--retire-missing", is_flag=True, help="Retire differences that the CSV no longer lists.")
def import_cmd(csv_path, dataset, actions, status, retire_missing):
    """Merge a taxonomy CSV (action, diff_key, name, num_frames, description, query_string) by key."""
    from curation.taxonomy.csv_io import import_csv

    click.echo(
        str(
            import_csv(
                dataset, csv_path, actions=actions or None, status=status, retire_missing=retire_missing
            )
        )
    )


@taxonomy.command("export")
@dataset_arg
@click.option("--action", "actions", multiple=True, help="Only these actions.")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file to write (default: stdout).",
)
@click.option("--include-drafts", is_flag=True)
def export_cmd(dataset, actions, out, include_drafts):
    """Write active differences in the public benchmark's CSV columns."""
    from curation.taxonomy.csv_io import export_csv

    text = export_csv(dataset, out, actions or None, include_drafts=include_drafts)
    if out is None:
        sys.stdout.write(text)
    else:
        click.echo(f"wrote {text.count(chr(10)) - 1} row(s) to {out}")


@taxonomy.command("apply")
@dataset_arg
@click.option("--action", "actions", multiple=True, help="Only these actions.")
def apply_cmd(dataset, actions):
    """Fill differences_annotated of every sample from its action's taxonomy (retired -> null)."""
    from curation.taxonomy.apply import apply_taxonomies

    click.echo(str(apply_taxonomies(dataset, actions or None)))


@click.group("splits", cls=ToolkitGroup)
def splits() -> None:
    """Difficulty splits (easy / medium / hard) per action, stored in dataset.json and every sample."""


@splits.command("assign")
@dataset_arg
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="ACTION=SPLIT",
    help="Manual override (split_origin manual); repeatable. With only --set no LLM is called.",
)
@click.option("--action", "actions", multiple=True, help="Only rank these actions.")
@click.option("--force", is_flag=True, help="Also re-rank actions whose split was set by hand.")
@llm_options
def assign_cmd(dataset, sets, actions, force, config, model, max_cost, cache_dir, no_cache):
    """Let the LLM rank each action from its description, taxonomy and median clip length (with reasons)."""
    from curation.taxonomy.splits import assign_splits, parse_overrides

    _need_dataset(dataset)
    overrides = parse_overrides(sets)
    client = None
    if not sets or actions:
        client, model = make_client(dataset, config, model, max_cost, "splits", cache_dir, no_cache)
    try:
        report = assign_splits(
            dataset, client=client, model=model, overrides=overrides, force=force, actions=actions or None
        )
    finally:
        if client is not None:
            _print_usage(client)
    click.echo(str(report))
