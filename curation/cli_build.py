"""CLI commands (placeholder until implemented)."""
from __future__ import annotations

import click

from schemas.errors import ToolkitError


@click.command("build", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def build(args) -> None:
    """Not implemented yet."""
    raise ToolkitError("not implemented yet")

@click.command("samples", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def samples(args) -> None:
    """Not implemented yet."""
    raise ToolkitError("not implemented yet")
