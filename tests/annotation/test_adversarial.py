"""Adversarial cases for the annotation package's offline paths: a Label Studio export with hostile keys,
a folder where the export belongs, hostile rows in labels.jsonl. One test per case."""

from __future__ import annotations

import json

from click.testing import CliRunner

from curation.cli import main as curate
from tests.helpers.adversarial import assert_one_line_error


def invoke(*args: str):
    return CliRunner().invoke(curate, ["annotate", *args])


def test_export_with_a_path_traversal_sample_key(tiny_dataset, tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 1, "data": {"sample_key": "../../etc"}, "annotations": []}]))
    r = invoke("convert", str(export), "--dataset", str(tiny_dataset), "--kind", "differences")
    assert_one_line_error(
        r.output, r.exit_code, str(export), "$[0].data.sample_key", "unsafe sample_key '../../etc'"
    )
    assert not (tmp_path / "etc").exists()


def test_export_with_a_control_character_in_the_sample_key(tiny_dataset, tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([{"id": 1, "data": {"sample_key": "fitness_0_0\u0000"}, "annotations": []}]))
    r = invoke("convert", str(export), "--dataset", str(tiny_dataset), "--kind", "differences")
    assert_one_line_error(r.output, r.exit_code, "unsafe sample_key")


def test_folder_given_as_the_export(tiny_dataset, tmp_path):
    (tmp_path / "export.json").mkdir()
    r = invoke(
        "convert", str(tmp_path / "export.json"), "--dataset", str(tiny_dataset), "--kind", "differences"
    )
    assert r.exit_code != 0 and "Traceback" not in r.output


def test_labels_row_with_an_unsafe_sample_key(tiny_dataset):
    path = tiny_dataset / "annotation" / "differences" / "labels.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "sample_key": "..",
                "action": "fitness_0",
                "annotator": "u1",
                "item": "difference",
                "diff_key": "0",
                "label": "a",
            }
        )
        + "\n"
    )
    r = invoke("agreement", str(tiny_dataset))
    assert_one_line_error(r.output, r.exit_code, f"{path}:1", "$.sample_key")
