"""`curate splits assign`: LLM ranking with reasons, manual overrides, odd answers, budget stop.

The LLM answers are scripted (an "oracle" that reads the prompt); nothing here measures a model.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from curation.cli import main
from schemas.dataset_dir import load_dataset
from tests.helpers.openai_server import FakeOpenAI, write_llm_config


@pytest.fixture
def ds(tiny_dataset) -> Path:
    return tiny_dataset


def run(*args, ok=True):
    res = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, res.output
    return res


def oracle(body):
    """Longer median clips -> harder; the reason quotes the length it was given."""
    text = FakeOpenAI.text_of(body)
    blocks = re.findall(r"action key: (\S+).*?median clip length: ([\d.]+) s", text, re.S)
    return {
        "actions": [
            {"action": a, "split": "hard" if float(s) > 1.1 else "easy", "reason": f"median clip {s} s"}
            for a, s in blocks
        ]
    }


def test_llm_assigns_splits_with_reasons(ds, tmp_path):
    with FakeOpenAI() as srv:
        srv.add("difficulty split", oracle)
        cfg = write_llm_config(tmp_path / "llm.yaml", srv, models={"splits": "fake-4o"})
        res = run("splits", "assign", ds, "--config", cfg)
        prompt = srv.text_of(srv.requests[0])
    # the prompt carries description, taxonomy and median clip length, and the benchmark's caveat
    assert "Do not treat the number of differences as difficulty" in prompt
    assert "the movement is deeper" in prompt and "an ambiguous statement" not in prompt  # retired left out
    # tiny clips: A 24 frames, B 36 frames; fitness at 30 fps -> median 1.0 s, diving at 25 fps -> 1.2 s
    assert "median clip length: 1.0 s" in prompt and "median clip length: 1.2 s" in prompt
    loaded = load_dataset(ds)
    acts = loaded.meta["actions"]
    assert acts["fitness_0"]["split"] == "easy" and acts["diving_0"]["split"] == "hard"
    assert (
        acts["diving_0"]["split_reason"] == "median clip 1.2 s" and acts["diving_0"]["split_origin"] == "llm"
    )
    assert {s["action"]: s["split"] for s in loaded.samples} == {"fitness_0": "easy", "diving_0": "hard"}
    assert "diving_0: hard (llm)" in res.output and "1 sample row(s) updated" in res.output


def test_manual_override_needs_no_llm_and_survives_reranking(ds, tmp_path):
    res = run("splits", "assign", ds, "--set", "fitness_0=hard")
    assert "fitness_0: hard (manual)" in res.output
    acts = load_dataset(ds).meta["actions"]
    assert acts["fitness_0"]["split"] == "hard" and acts["fitness_0"]["split_origin"] == "manual"
    assert all(s["split"] == "hard" for s in load_dataset(ds).samples if s["action"] == "fitness_0")
    with FakeOpenAI() as srv:
        srv.add("difficulty split", oracle)
        cfg = write_llm_config(tmp_path / "llm.yaml", srv)
        res = run("splits", "assign", ds, "--config", cfg, "--model", "m")
        assert "action key: fitness_0" not in srv.text_of(srv.requests[0])
        assert "fitness_0: kept (manual override" in res.output
        assert load_dataset(ds).meta["actions"]["fitness_0"]["split"] == "hard"
        run("splits", "assign", ds, "--config", cfg, "--model", "m", "--force")
        assert load_dataset(ds).meta["actions"]["fitness_0"]["split"] == "easy"


def test_odd_answers_are_reported_not_fatal(ds, tmp_path):
    answer = {
        "actions": [
            {"action": "diving_0", "split": "medium", "reason": "x " * 1000},
            {"action": "diving_0", "split": "hard", "reason": "again"},
            {"action": "swimming_9", "split": "easy", "reason": "?"},
        ]
    }
    with FakeOpenAI() as srv:
        srv.add("difficulty split", answer)
        res = run(
            "splits", "assign", ds, "--config", write_llm_config(tmp_path / "llm.yaml", srv), "--model", "m"
        )
    for note in (
        "unknown action 'swimming_9'",
        "lists diving_0 twice",
        "reason cut to 500",
        "no split for fitness_0; left as 'easy'",
    ):
        assert note in res.output
    acts = load_dataset(ds).meta["actions"]
    assert acts["diving_0"]["split"] == "medium" and len(acts["diving_0"]["split_reason"]) == 500
    assert acts["fitness_0"]["split_origin"] == "config"


@pytest.mark.parametrize(
    "args, msg",
    [
        (("--set", "fitness_0=impossible"), "must be one of easy, medium, hard"),
        (("--set", "nope=easy"), "unknown action 'nope'"),
        (("--set", "fitness_0"), "expected ACTION=SPLIT"),
    ],
)
def test_bad_overrides_are_one_line_errors(ds, args, msg):
    before = (ds / "dataset.json").read_bytes()
    res = run("splits", "assign", ds, *args, ok=False)
    assert res.exit_code == 1 and msg in res.output and len(res.output.strip().splitlines()) == 1
    assert (ds / "dataset.json").read_bytes() == before


def test_budget_stop_leaves_dataset_untouched(ds, tmp_path):
    before = (ds / "dataset.json").read_bytes()
    with FakeOpenAI() as srv:
        srv.add("difficulty split", oracle)
        cfg = write_llm_config(tmp_path / "llm.yaml", srv, prices={"m": {"prompt": 1e6, "completion": 1e6}})
        res = run("splits", "assign", ds, "--config", cfg, "--model", "m", "--max-cost", "0.5", ok=False)
        assert srv.requests == []
    assert res.exit_code == 3 and "max_cost 0.5" in res.output
    assert (ds / "dataset.json").read_bytes() == before
