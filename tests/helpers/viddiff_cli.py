"""`viddiff run` through click's test runner, for the tests that only vary the dataset, folder and config."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from viddiff_method.cli import main


def invoke_run(
    dataset: Path | str, out: Path | str, config: Path | str, *extra: str, mode: str = "closed", **kwargs
) -> Result:
    """``viddiff run DATASET --mode MODE --out OUT --config CONFIG [extra]`` (``kwargs`` go to ``invoke``)."""
    args = ["run", str(dataset), "--mode", mode, "--out", str(out), "--config", str(config), *extra]
    return CliRunner().invoke(main, args, **kwargs)
