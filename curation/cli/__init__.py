"""`curate`: the curator's command line. It only parses arguments and calls library functions."""

from __future__ import annotations

import click

from viddiff_runtime.cli import LazyGroup, debug_option


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "build": "curation.cli.build:build",
        "samples": "curation.cli.build:samples",
        "sources": "curation.cli.sources:sources",
        "taxonomy": "curation.cli.taxonomy:taxonomy",
        "splits": "curation.cli.taxonomy:splits",
        "annotate": "annotation.cli:annotate",
        "publish": "curation.cli.publish:publish",
        "import-release": "curation.cli.publish:import_release",
    },
)
@debug_option
@click.version_option(package_name="viddiff-toolkit")
def main() -> None:
    """Build, annotate and publish video action differencing datasets."""


if __name__ == "__main__":
    main()
