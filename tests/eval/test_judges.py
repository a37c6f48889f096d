"""The local judge: real all-MiniLM-L6-v2 embeddings (bundled, offline) and the lexical opposite check."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from eval.judges import EmbeddingJudge, lexical_opposite
from tests.eval.fixtures import rows, write_dataset
from viddiff_method.cli import main


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("the arms are straighter", "the arms are more bent", True),  # straight/bent
        ("the knees bend more", "the knees bend less", True),  # more/less
        ("more bent knees", "less straight knees", False),  # two swaps cancel
        ("the squat is deeper", "the person squats lower", False),  # same direction, no antonym pair
        ("the stance is wider", "the feet are closer together", False),  # wide/close is not a listed pair
        ("the stance is wider", "the stance is narrower", True),
    ],
)
def test_lexical_opposite(a, b, expected):
    assert lexical_opposite(a, b) is expected


@pytest.fixture(scope="module")
def judge():
    return EmbeddingJudge(threshold=0.5)


def test_embedding_judge_matches_paraphrases_one_to_one(judge):
    gt = {"0": "the squat is deeper", "1": "the arms are straighter", "2": "the stance is wider"}
    pred = {"0": "the arms are more bent", "1": "the person squats lower", "2": "the shirt is red"}
    got = dict(judge.match("squat", gt, pred))
    assert got["0"] == "1" and got["1"] == "0"  # paraphrase and opposite-direction statements pair up
    assert got["2"] is None  # "the shirt is red" is below the threshold
    assert len({p for p in got.values() if p}) == 2
    assert judge.opposites([(gt["1"], pred["0"]), (gt["0"], pred["1"])]) == [True, False]


def test_cli_open_local_judge_is_labelled(tmp_path):
    ds = write_dataset(tmp_path / "ds", rows()[:1])  # s1: gt {0:a, 1:b, 2:c, 4:a}
    preds = {
        "s1": {
            "0": {"description": "the person squats lower", "prediction": "a"},
            "1": {"description": "the arms are more bent", "prediction": "a"},
        }
    }
    (tmp_path / "p.json").write_text(json.dumps(preds))
    res = CliRunner().invoke(
        main,
        ["eval", "open", str(ds), str(tmp_path / "p.json"), "--judge", "local", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 0, res.output
    assert "not comparable" in res.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["comparable_to_published"] is False and m["judge"]["kind"] == "local-embedding"
    # gt 0 <- "squats lower" (a, right); gt 1 <- "more bent" flipped a->b (right); gt 4 unmatched
    assert (m["n"], m["correct"]) == (3, 2)
    assert m["err_nomatch"] == pytest.approx(1 / 3)
