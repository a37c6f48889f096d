"""CLI commands (placeholder until implemented)."""
from __future__ import annotations

import click

from schemas.errors import ToolkitError


@click.group("sources")
def sources() -> None:
    """Not implemented yet."""
