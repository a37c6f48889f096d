"""CLI commands (placeholder until implemented)."""
from __future__ import annotations

import click

from schemas.errors import ToolkitError


@click.group("eval")
def eval_group() -> None:
    """Not implemented yet."""

@click.command("report", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def report(args) -> None:
    """Not implemented yet."""
    raise ToolkitError("not implemented yet")
