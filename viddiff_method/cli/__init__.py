"""`viddiff`: the researcher's command line (run the method, evaluate, report)."""

from __future__ import annotations

import click

from viddiff_runtime.cli import LazyGroup, debug_option


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "run": "viddiff_method.cli.run:run",
        "eval": "eval.cli:eval_group",
        "report": "eval.cli:report",
    },
)
@debug_option
@click.version_option(package_name="viddiff-toolkit")
def main() -> None:
    """Run the VidDiff method or a baseline, and evaluate predictions."""


if __name__ == "__main__":
    main()
