"""`curate sources scan SOURCE ROOT`: what a source adapter finds under ROOT, and what it skips and why."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import click

from schemas.errors import ToolkitError


def parse_option(text: str) -> tuple[str, Any]:
    """``k=v`` -> (k, YAML value of v): ``fps=12`` is a number, ``action_names={a000001: squat}`` a mapping."""
    import yaml

    if "=" not in text:
        raise ToolkitError(f"expected KEY=VALUE, got {text!r}", key="--option")
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def scan_report(source: str, root: str, result) -> dict[str, Any]:
    """The JSON form of a scan: clip records, counts per action and view, skipped items with reasons."""
    return {
        "source": source,
        "root": root,
        "n_clips": len(result.clips),
        "counts": result.counts(),
        "clips": [c.to_dict() for c in result.clips],
        "skipped": [{"item": what, "reason": why} for what, why in result.skipped],
        "dropped": result.dropped(),
        "adjusted": [{"item": what, "reason": why} for what, why in result.adjusted],
        "adjusted_counts": result.adjusted_counts(),
        "facts": dict(result.facts),
        "assumptions": list(result.assumptions),
    }


def format_report(source: str, root: str, result, *, max_per_reason: int = 10) -> str:
    """A human summary: clips per action and view, then skipped items grouped by reason."""
    lines = [f"{source}: {len(result.clips)} clip(s) under {root}"]
    counts = Counter(
        (
            c.action if c.action_name in (None, c.action) else f"{c.action} ({c.action_name})",
            c.view or "-",
            c.media_kind,
        )
        for c in result.clips
    )
    if counts:
        lines.append("  clips per action / view:")
        for (action, view, kind), n in sorted(counts.items()):
            lines.append(f"    {action:<40} {view:<12} {kind:<6} {n}")
    if result.skipped:
        lines.append(f"  skipped {len(result.skipped)}:")
        by_reason: dict[str, list[str]] = {}
        for what, why in result.skipped:
            by_reason.setdefault(why, []).append(what)
        for why, items in sorted(by_reason.items()):
            shown = items[:max_per_reason]
            for what in shown:
                lines.append(f"    {what}: {why}")
            if len(items) > len(shown):
                lines.append(f"    … and {len(items) - len(shown)} more: {why}")
    else:
        lines.append("  skipped: none")
    if result.skipped:
        lines.append("  dropped per reason: " + ", ".join(f"{k} {v}" for k, v in result.dropped().items()))
    if result.adjusted:
        lines.append(
            "  kept but adjusted: " + ", ".join(f"{k} {v}" for k, v in result.adjusted_counts().items())
        )
    for key, n in result.facts.items():
        lines.append(f"  {key}: {n}")
    for line in result.assumptions:
        lines.append(f"  assumption: {line}")
    return "\n".join(lines)


@click.group("sources")
def sources() -> None:
    """Inspect source datasets (HuMMan, Ego-Exo4D, FineDiving, JIGSAWS) as `curate build` sees them."""


@sources.command("scan")
@click.argument("source")
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An adapter option as in the config's sources.<SOURCE> block (repeatable; YAML values).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the clip records and skipped items as JSON.")
def scan(source: str, root: Path, options: tuple[str, ...], as_json: bool) -> None:
    """Scan ROOT with the SOURCE adapter: clips per action and view, and what was skipped and why."""
    from curation.sources import get_adapter

    adapter = get_adapter(source)
    opts = dict(parse_option(o) for o in options)
    result = adapter.scan(root, opts)
    if as_json:
        click.echo(json.dumps(scan_report(source, str(root), result), indent=2, ensure_ascii=False))
    else:
        click.echo(format_report(source, str(root), result))
