"""CLI commands (placeholder until implemented)."""
from __future__ import annotations

import click

from schemas.errors import ToolkitError


@click.command("publish", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def publish(args) -> None:
    """Not implemented yet."""
    raise ToolkitError("not implemented yet")

@click.command("import-release", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1)
def import_release(args) -> None:
    """Not implemented yet."""
    raise ToolkitError("not implemented yet")
