"""The README's build examples run as written: its commands, and its example config on the sample trees."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from curation.cli import main as curate
from schemas.dataset_dir import load_dataset

README = Path(__file__).resolve().parents[2] / "README.md"


def build_section() -> str:
    text = README.read_text("utf-8")
    return text[text.index("<!-- section:build -->") : text.index("<!-- /section:build -->")]


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", build_section(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def readme_config(tmp_path_factory) -> tuple[Path, Path]:
    """The README's YAML example with each `root: /data/<source>` pointed at the sample trees."""
    folder = tmp_path_factory.mktemp("readme")
    result = CliRunner().invoke(curate, ["samples", str(folder / "build" / "sample" / "sources")])
    assert result.exit_code == 0, result.output
    (example,) = blocks("yaml")
    config = yaml.safe_load(example)
    for name, block in config["sources"].items():
        assert block["root"] == f"/data/{name}"  # the README's own roots, replaced below
        block["root"] = str(folder / "build" / "sample" / "sources" / name)
    config["output"] = str(folder / "readme_dataset")
    path = folder / "readme_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return folder, path


def test_readme_commands_run(readme_config):
    folder, config = readme_config
    (commands,) = blocks("bash")
    ran = 0
    for line in commands.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        args = shlex.split(line)
        assert args[0] == "curate"
        if "--executor" in args:  # Ray: covered by tests/curation/test_build.py (it starts a Ray runtime)
            continue
        args = [
            str(config)
            if a == "CONFIG"
            else str(folder / a)
            if a.startswith("build/sample")
            else str(folder / "build" / "sample" / "sources" / a.removeprefix("/data/"))
            if a.startswith("/data/")
            else a
            for a in args[1:]
        ]
        result = CliRunner().invoke(curate, args)
        assert result.exit_code == 0, (line, result.output)
        if args[:2] == ["sources", "scan"] and "--json" in args:
            report = json.loads(result.stdout)
            assert report["n_clips"] > 0 and "dropped" in report and report["assumptions"]
        ran += 1
    assert ran == 4
    ds = load_dataset(folder / "build" / "sample" / "dataset")
    assert ds.samples and ds.meta["assumptions"]


def test_readme_example_config_builds(readme_config):
    folder, config = readme_config
    result = CliRunner().invoke(curate, ["build", str(config), "--workers", "2"])
    assert result.exit_code == 0, result.output
    ds = load_dataset(folder / "readme_dataset")
    example = yaml.safe_load(blocks("yaml")[0])
    assert set(ds.meta["actions"]) == {a["key"] for a in example["actions"]}
    # the surgery example without fps keeps the source's own rate
    surgery = next(a for a in example["actions"] if a["source"] == "jigsaws" and "fps" not in a)
    assert ds.meta["actions"][surgery["key"]]["fps"] == 30
    assert "warning: assumption: finediving" in result.output
