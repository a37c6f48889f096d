"""--strict-official: each deliberate difference from the public eval, in both behaviours on the same input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from eval.data import load_eval_data
from eval.official import CHANGES
from eval.predictions import parse_predictions
from eval.protocols.closed import score_closed
from eval.protocols.open import score_open
from schemas.errors import ToolkitError
from tests.eval.fixtures import rows, write_dataset
from viddiff_method.cli import main


def _rows():
    """s1 (easy): gt {0:a, 1:b, 2:c, 4:a}, N_diff 2; s3 (hard): gt {0:a, 1:b, 2:a} but 2 has no statement."""
    r = rows()
    s1, s3 = r[0], r[2]
    s1["n_differences_open_prediction"] = 2
    s3["differences_annotated"]["2"] = None
    return [s1, s3]


@pytest.fixture()
def data(tmp_path):
    return load_eval_data(write_dataset(tmp_path / "ds", _rows()))


# s1's first item is a bare answer; s3's are objects; upper case and padding appear in both rows.
CLOSED = {
    "s1": {"0": "A", "1": {"description": "y", "prediction": "b"}, "4": " a "},
    "s3": {
        "0": {"description": "d", "prediction": "a"},
        "1": {"description": "e", "prediction": "B"},
        "2": {"description": "f", "prediction": "a"},
    },
}


def test_closed_both_rules_on_the_same_input(data):
    # toolkit: answers normalised and read per item -> all 6 right; s3/2 (no statement) is scored
    tk = score_closed(data, parse_predictions(CLOSED, data)).metrics
    assert (tk["correct"], tk["n"]) == (6, 6)
    assert tk["answers_normalised"] == 3 and tk["gt_without_description"] == 1
    assert tk["protocol"]["rules"] == "toolkit"
    assert set(tk["protocol"]["changes_from_official"]) == {c["id"] for c in CHANGES}
    # strict: s1's bare first item makes every s1 item a bare answer: "A" and " a " are not "a", the
    # object is no answer at all -> 0/3; s3: "B" is wrong, 2 is skipped -> 1/2; split mean (0 + 1/2) / 2
    st = score_closed(data, parse_predictions(CLOSED, data, strict=True), strict=True).metrics
    assert (st["correct"], st["n"]) == (1, 5)
    assert st["by_split"]["easy"]["accuracy"] == 0.0 and st["by_split"]["hard"]["accuracy"] == 0.5
    assert st["accuracy_split_mean"] == pytest.approx(0.25) and st["accuracy_pooled"] == pytest.approx(0.2)
    assert st["answers_invalid"] == 4 and st["gt_without_description"] == 1
    assert st["protocol"]["rules"] == "strict-official" and st["protocol"]["changes_from_official"] == []


def test_closed_row_form_from_an_object_first_item(data):
    preds = {"s3": {"0": {"description": "d", "prediction": "a"}, "1": "b"}}
    tk = score_closed(data, parse_predictions(preds, data)).metrics
    assert tk["correct"] == 2  # the bare "b" is read as an answer
    with pytest.raises(
        ToolkitError, match=r"s3\.1: bare answer in a row whose first item \(0\) is an object"
    ):
        parse_predictions(preds, data, strict=True)


def test_closed_unknown_key_is_reported_or_stops(data):
    preds = {"s1": {"0": "a", "3": "b"}}  # 3 is not labelled in s1
    tk = score_closed(data, parse_predictions(preds, data)).metrics
    assert tk["unknown_keys"]["items"] == [{"sample_key": "s1", "diff_key": "3"}]
    with pytest.raises(ToolkitError, match=r"s1\.3: prediction key is not a labelled difference"):
        score_closed(data, parse_predictions(preds, data, strict=True), strict=True)


OPEN = {
    "s1": {
        "0": {"description": "squats lower", "prediction": "a"},
        "1": {"description": "arms more bent", "prediction": None},
        "2": {"description": "back upright", "prediction": "A"},  # over N_diff = 2
    },
    "s3": {"0": {"description": "knot is faster", "prediction": "a"}},
}
MATCHES = {
    "s1": [("0", "0"), ("1", "1"), ("2", None), ("4", "2")],
    "s3": [("0", "0"), ("1", "0")],  # one prediction for two ground-truth keys
}


class ScriptedJudge:
    """Scripted decisions: the rules under test are the scorer's, not the judge's."""

    comparable_to_published = False

    def __init__(self, matches=MATCHES):
        self.matches, self.tasks = matches, []

    def match_many(self, tasks):
        self.tasks += tasks
        return [self.matches["s1" if "3" not in gt and "4" in gt else "s3"] for _a, gt, _p in tasks]

    def opposites(self, pairs):
        return ["bent" in p for _, p in pairs]

    def describe(self):
        return {"kind": "scripted"}


def test_open_both_rules_on_the_same_input(data):
    judge = ScriptedJudge()
    tk = score_open(data, parse_predictions(OPEN, data, task="open"), judge, progress=False)
    # the null-statement item s3/2 is never offered to the judge, under either rules
    assert [list(gt) for _a, gt, _p in judge.tasks] == [["0", "1", "2", "4"], ["0", "1"]]
    assert list(judge.tasks[0][2]) == ["0", "1"]  # N_diff = 2 keeps two predictions
    m = tk.metrics
    # s1/0 right; s1/1 matched a null answer -> err_pred_c; s1/4 -> "2" was dropped -> no match;
    # s3/0 right; s3/1 loses the duplicate -> no match
    assert (m["n"], m["correct"]) == (5, 2)
    assert (m["err_nomatch"], m["err_pred_c"], m["err_flipped"], m["err_invalid_answer"]) == (0.4, 0.2, 0, 0)
    assert m["counts"]["gt_without_description"] == 1 and m["counts"]["duplicate_matches"] == 1

    judge = ScriptedJudge()
    st = score_open(
        data, parse_predictions(OPEN, data, strict=True, task="open"), judge, progress=False, strict=True
    )
    assert list(judge.tasks[0][2]) == ["0", "1", "2"]  # no N_diff limit
    m = st.metrics
    # s1/1 null answer -> no match; s1/4 matched "2" answered "A" -> invalid; s3/1 keeps "0" -> flipped
    assert (m["n"], m["correct"]) == (5, 2)
    assert (m["err_nomatch"], m["err_pred_c"], m["err_flipped"], m["err_invalid_answer"]) == (
        0.2,
        0,
        0.2,
        0.2,
    )
    assert m["recall_split_mean"] == pytest.approx((1 / 3 + 1 / 2) / 2) and m["recall_pooled"] == 0.4
    assert m["protocol"]["rules"] == "strict-official"


def test_open_judge_missing_keys_repaired_or_stops(data):
    broken = {"s1": [("0", "0")], "s3": [("0", "0"), ("1", None)]}  # s1 leaves out 1, 2 and 4
    m = score_open(
        data, parse_predictions(OPEN, data, task="open"), ScriptedJudge(broken), progress=False
    ).metrics
    assert m["counts"]["missing_gt_keys"] == 3
    with pytest.raises(ToolkitError, match="exactly the ground-truth keys"):
        score_open(
            data,
            parse_predictions(OPEN, data, strict=True, task="open"),
            ScriptedJudge(broken),
            progress=False,
            strict=True,
        )


def test_cli_closed_prints_both_headline_numbers(tmp_path):
    ds = write_dataset(tmp_path / "ds", _rows())
    (tmp_path / "p.json").write_text(json.dumps(CLOSED))
    for flag, text in (([], "Avg over splits 100.0%"), (["--strict-official"], "Avg over splits 25.0%")):
        res = CliRunner().invoke(
            main, ["eval", "closed", str(ds), str(tmp_path / "p.json"), "--out", str(tmp_path / "o"), *flag]
        )
        assert res.exit_code == 0, res.output
        assert text in res.output and "the leaderboard's number" in res.output and "pooled" in res.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert (m["accuracy_split_mean"], m["accuracy_pooled"]) == (0.25, 0.2)


def test_report_leaderboard_uses_the_split_mean_and_names_the_rules(data, tmp_path):
    from eval.report import Run, closed_table

    runs = [
        Run(
            name=name,
            path=tmp_path,
            metrics={
                "closed": score_closed(data, parse_predictions(CLOSED, data, strict=s), strict=s).metrics
            },
        )
        for name, s in (("tk", False), ("st", True))
    ]
    table = closed_table(runs)
    avg = table["columns"].index("Avg (split mean)")
    assert table["columns"][avg + 1] == "All (pooled)"
    assert [(r["name"], r["cells"][avg]["text"], r["cells"][avg + 1]["text"]) for r in table["rows"]] == [
        ("tk", "100.0%", "100.0%*"),  # 6 of 6: p = 0.03
        ("st [strict-official]", "25.0%", "20.0%"),
    ]
