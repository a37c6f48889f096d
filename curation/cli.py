"""`curate`: the curator's command line. It only parses arguments and calls library functions."""
from __future__ import annotations

import click

from schemas.cli_support import LazyGroup, debug_option


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "build": "curation.cli_build:build",
        "samples": "curation.cli_build:samples",
        "sources": "curation.cli_sources:sources",
        "taxonomy": "curation.cli_taxonomy:taxonomy",
        "splits": "curation.cli_taxonomy:splits",
        "annotate": "annotation.cli:annotate",
        "publish": "curation.cli_publish:publish",
        "import-release": "curation.cli_publish:import_release",
    },
)
@debug_option
@click.version_option(package_name="viddiff-toolkit")
def main() -> None:
    """Build, annotate and publish video action differencing datasets."""


if __name__ == "__main__":
    main()
