"""Open-set metrics: matching repairs, N_diff, opposite flips, and the LLM judge through the real client."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from eval.data import load_eval_data
from eval.predictions import parse_predictions
from eval.protocols.open import resolve_matches, score_open
from tests.eval.fixtures import rows, write_dataset
from tests.helpers.openai_server import FakeOpenAI, text_of
from viddiff_method.cli import main

# Ground truth (fixtures.rows, descriptions): 0 "the squat is deeper", 1 "the arms are straighter",
# 2 "the stance is wider", 3 "the movement is faster", 4 "the back is more upright".
# s1 gt {0:a, 1:b, 2:c, 4:a} with N_diff = 4; s2 gt {0:b, 1:b, 2:a, 3:c} (N_diff = ceil(1.5*4) = 6);
# s3 gt {0:a, 1:b, 2:a}; s4 all c.
PREDS = {
    "s1": {
        "0": {"description": "squats lower", "prediction": "a"},
        "1": {"description": "arms more bent", "prediction": "a"},  # opposite of gt 1 -> flipped to b
        "2": {"description": "feet further apart", "prediction": "a"},  # matches gt 2 (a c item)
        "3": {"description": "", "prediction": "a"},  # no description: dropped
        "10": {"description": "back more upright", "prediction": "a"},  # kept (4th described)
        "11": {"description": "the back is more upright", "prediction": "a"},
    },  # over N_diff: dropped
    "s2": {
        "0": {"description": "squat deeper", "prediction": "a"},  # matched, wrong letter
        "1": {"description": "arms straighter", "prediction": "c"},  # matched, answered c
        "2": {"description": "stance wider", "prediction": "b"},
    },  # the judge invents key "9" for it
    "s3": {},
    "s4": {"0": {"description": "anything", "prediction": "a"}},
}
# What the judge says (the same script for the test double and the loopback LLM):
MATCHES = {
    "s1": [("0", "0"), ("1", "1"), ("2", "2"), ("4", "0")],  # "0" used twice: gt 4 loses it
    "s2": [("0", "0"), ("1", "1"), ("2", "9")],  # gt 3 left out, "9" does not exist
}
# Expected: scored items 9 (s1: 0,1,4; s2: 0,1,2; s3: 0,1,2). correct: s1/0, s1/1 -> recall 2/9.
# no match: s1/4 (duplicate), s2/2 (invented key), s3 x3 (no predictions) -> 5/9; flipped: s2/0 -> 1/9;
# answered c: s2/1 -> 1/9.


def _rows():
    r = rows()
    r[0]["n_differences_open_prediction"] = 4
    return r


class ScriptedJudge:
    """Stands in for the judge's decisions (the scoring logic is what is under test)."""

    comparable_to_published = False

    def __init__(self):
        self.tasks = []

    def match_many(self, tasks):
        self.tasks += tasks
        out = []
        for _action, _gt, pred in tasks:
            key = "s1" if "squats lower" in pred.values() else "s2"
            out.append(MATCHES[key])
        return out

    def opposites(self, pairs):
        return ["bent" in p for _, p in pairs]

    def describe(self):
        return {"kind": "scripted"}


@pytest.fixture()
def data(tmp_path):
    return load_eval_data(write_dataset(tmp_path / "ds", _rows()))


def _check_by_hand(m):
    assert m["n"] == 9 and m["correct"] == 2
    assert m["recall"] == pytest.approx(2 / 9)
    assert m["err_nomatch"] == pytest.approx(5 / 9)
    assert m["err_flipped"] == pytest.approx(1 / 9)
    assert m["err_pred_c"] == pytest.approx(1 / 9)
    assert m["matched"] == pytest.approx(4 / 9)
    assert m["by_split"]["easy"]["recall"] == pytest.approx(2 / 6)
    assert m["by_split"]["hard"]["err_nomatch"] == pytest.approx(1.0)
    assert m["recall_split_mean"] == pytest.approx((2 / 6 + 0) / 2)
    assert m["counts"] == {
        "samples_truncated": 1,
        "dropped_over_limit": 1,
        "dropped_no_description": 1,
        "missing_gt_keys": 1,
        "unknown_gt_keys": 0,
        "unknown_pred_keys": 1,
        "duplicate_matches": 1,
        "gt_without_description": 0,
        "matched_to_gt_c": 1,
    }


