"""The proposer against the loopback OpenAI server: normal answers, and schema-valid but odd ones."""

from __future__ import annotations

import json

import pytest

from tests.helpers.openai_server import FakeOpenAI
from tests.viddiff_method.shapes import DIFFS, STAGES_ANSWER, links_answer
from viddiff_method.config import RunConfig
from viddiff_method.stages.llm_calls import make_client
from viddiff_method.stages.proposer import Proposer

KEYPOINTS = {
    s: {"name": s, "description": f"the {s} is shown", "stage": f"{c} {s}"}
    for c, s in (("red", "circle"), ("blue", "square"), ("green", "triangle"))
}


@pytest.fixture
def srv():
    with FakeOpenAI() as s:
        yield s


def proposer(srv, tmp_path):
    cfg = RunConfig.from_dict({"llm": {"base_url": srv.base_url, "max_concurrency": 1}})
    return Proposer(make_client(cfg, tmp_path / "llm.sqlite"), cfg)


def test_stages_and_links(srv, tmp_path):
    srv.add("Split the action into", STAGES_ANSWER)
    srv.add("For every stage, list the names", links_answer())
    p = proposer(srv, tmp_path).propose("shapes_0", "shapes", DIFFS, KEYPOINTS, seed=3)
    assert [s.name for s in p.stages] == ["red circle", "blue square", "green triangle"]
    assert p.stages_of("0") == [0] and p.stages_of("1") == [1] and p.stages_of("2") == [2]
    assert p.stage_of_keypoint("square") == 1
    assert p.repairs == []
    body = srv.requests[0]
    assert body["response_format"]["type"] == "json_schema" and body["seed"] == 3
    assert body["model"] == "gpt-4o-mini-2024-07-18"


def test_misspelt_names_are_repaired_and_reported(srv, tmp_path):
    srv.add("Split the action into", STAGES_ANSWER)
    srv.add(
        "For every stage, list the names",
        {
            "links": [
                {"stage": "red circel", "differences": ["biger circle"], "keypoints": ["circle"]},
                {"stage": "the moon", "differences": ["bigger square"], "keypoints": []},
                {
                    "stage": "green triangle",
                    "differences": ["something else entirely"],
                    "keypoints": ["triangel", "zzz"],
                },
            ]
        },
    )
    p = proposer(srv, tmp_path).propose("shapes_0", "shapes", DIFFS, KEYPOINTS, seed=0)
    assert p.stages_of("0") == [0]  # fuzzy: "red circel" / "biger circle"
    assert p.stage_of_keypoint("triangle") == 2  # fuzzy keypoint name
    assert p.stage_of_keypoint("square") == 1  # unlinked: its taxonomy stage "blue square"
    assert p.stages_of("1") == [1]  # unlinked: the stage of its keypoint
    text = "\n".join(p.repairs)
    assert "'red circel' matched to 'red circle'" in text
    assert "unknown stage 'the moon'" in text
    assert "'something else entirely'" in text and "'zzz'" in text
    assert "keypoint 'square' unlinked; used its taxonomy stage" in text


def test_empty_transcript_and_a_difference_linked_to_nothing(srv, tmp_path):
    srv.add("Split the action into", {"stages": []}, times=1)
    p = proposer(srv, tmp_path).propose("a", "a thing", DIFFS, {}, seed=0)
    assert len(p.stages) == 1 and p.stages[0].retrieval_strings
    assert all(p.stages_of(k) == [0] for k in DIFFS)
    assert any("empty stage transcript" in r for r in p.repairs)

    srv.add(
        "Split the action into",
        {
            "stages": [
                {"name": "x", "description": "", "retrieval_strings": []},
                {"name": "x", "description": "again", "retrieval_strings": ["b"]},
            ]
        },
    )
    srv.add("For every stage, list the names", {"links": []})
    diffs = {"5": {"name": "lonely", "description": "d", "query_string": "d", "num_frames": "1"}}
    p = proposer(srv, tmp_path / "2").propose("a", "another thing", diffs, {}, seed=0)
    assert [s.name for s in p.stages] == ["x", "x (2)"]
    assert p.stages[0].retrieval_strings  # filled from the stage's own name
    assert p.stages_of("5") == []
    assert any("'5' linked to no stage" in r for r in p.repairs)


def test_open_differences_are_capped_and_deduplicated(srv, tmp_path):
    answer = {
        "differences": [
            {
                "name": f"d{i}",
                "description": "same statement" if i < 2 else f"statement {i}",
                "query_string": "",
                "num_frames": "gt_1",
            }
            for i in range(5)
        ]
    }
    srv.add("List up to 3 differences", answer)
    diffs = proposer(srv, tmp_path).propose_differences("an action", 3, seed=0)
    assert list(diffs) == ["0", "1", "2"][: len(diffs)]
    assert [d["description"] for d in diffs.values()] == ["same statement", "statement 2"]
    assert diffs["0"]["query_string"] == "same statement"
    assert "List up to 3 differences" in FakeOpenAI.text_of(srv.requests[0])


def test_a_failing_call_degrades_to_one_stage_and_is_reported(srv, tmp_path):
    srv.add("Split the action into", "this is not json at all")
    pr = proposer(srv, tmp_path)
    p = pr.propose("a", "a thing", DIFFS, {}, seed=0)
    assert len(p.stages) == 1
    assert pr.errors and "invalid answer" in pr.errors[0]
    assert json.loads(json.dumps(p.to_dict()))["stages"][0]["name"] == "whole action"
