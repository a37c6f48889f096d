"""CLI commands (placeholder until implemented)."""
from __future__ import annotations

import click

from schemas.errors import ToolkitError


@click.group("annotate")
def annotate() -> None:
    """Not implemented yet."""
