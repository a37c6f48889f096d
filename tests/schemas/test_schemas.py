"""The JSON Schemas, validate() with JSON paths, atomic I/O and the dataset directory."""

from __future__ import annotations

import json

import pytest

from schemas import check, list_kinds, load_schema, validate
from schemas.dataset_dir import load_dataset, save_dataset
from schemas.errors import SchemaError, ToolkitError
from schemas.io import read_json, read_jsonl, read_yaml, write_json
from tests.helpers.tiny_dataset import make_tiny_dataset


def test_every_documented_kind_ships():
    assert {"build_config", "dataset", "sample", "clip", "taxonomy", "predictions", "localization"} <= set(
        list_kinds()
    )
    for kind in list_kinds():
        assert load_schema(kind)["$schema"].startswith("https://json-schema.org/")


def test_validate_reports_every_error_with_its_json_path():
    row = {
        "sample_key": "x y",
        "action": "a",
        "videos": [{"path": "v.mp4", "fps_original": -1, "frames_trim": [0, 5]}],
        "differences_gt": {"0": "d"},
    }
    paths = [p for p, _ in validate("sample", row)]
    assert "$.sample_key" in paths
    assert "$.videos" in paths  # one video, not two
    assert "$.videos[0].fps_original" in paths
    assert "$.differences_gt.0" in paths
    assert "$" in paths  # missing required keys


def test_check_raises_one_line_naming_file_and_path():
    with pytest.raises(SchemaError) as err:
        check("predictions", {"s1": {"0": {"prediction": "x"}}}, file="preds.json")
    msg = str(err.value)
    assert msg.startswith("preds.json: $.s1.0.prediction:") and "\n" not in msg


def test_dataset_roundtrip_and_bad_rows(tmp_path):
    ds = make_tiny_dataset(tmp_path / "d")
    loaded = load_dataset(tmp_path / "d")
    assert loaded.samples == json.loads(json.dumps(ds.samples))
    assert loaded.video_path(loaded.samples[0], 1).exists()
    rows = (tmp_path / "d" / "samples.jsonl").read_text().splitlines()
    bad = json.loads(rows[1])
    bad["differences_gt"]["0"] = "z"
    (tmp_path / "d" / "samples.jsonl").write_text("\n".join([rows[0], json.dumps(bad)] + rows[2:]) + "\n")
    with pytest.raises(SchemaError, match=r"samples.jsonl:2: \$.differences_gt.0"):
        load_dataset(tmp_path / "d")
    dup = [json.loads(rows[0])] * 2
    with pytest.raises(ToolkitError, match="duplicate sample_key"):
        save_dataset(tmp_path / "e", loaded.meta, dup)
    assert not (tmp_path / "e" / "samples.jsonl").exists()


def test_readers_name_file_and_line(tmp_path):
    (tmp_path / "a.json").write_text("{\n  'x': 1}")
    with pytest.raises(ToolkitError, match=r"a.json: invalid JSON at line 2"):
        read_json(tmp_path / "a.json")
    (tmp_path / "b.jsonl").write_text('{"a": 1}\n{oops\n')
    with pytest.raises(ToolkitError, match=r"b.jsonl: line 2"):
        read_jsonl(tmp_path / "b.jsonl")
    (tmp_path / "c.yaml").write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ToolkitError, match=r"c.yaml: line \d+ column \d+"):
        read_yaml(tmp_path / "c.yaml")
    with pytest.raises(ToolkitError, match="file not found"):
        read_json(tmp_path / "missing.json")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    write_json(tmp_path / "x.json", {"v": 1})

    class Boom:
        pass

    with pytest.raises(TypeError):
        write_json(tmp_path / "x.json", {"v": Boom()})
    assert read_json(tmp_path / "x.json") == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_open_prediction_budget_counts_c_labels_and_row_value_wins():
    from schemas.dataset_dir import open_prediction_budget, row_open_prediction_budget, sample_hash

    gt = {"0": "a", "1": "c", "2": None, "3": "b"}
    assert open_prediction_budget(gt) == 5  # ceil(1.5 * 3)
    assert open_prediction_budget(None) == 0
    assert row_open_prediction_budget({"differences_gt": gt, "n_differences_open_prediction": None}) == 5
    assert row_open_prediction_budget({"differences_gt": gt, "n_differences_open_prediction": 7}) == 7
    assert sample_hash("fitness_0_1") == sample_hash("fitness_0_1") != sample_hash("fitness_0_2")
    assert 0 <= sample_hash("x") < 2**63


def test_read_jsonl_validates_rows_against_a_kind(tmp_path):
    good = {
        "sample_key": "s",
        "action": "x",
        "annotator": "u1",
        "item": "keypoint",
        "video": "a",
        "name": "peak",
        "start": 3,
        "end": 4,
        "fps": 30,
    }
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "item": "difference"}) + "\n")
    assert read_jsonl(path)[0] == good
    with pytest.raises(SchemaError, match=r"labels.jsonl:3: \$: 'diff_key' is a required property"):
        read_jsonl(path, kind="label")
