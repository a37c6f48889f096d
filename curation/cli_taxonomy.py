"""CLI commands (placeholder until implemented)."""
from __future__ import annotations

import click

from schemas.errors import ToolkitError


@click.group("taxonomy")
def taxonomy() -> None:
    """Not implemented yet."""

@click.group("splits")
def splits() -> None:
    """Not implemented yet."""