def test_open_by_hand_with_scripted_judge(data, caplog):
    judge = ScriptedJudge()
    with caplog.at_level("WARNING", logger="eval.protocols.open"):
        res = score_open(data, parse_predictions(PREDS, data), judge, progress=False)
    assert "s1: 1 predictions over the N_diff limit of 4 dropped" in caplog.text
    _check_by_hand(res.metrics)
    # only s1 and s2 were judged (s3 has no predictions, s4 no a/b ground truth); c items are candidates
    assert len(judge.tasks) == 2
    _action, gt1, pred1 = judge.tasks[0]
    assert list(gt1) == ["0", "1", "2", "4"] and list(pred1) == ["0", "1", "2", "10"]
    s1 = {it["diff_key"]: it for it in res.items if it["sample_key"] == "s1"}
    assert s1["1"]["opposite"] and s1["1"]["pred_raw"] == "a" and s1["1"]["prediction"] == "b"
    assert s1["4"]["outcome"] == "nomatch"
    assert res.matching[0]["dropped_over_limit"] == ["11"]


def test_empty_predictions_and_all_c(tmp_path):
    data = load_eval_data(write_dataset(tmp_path / "ds", _rows()))
    m = score_open(data, parse_predictions({}, data), ScriptedJudge(), progress=False).metrics
    assert (m["n"], m["recall"], m["err_nomatch"]) == (9, 0.0, 1.0)
    only_c = load_eval_data(write_dataset(tmp_path / "c", [rows()[3]]))
    m = score_open(
        only_c, parse_predictions({"s4": PREDS["s4"]}, only_c), ScriptedJudge(), progress=False
    ).metrics
    assert m["n"] == 0 and m["recall"] is None and m["err_nomatch"] is None


def test_resolve_matches_one_to_one():
    out, rep = resolve_matches(
        [("1", "p"), ("0", "p"), ("7", "q"), ("2", None)], ["0", "1", "2", "3"], ["p", "q"]
    )
    assert out == {"0": "p", "1": None, "2": None, "3": None}  # duplicate stays with the first gt key (0)
    assert rep == {"missing_gt_keys": 1, "unknown_gt_keys": 1, "unknown_pred_keys": 0, "duplicate_matches": 1}


def _oracle_opposite(body):
    lines = re.findall(r'^\d+\. "(.*)" \| "(.*)"$', text_of(body), flags=re.M)
    if len(lines) > 1:
        return {"results": [0]}  # wrong length: the judge must re-ask one pair at a time
    return {"results": [int("bent" in lines[0][1])]}


def _oracle_match(body):
    text = text_of(body)
    key = "s1" if "squats lower" in text else "s2"
    return {"matches": [{"gt_key": g, "pred_key": p} for g, p in MATCHES[key]]}


def test_llm_judge_through_loopback_and_cache(tmp_path):
    ds = write_dataset(tmp_path / "ds", _rows())
    (tmp_path / "p.json").write_text(json.dumps(PREDS))
    args = ["eval", "open", str(ds), str(tmp_path / "p.json"), "--judge-model", "judge-m", "--seed", "7"]
    with FakeOpenAI() as srv:
        srv.add("Ground-truth differences", _oracle_match)
        srv.add("direct opposites", _oracle_opposite)
        res = CliRunner().invoke(main, [*args, "--base-url", srv.base_url, "--out", str(tmp_path / "o1")])
        assert res.exit_code == 0, res.output
        n_calls = len(srv.requests)
        # 2 matching calls, 1 batch of 5 pairs (wrong length), then 5 single-pair calls
        assert n_calls == 8
        assert {r["model"] for r in srv.requests} == {"judge-m", "gpt-4o-mini-2024-07-18"}
        assert all(r.get("seed") == 7 for r in srv.requests)
        # a rerun into another folder makes no call: the judge answers are in the LLM cache every command shares
        res = CliRunner().invoke(main, [*args, "--base-url", srv.base_url, "--out", str(tmp_path / "o2")])
        assert res.exit_code == 0, res.output
        assert len(srv.requests) == n_calls
    m = json.loads((tmp_path / "o1" / "metrics.json").read_text())
    _check_by_hand(m)
    assert m["judge"]["match_model"] == "judge-m" and m["judge"]["seed"] == 7
    assert "Ground-truth differences" in m["judge"]["prompts"]["match"]
    m2 = json.loads((tmp_path / "o2" / "metrics.json").read_text())
    _check_by_hand(m2)
    assert m2["usage"]["judge_match"]["cache_hits"] == 2
