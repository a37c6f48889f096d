"""`curate sources scan`: counts per action/view, skipped items with reasons, --json, one-line errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from curation.cli import main
from curation.cli.sources import parse_option


def _run(*args):
    return CliRunner().invoke(main, ["sources", "scan", *args])


def test_human_report(sample_root):
    res = _run("humman", str(sample_root / "humman"), "-o", "action_names={a000001: squat}")
    assert res.exit_code == 0, res.output
    assert "humman: 6 clip(s)" in res.output
    assert "a000001 (squat)" in res.output and "kinect_000" in res.output
    assert "skipped 2:" in res.output and "image folder with gaps" in res.output


def test_json_report(sample_root):
    res = _run("jigsaws", str(sample_root / "jigsaws"), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["n_clips"] == len(data["clips"]) == 8
    assert data["counts"]["view"] == {"capture1": 7, "capture2": 1}
    assert {"item": "Suturing_H002", "reason": "no video files (listed in the meta file)"} in data["skipped"]


def test_options_are_yaml_values(sample_root):
    res = _run(
        "finediving",
        str(sample_root / "finediving"),
        "--option",
        "fps=18",
        "-o",
        "label_mismatch=clamp",
        "--json",
    )
    data = json.loads(res.output)
    assert {c["fps_declared"] for c in data["clips"]} == {18.0} and data["skipped"] == []
    assert parse_option("heights={'01': 10m}") == ("heights", {"01": "10m"})


def test_errors_are_one_line(sample_root, tmp_path):
    for args, needle in [
        (("divebench", str(tmp_path)), "unknown source 'divebench'"),
        (("egoexo4d", str(tmp_path / "missing")), "egoexo4d root not found"),
        (("jigsaws", str(sample_root / "jigsaws"), "-o", "fps"), "expected KEY=VALUE"),
        (
            ("jigsaws", str(sample_root / "jigsaws"), "-o", "transcription_base=2"),
            "sources.jigsaws.transcription_base",
        ),
    ]:
        res = _run(*args)
        assert res.exit_code == 1, (args, res.output)
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.output
        assert "Traceback" not in res.output
