"""Localization metrics on hand-made keypoints: clips of 8 and 30 fps, of 40/32 and 300/150 frames."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from eval.data import load_eval_data
from eval.predictions import parse_localization
from eval.protocols.localization import score_localization
from schemas.errors import ToolkitError
from tests.eval.fixtures import write_dataset
from viddiff_method.cli import main

# Ground truth (fixtures.rows): s1 (8 fps; A 40, B 32 frames): A {0: [10, 12], 1: [30]}, B {0: [8], 1: null}
#                               s3 (30 fps; A 300, B 150):       A {0: [100], 1: [250]}, B {0: [50], 1: [140]}
#                               s4 (30 fps; A 300, B 150):       A {0: [5]}, B {0: [5]}
PRED = {
    "s1": [{"0": [12, 20], "1": [26]}, {"0": [8], "1": [3]}],  # errors 2, 4, 0 frames; B/1 has no gt
    "s3": [{"0": [115]}, {"0": [20], "1": [141]}],  # errors 15, 30, 1 frames; A/1 missing
    "ghost": [{}, {}],
}
# per predicted keypoint: frames, seconds, share of clip
ERR = [
    (2, 2 / 8, 2 / 40),
    (4, 4 / 8, 4 / 40),
    (0, 0, 0),
    (15, 15 / 30, 15 / 300),
    (30, 30 / 30, 30 / 150),
    (1, 1 / 30, 1 / 150),
]


@pytest.fixture()
def data(tmp_path):
    return load_eval_data(write_dataset(tmp_path / "ds"))


def test_localization_by_hand(data):
    m = score_localization(data, parse_localization(PRED, data)).metrics
    assert m["n"] == 6 and m["missing"] == 3  # s3 A/1, s4 A/0, s4 B/0
    assert m["coverage"] == pytest.approx(6 / 9)
    assert m["mae_frames"] == pytest.approx(52 / 6)
    assert m["mae_seconds"] == pytest.approx(sum(e[1] for e in ERR) / 6)
    assert m["mae_norm"] == pytest.approx(sum(e[2] for e in ERR) / 6)
    assert m["hit@0.25s"] == pytest.approx(3 / 6)  # 0.25 (inclusive), 0, 1/30
    assert m["hit@0.5s"] == pytest.approx(5 / 6)  # all but the 1.0 s error
    assert m["hit@1s"] == pytest.approx(1.0)
    assert m["hit@5%"] == pytest.approx(4 / 6)  # 0.05, 0, 0.05, 1/150
    assert m["hit@10%"] == pytest.approx(5 / 6)  # all but 30/150 = 0.2
    assert m["median_seconds"] == pytest.approx((0.25 + 0.5) / 2)
    fit, sur = m["by_domain"]["fitness"], m["by_domain"]["surgery"]
    assert (fit["n"], fit["missing"], fit["mae_frames"]) == (3, 0, pytest.approx(2.0))
    assert (sur["n"], sur["missing"], sur["mae_frames"]) == (3, 3, pytest.approx(46 / 3))
    kp = m["by_keypoint"]
    assert kp["fitness_0/0"]["mae_frames"] == pytest.approx(1.0) and kp["fitness_0/1"]["n"] == 1
    assert (kp["surgery_0/0"]["n"], kp["surgery_0/0"]["missing"], kp["surgery_0/0"]["mae_frames"]) == (
        2,
        2,
        22.5,
    )
    assert (kp["surgery_0/1"]["n"], kp["surgery_0/1"]["missing"]) == (1, 1)
    unknown = {(u["sample_key"], u["video"], u["loc_id"]) for u in m["unknown_keys"]["items"]}
    assert unknown == {("s1", "b", "1"), ("ghost", None, None)}
    assert m["human_vs_human"] is None


def test_empty_predictions_all_missing(data):
    m = score_localization(data, parse_localization({}, data)).metrics
    assert (m["n"], m["missing"]) == (0, 9)
    assert m["mae_seconds"] is None and m["hit@1s"] is None and m["coverage"] == 0


def test_human_vs_human_beside_the_model(data, tmp_path):
    ann = {
        "s3": {
            "ann1": [{"0": [100], "1": [250]}, {"0": [50], "1": [140]}],
            "ann2": [{"0": [106], "1": None}, {"0": [47], "1": [146]}],
        },
        "s1": {"ann1": [{"0": [10]}, {"0": [8]}]},  # one annotator: no pair
    }
    (data.annotation_dir).mkdir()
    (data.annotation_dir / "timestamps_annotators.json").write_text(json.dumps(ann))
    m = score_localization(data, parse_localization(PRED, data)).metrics
    hh = m["human_vs_human"]
    assert hh["n_samples"] == 1
    assert (hh["n"], hh["missing"]) == (3, 1)  # A/0 6 frames, B/0 3, B/1 6; A/1 only ann1
    assert hh["mae_frames"] == pytest.approx(5.0) and hh["mae_seconds"] == pytest.approx(5 / 30)
    assert hh["hit@0.25s"] == pytest.approx(1.0)
    assert hh["median_seconds"] == pytest.approx(6 / 30)  # odd count: the middle of 3, 6, 6 frames
    same = hh["model_on_same_items"]  # the model on s3's four keypoints: 15, missing, 30, 1
    assert (same["n"], same["missing"], same["mae_frames"]) == (3, 1, pytest.approx(46 / 3))


@pytest.mark.parametrize(
    "ann, where",
    [
        ({"s3": {"ann1": [{"0": [-1]}, {}]}}, r"\$\.s3\.ann1\[0\]\.0"),
        ({"s3": {"ann1": [{"0": [True]}, {}]}}, r"\$\.s3\.ann1\[0\]\.0"),
        ({"s3": {"ann1": [{}, {}, {}]}}, r"\$\.s3\.ann1"),
        ({"s3": {"ann1": [[], {}]}}, r"\$\.s3\.ann1\[0\]"),
        ({"s3": []}, r"\$\.s3"),
    ],
)
def test_bad_annotators_file_names_the_path(data, ann, where):
    data.annotation_dir.mkdir()
    path = data.annotation_dir / "timestamps_annotators.json"
    path.write_text(json.dumps(ann))
    with pytest.raises(ToolkitError, match=rf"timestamps_annotators.json: {where}: "):
        score_localization(data, parse_localization(PRED, data))


def test_human_keypoints_from_annotation_labels_jsonl(data):
    """The annotation package's labels.jsonl (keypoint rows) gives the same human numbers as the JSON form."""
    rows = [
        {
            "item": "difference",
            "sample_key": "s3",
            "action": "surgery_0",
            "annotator": "ann1",
            "diff_key": "0",
            "label": "a",
        }
    ]
    for ann, frames in (
        ("ann1", {("a", "0"): 100, ("a", "1"): 250, ("b", "0"): 50, ("b", "1"): 140}),
        ("ann2", {("a", "0"): 106, ("b", "0"): 47, ("b", "1"): 146}),
    ):
        rows += [
            {
                "item": "keypoint",
                "sample_key": "s3",
                "action": "surgery_0",
                "annotator": ann,
                "video": v,
                "name": loc,
                "start": f,
                "end": f + 1,
                "fps": 30,
            }
            for (v, loc), f in frames.items()
        ]
    path = data.annotation_dir / "timestamps" / "labels.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    hh = score_localization(data, parse_localization(PRED, data)).metrics["human_vs_human"]
    assert hh["annotations"] == str(path)
    assert (hh["n"], hh["missing"], hh["mae_frames"]) == (3, 1, pytest.approx(5.0))
    path.write_text(json.dumps({**rows[1], "video": "c"}) + "\n")
    with pytest.raises(ToolkitError, match=r"labels.jsonl:1: \$\.video: 'c' is not one of"):
        score_localization(data, parse_localization(PRED, data))


def test_frame_past_clip_end_is_an_error(data):
    with pytest.raises(ToolkitError, match=r"loc.json: \$\.s1\[1\]\.0\[0\]: frame 32 is past the end"):
        from eval.protocols.localization import localization_items

        loc = parse_localization({"s1": [{}, {"0": [32]}]}, data, file="loc.json")
        loc.path = "loc.json"
        localization_items(data, loc)


def test_schema_error_names_path(data):
    with pytest.raises(ToolkitError, match=r"loc.json: \$\.s1"):
        parse_localization({"s1": [{"0": [-1]}]}, data, file="loc.json")


def test_cli_localization(tmp_path):
    ds = write_dataset(tmp_path / "ds")
    (tmp_path / "loc.json").write_text(json.dumps(PRED))
    res = CliRunner().invoke(
        main, ["eval", "localization", str(ds), str(tmp_path / "loc.json"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert "hit@0.5s 83.3% over 6 (missing 3)" in res.output
    items = [json.loads(x) for x in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert len(items) == 9 and sorted(it["err_frames"] for it in items if it["err_frames"] is not None) == [
        0,
        1,
        2,
        4,
        15,
        30,
    ]
