"""Closed-set metrics on hand-made data; every expected number is derived in the comments."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
from click.testing import CliRunner

from eval.data import load_eval_data
from eval.predictions import parse_predictions
from eval.protocols.closed import score_closed
from schemas.errors import ToolkitError
from tests.eval.fixtures import rows, write_dataset
from viddiff_method.cli import main

# s1: 0 a->a ok, 1 b->a wrong, 4 a->missing wrong; 2 (gt c) excluded; 7 (no gt) and 3 (gt null) unknown
# s2: 0 b->b ok, 1 b->c wrong, 2 a->a ok; 3 (gt c) excluded
# s3: 0 a->"a" (shorthand) ok, 1 b->b ok, 2 a->null wrong
# s4: all c -> nothing scored; "ghost" is not a sample
KEYED = {
    "s1": {
        "0": {"description": "x", "prediction": "a"},
        "1": {"description": "y", "prediction": "A "},
        "2": {"prediction": "b"},
        "7": "a",
        "3": "b",
    },
    "s2": {"0": "b", "1": "c", "2": {"description": None, "prediction": "a"}, "3": "a"},
    "s3": {"0": "a", "1": {"description": "z", "prediction": "b"}, "2": {"prediction": None}},
    "s4": {"0": "a"},
    "ghost": {"0": "a"},
}


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.fixture()
def data(tmp_path):
    return load_eval_data(write_dataset(tmp_path / "ds"))


def test_closed_keyed_by_hand(data):
    m = score_closed(data, parse_predictions(KEYED, data)).metrics
    assert (m["correct"], m["n"]) == (5, 9)
    assert m["accuracy"] == pytest.approx(5 / 9)
    assert m["p_value"] == pytest.approx(1.0)  # 5 of 9 against 0.5: every outcome is at most as likely
    assert m["ci95"] == pytest.approx(list(wilson(5, 9)))
    assert m["missing"] == 2 and m["predicted_c"] == 1  # s1/4 absent, s3/2 null; s2/1 answered c
    assert m["excluded_gt_c"] == 4  # s1/2, s2/3, s4/0, s4/1
    assert m["by_split"]["easy"]["accuracy"] == pytest.approx(3 / 6)
    assert m["by_split"]["hard"]["accuracy"] == pytest.approx(2 / 3)
    assert m["accuracy_split_mean"] == pytest.approx((3 / 6 + 2 / 3) / 2)
    assert m["by_domain"]["fitness"]["n"] == 6 and m["by_domain"]["surgery"]["correct"] == 2
    assert set(m["by_action"]) == {"fitness_0", "surgery_0"}
    assert set(m["by_num_frames"]) == {"1"} and m["by_num_frames"]["1"]["n"] == 9  # key 3 (gt_1) is never a/b
    unknown = {(u["sample_key"], u["diff_key"]) for u in m["unknown_keys"]["items"]}
    assert unknown == {("s1", "7"), ("s1", "3"), ("ghost", None)}


def test_list_layout_matches_keyed(data):
    as_list = [KEYED[r["sample_key"]] for r in rows()]
    m = score_closed(data, parse_predictions(as_list, data)).metrics
    assert (m["correct"], m["n"]) == (5, 9)
    assert m["unknown_keys"]["count"] == 2  # no "ghost" in a row-aligned list


def test_empty_predictions_all_wrong(data):
    m = score_closed(data, parse_predictions({}, data)).metrics
    assert (m["correct"], m["n"], m["missing"]) == (0, 9, 9)
    assert m["p_value"] == pytest.approx(2 / 2**9)  # two tails of 0/9: P(0) + P(9)
    assert m["significant"] is True
    assert m["ci95"][0] == 0.0 and m["ci95"][1] == pytest.approx(wilson(0, 9)[1])


def test_all_c_ground_truth_scores_nothing(tmp_path):
    data = load_eval_data(write_dataset(tmp_path / "ds", [rows()[3]]))
    m = score_closed(data, parse_predictions({"s4": {"0": "a", "1": "b"}}, data)).metrics
    assert m["n"] == 0 and m["accuracy"] is None and m["p_value"] is None and m["ci95"] is None
    assert m["excluded_gt_c"] == 2 and m["unknown_keys"]["count"] == 0


def test_p_value_and_ci_nine_of_ten(tmp_path):
    gt = {str(i): "a" for i in range(5)}
    r1, r2 = rows()[0], rows()[1]
    r1["differences_gt"], r2["differences_gt"] = gt, dict(gt)
    data = load_eval_data(write_dataset(tmp_path / "ds", [r1, r2]))
    preds = {"s1": {str(i): "a" for i in range(5)}, "s2": {**{str(i): "a" for i in range(4)}, "4": "b"}}
    m = score_closed(data, parse_predictions(preds, data)).metrics
    assert m["p_value"] == pytest.approx(2 * (10 + 1) / 1024)  # 2 x P(X >= 9), X ~ Bin(10, 1/2)
    assert m["ci95"] == pytest.approx(list(wilson(9, 10)))


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"s1": {"0": {"prediction": "yes"}}}, "$.s1.0.prediction"),
        ({"s1": {"zero": "a"}}, "$.s1.zero"),
        ({"s1": {"0": 3}}, "$.s1.0"),
    ],
)
def test_bad_predictions_name_the_path(data, bad, where):
    with pytest.raises(ToolkitError, match=rf"preds.json: {__import__('re').escape(where)}"):
        parse_predictions(bad, data, file="preds.json")


def test_list_layout_wrong_length(data):
    with pytest.raises(ToolkitError, match="aligned"):
        parse_predictions([{}], data)


def test_cli_closed_writes_metrics_and_items(tmp_path):
    ds = write_dataset(tmp_path / "ds")
    (tmp_path / "p.json").write_text(json.dumps(KEYED))
    res = CliRunner().invoke(
        main, ["eval", "closed", str(ds), str(tmp_path / "p.json"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    assert "55.6% (5/9" in res.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["task"] == "closed" and m["inputs"]["predictions_layout"] == "keyed"
    items = [json.loads(x) for x in (tmp_path / "o" / "items.jsonl").read_text().splitlines()]
    assert len(items) == 9 and sum(it["correct"] for it in items) == 5
    assert m["inputs"]["predictions_sha256"] == hashlib.sha256((tmp_path / "p.json").read_bytes()).hexdigest()


def test_cli_bad_input_is_one_line(tmp_path):
    ds = write_dataset(tmp_path / "ds")
    (tmp_path / "p.json").write_text('{"s1": {"0": "maybe"}}')
    res = CliRunner().invoke(
        main, ["eval", "closed", str(ds), str(tmp_path / "p.json"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 1
    assert res.output.strip().count("\n") == 0 and "$.s1.0.prediction" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()
