"""The differencer against the loopback server with an oracle VLM that measures colours in the frames."""

from __future__ import annotations

import numpy as np

from tests.fixtures.toy_clip.make_toy_clip import render_shape
from tests.helpers.openai_server import FakeOpenAI
from tests.viddiff_method.shapes import oracle_reply
from viddiff_method.config import RunConfig
from viddiff_method.stages.differencer import Differencer, DiffQuery, plan_groups
from viddiff_method.stages.llm_calls import make_client


def frames(color, shape, scale, n):
    rng = np.random.default_rng(0)
    return [
        render_shape(color, shape, 64, 64, rng=rng, background=(0, 0, 0), scale=scale, center=(32, 32))
        for _ in range(n)
    ]


def queries():
    return [
        DiffQuery(
            "0",
            "the circle is bigger",
            frames("red", "circle", 0.4, 1),
            frames("red", "circle", 0.2, 1),
            [0.5],
            [0.6],
        ),
        DiffQuery(
            "1",
            "the square is bigger",
            frames("blue", "square", 0.2, 3),
            frames("blue", "square", 0.4, 3),
            [0.0, 0.35, 0.7],
            [0.1, 0.45, 0.8],
        ),
        DiffQuery(
            "2",
            "the triangle is bigger",
            frames("green", "triangle", 0.4, 3),
            frames("green", "triangle", 0.25, 3),
            [0, 1, 2],
            [0, 1, 2],
        ),
    ]


def differ(srv, tmp_path, **over):
    cfg = RunConfig.from_dict({"llm": {"base_url": srv.base_url, **over.pop("llm", {})}, **over})
    return Differencer(make_client(cfg, tmp_path / "llm.sqlite"), cfg)


def test_one_call_per_difference_frames_a_then_b(tmp_path):
    with FakeOpenAI() as srv:
        srv.add(lambda b: True, oracle_reply)
        d = differ(srv, tmp_path)
        assert d.run("shapes", queries(), seed=1) == {"0": "a", "1": "b", "2": "a"}
        assert len(srv.requests) == 3
        body = next(b for b in srv.requests if "square" in FakeOpenAI.text_of(b))
        assert len(FakeOpenAI.images_in(body)) == 6
        text = FakeOpenAI.text_of(body)
        assert "first 3 image(s) are from video A about 0.35 s apart" in text
        assert body["messages"][0]["role"] == "system"
        assert body["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"] == ["a", "b"]


def test_several_differences_per_call_respect_the_image_cap(tmp_path):
    assert [len(g) for g in plan_groups(queries(), 3, 8)] == [2, 1]  # 2 + 6 images, then 6
    assert [len(g) for g in plan_groups(queries(), 2, 250)] == [2, 1]
    big = DiffQuery(
        "9",
        "x",
        frames("red", "circle", 0.3, 200),
        frames("red", "circle", 0.3, 200),
        list(range(200)),
        list(range(200)),
    )
    ((g,),) = plan_groups([big], 1, 250)
    assert len(g.frames_a) + len(g.frames_b) <= 250
    with FakeOpenAI() as srv:
        srv.add(lambda b: True, oracle_reply)
        d = differ(srv, tmp_path, llm={"images_per_request": 8}, differencer={"differences_per_call": 3})
        assert d.run("shapes", queries(), seed=1) == {"0": "a", "1": "b", "2": "a"}
        assert sorted(len(FakeOpenAI.images_in(b)) for b in srv.requests) == [6, 8]


def test_an_answer_that_stays_invalid_is_null_not_a(tmp_path):
    with FakeOpenAI() as srv:
        srv.add(lambda b: True, {"answer_detailed": "?", "answer": "z"})
        d = differ(srv, tmp_path)
        preds = d.run("shapes", queries()[:1], seed=1)
        assert preds == {"0": None}
        assert d.errors and "invalid answer" in d.errors[0]
        # auto mode: the answer in json_schema mode did not follow the schema, so json_object is tried; then
        # the client's invalid-answer retries (3 attempts), then give up
        assert [(b.get("response_format") or {}).get("type") for b in srv.requests] == ["json_schema"] + [
            "json_object"
        ] * 3


def test_abc_option_lets_the_model_say_no_difference(tmp_path):
    with FakeOpenAI() as srv:
        srv.add(lambda b: True, {"answer_detailed": "same", "answer": "c"})
        d = differ(srv, tmp_path, differencer={"options": "abc"})
        assert d.run("shapes", queries()[:1], seed=1) == {"0": "c"}
        assert "(c) no visible difference" in FakeOpenAI.text_of(srv.requests[0])
