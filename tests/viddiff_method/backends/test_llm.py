"""The LLM client against a real loopback HTTP server, through the real ``openai`` client.

The answers are scripted; nothing here measures a model.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import threading
import time

import numpy as np
import pytest
from PIL import Image

from schemas.errors import ToolkitError
from tests.helpers.openai_server import FakeOpenAI
from viddiff_runtime.llm.cache import SQLiteCache
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.config import LLMConfig, load_llm_config
from viddiff_runtime.llm.errors import BudgetExceeded, LLMError
from viddiff_runtime.llm.request import LLMRequest

SCHEMA = {
    "type": "object",
    "required": ["answer"],
    "additionalProperties": False,
    "properties": {"answer": {"enum": ["a", "b", "c"]}, "why": {"type": "string"}},
}


def cfg(srv: FakeOpenAI, **kw) -> LLMConfig:
    kw.setdefault("backoff_initial_s", 0.005)
    kw.setdefault("backoff_max_s", 0.02)
    return LLMConfig(base_url=srv.base_url, **kw)


def req(prompt: str = "which squat is deeper?", **kw) -> LLMRequest:
    return LLMRequest(
        stage=kw.pop("stage", "differencer"),
        model=kw.pop("model", "m1"),
        prompt=prompt,
        schema=kw.pop("schema", SCHEMA),
        **kw,
    )


def png_bytes(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((6, 5, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_json_schema_request_shape_and_images(tmp_path):
    frame = np.random.default_rng(0).integers(0, 255, (8, 10, 3), dtype=np.uint8)
    path = tmp_path / "f.png"
    path.write_bytes(png_bytes(7))
    with FakeOpenAI() as srv:
        srv.add("deeper", {"answer": "a", "why": "lower hips"})
        client = LLMClient(cfg(srv, temperature=0.0, seed=3))
        out = client.complete(req(system="you compare videos", images=[frame, path], max_tokens=50))
        assert out == {"answer": "a", "why": "lower hips"}
        body = srv.requests[0]
        assert body["model"] == "m1" and body["seed"] == 3 and body["temperature"] == 0.0
        assert body["max_tokens"] == 50
        rf = body["response_format"]
        assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == SCHEMA
        assert rf["json_schema"]["name"] == "answer"
        assert body["messages"][0] == {"role": "system", "content": "you compare videos"}
        user = body["messages"][1]["content"]
        # auto mode cannot know the server enforces the schema, so the prompt states it as well
        assert user[0]["type"] == "text" and user[0]["text"].startswith("which squat is deeper?\n")
        assert json.dumps(SCHEMA) in user[0]["text"]
        assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in user[1:])
        sent = srv.images_in(body)
        assert sent[1] == path.read_bytes()
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(sent[0]))), frame)


@pytest.mark.parametrize("mode", ["json_object", "none"])
def test_json_object_and_none_shapes(mode):
    with FakeOpenAI() as srv:
        srv.add("deeper", '```json\n{"answer": "b"}\n```')
        out = LLMClient(cfg(srv, structured_output=mode)).complete(req())
        assert out == {"answer": "b"}
        body = srv.requests[0]
        if mode == "json_object":
            assert body["response_format"] == {"type": "json_object"}
            # llama-cpp-python's server takes the schema inside json_object (it rejects json_schema)
            LLMClient(cfg(srv, structured_output=mode, json_object_schema=True)).complete(req())
            assert srv.requests[-1]["response_format"] == {"type": "json_object", "schema": SCHEMA}
        else:
            assert "response_format" not in body
        # the schema travels in the prompt instead
        assert json.dumps(SCHEMA) in body["messages"][-1]["content"]


def test_invalid_answer_retried_with_feedback_then_valid(tmp_path):
    with FakeOpenAI() as srv:
        srv.add("deeper", "I think video A", times=1)
        srv.add("deeper", {"answer": "maybe"}, times=1)
        srv.add("deeper", {"answer": "c"})
        client = LLMClient(cfg(srv, cache_path=str(tmp_path / "c.sqlite"), structured_output="json_schema"))
        assert client.complete(req()) == {"answer": "c"}
        assert len(srv.requests) == 3
        retry_text = srv.text_of(srv.requests[2])
        assert "That answer was invalid" in retry_text and "$.answer" in retry_text
        assert client.usage.as_dict()["differencer"]["calls"] == 3


def test_invalid_answers_give_up_with_stage_and_key_and_are_not_cached(tmp_path):
    cache = tmp_path / "c.sqlite"
    with FakeOpenAI() as srv:
        srv.add("deeper", {"answer": "z"})
        client = LLMClient(
            cfg(srv, cache_path=str(cache), max_invalid_retries=1, structured_output="json_object")
        )
        r = req(stage="proposer")
        with pytest.raises(LLMError) as ei:
            client.complete(r)
        msg = str(ei.value)
        assert "stage proposer" in msg and client.request_key(r)[:16] in msg and "2 attempts" in msg
        assert "\n" not in msg
        assert len(srv.requests) == 2
        assert len(SQLiteCache(cache)) == 0


def test_backoff_on_429_500_and_timeouts():
    with FakeOpenAI() as srv:
        srv.add("rate", ("status", 429), times=2)
        srv.add("rate", {"answer": "a"})
        srv.add("boom", ("status", 503), times=1)
        srv.add("boom", {"answer": "b"})
        srv.add("slow", {"answer": "a"}, times=1, delay=1.0)
        srv.add("slow", {"answer": "c"})
        client = LLMClient(cfg(srv, timeout_s=0.3))
        assert client.complete(req("rate")) == {"answer": "a"}
        assert client.complete(req("boom")) == {"answer": "b"}
        assert client.complete(req("slow")) == {"answer": "c"}
        assert len(srv.requests) == 3 + 2 + 2
        # only completed calls count
        assert client.usage.total.calls == 3


def test_retries_exhausted_and_non_retryable_errors():
    with FakeOpenAI() as srv:
        srv.add("rate", ("status", 429))
        srv.add("bad", ("status", 400, "Input should be 'text' or 'json_object' for response_format"))
        client = LLMClient(cfg(srv, max_retries=2, structured_output="json_schema"))
        with pytest.raises(LLMError, match="HTTP 429"):
            client.complete(req("rate"))
        assert len(srv.requests) == 3
        with pytest.raises(
            LLMError,
            match=r"not retried.*'json_object' for response_format -- .*structured_output: "
            r"auto",
        ):
            client.complete(req("bad"))
        assert len(srv.requests) == 4  # a 400 is not retried


def test_cache_hit_on_rerun_makes_zero_requests(tmp_path):
    cache = str(tmp_path / "llm.sqlite")
    reqs = [req(f"deeper {i}") for i in range(3)]
    with FakeOpenAI() as srv:
        srv.add("deeper", lambda body: {"answer": "abc"[int(srv.text_of(body).splitlines()[0].split()[-1])]})
        first = LLMClient(cfg(srv, cache_path=cache)).complete_many(reqs)
        assert [a["answer"] for a in first] == ["a", "b", "c"]
        n = len(srv.requests)
        again = LLMClient(cfg(srv, cache_path=cache))
        assert again.complete_many(reqs) == first
        assert len(srv.requests) == n == 3
        u = again.usage.as_dict()["differencer"]
        assert u["cache_hits"] == 3 and u["calls"] == 0 and u["cost"] == 0


def test_failures_are_never_cached(tmp_path):
    cache = str(tmp_path / "llm.sqlite")
    with FakeOpenAI() as srv:
        srv.add("deeper", ("status", 500), times=1)
        srv.add("deeper", {"answer": "b"})
        with pytest.raises(LLMError):
            LLMClient(cfg(srv, cache_path=cache, max_retries=0)).complete(req())
        assert len(SQLiteCache(cache)) == 0
        assert LLMClient(cfg(srv, cache_path=cache, max_retries=0)).complete(req()) == {"answer": "b"}
        assert len(srv.requests) == 2 and len(SQLiteCache(cache)) == 1


def test_cost_follows_reported_tokens_and_price_table():
    prices = {"m1": {"prompt": 2.5, "completion": 10.0}, "m2": {"prompt": 0.15, "completion": 0.6}}
    with FakeOpenAI() as srv:
        srv.add("deeper", {"answer": "a", "why": "x" * 400})
        client = LLMClient(cfg(srv, prices=prices))
        client.complete(req(stage="s1", model="m1"))
        client.complete(req(stage="s2", model="m2"))
        client.complete(req("deeper, unpriced", stage="s2", model="other"))
    u = client.usage.as_dict()
    # the server reports its own token counts; cost must follow them exactly
    for stage, model in (("s1", "m1"),):
        p = prices[model]
        assert u[stage]["cost"] == pytest.approx(
            (u[stage]["prompt_tokens"] * p["prompt"] + u[stage]["completion_tokens"] * p["completion"]) / 1e6
        )
    assert u["s1"]["completion_tokens"] > 100
    assert u["total"]["calls"] == 3
    assert u["total"]["cost"] == pytest.approx(u["s1"]["cost"] + u["s2"]["cost"])
    assert u["s1"]["cost"] > u["s2"]["cost"] > 0


def test_budget_stops_cleanly_before_exceeding(tmp_path):
    prices = {"m1": {"prompt": 1000.0, "completion": 1000.0}}  # $ per 1M tokens: one call ~ $0.1
    cache = str(tmp_path / "llm.sqlite")
    reqs = [req(f"deeper {i} " + "pad " * 60, max_tokens=40) for i in range(10)]
    with FakeOpenAI() as srv:
        srv.add("deeper", {"answer": "a", "why": "w" * 100})
        client = LLMClient(cfg(srv, prices=prices, max_cost=0.35, cache_path=cache, max_concurrency=1))
        with pytest.raises(BudgetExceeded, match="max_cost"):
            client.complete_many(reqs)
        spent = client.usage.cost
        assert 0 < spent <= 0.35
        made = len(srv.requests)
        assert 1 <= made < 10
        # the answers paid for are kept: a rerun with a larger budget only asks for the rest
        more = LLMClient(cfg(srv, prices=prices, max_cost=10.0, cache_path=cache))
        assert len(more.complete_many(reqs)) == 10
        assert len(srv.requests) == 10
        assert more.usage.total.cache_hits == made


def test_budget_needs_a_price():
    with FakeOpenAI() as srv:
        with pytest.raises(BudgetExceeded, match="no entry for model"):
            LLMClient(cfg(srv, max_cost=1.0)).complete(req())
        assert srv.requests == []


def test_images_are_hashed_into_the_key(tmp_path):
    client = LLMClient(LLMConfig())
    a, b = png_bytes(1), png_bytes(2)
    k_a = client.request_key(req(images=[a]))
    assert k_a != client.request_key(req(images=[b]))
    assert k_a != client.request_key(req())
    assert client.request_key(req(images=[a, b])) != client.request_key(req(images=[b, a]))
    # the same bytes from a path, or the same pixels as an array, give the same key
    p = tmp_path / "x.png"
    p.write_bytes(a)
    assert client.request_key(req(images=[p])) == k_a
    arr = np.asarray(Image.open(io.BytesIO(a)))
    assert client.request_key(req(images=[arr])) == client.request_key(req(images=[arr.copy()]))
    # sampling settings are part of the key
    assert client.request_key(req(seed=1)) != client.request_key(req(seed=2))
    assert client.request_key(req(temperature=0.0)) != client.request_key(req(temperature=1.0))
    assert len(k_a) == 64 and int(k_a, 16) >= 0


def test_concurrency_is_bounded_and_order_kept():
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    def slow(body):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return {"answer": "abc"[int(FakeOpenAI.text_of(body).splitlines()[0].split()[-1]) % 3]}

    with FakeOpenAI() as srv:
        srv.add("item", slow)
        client = LLMClient(cfg(srv, max_concurrency=3))
        out = client.complete_many([req(f"item {i}") for i in range(9)], progress="test")
    assert [o["answer"] for o in out] == ["abc"[i % 3] for i in range(9)]
    assert state["max"] == 3  # ran 3 at a time, never more (observed by the server, not by the clock)


def test_key_never_in_config_cache_or_logs(tmp_path, monkeypatch, caplog):
    secret = "sk-test-" + hashlib.sha256(b"s").hexdigest()[:20]
    monkeypatch.setenv("MY_KEY", secret)
    cache = tmp_path / "llm.sqlite"
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI() as srv:
        srv.add("deeper", "nope", times=1)
        srv.add("deeper", {"answer": "a"})
        c = cfg(srv, api_key_env="MY_KEY", cache_path=str(cache))
        LLMClient(c).complete(req())
    assert secret not in json.dumps(c.to_dict())
    assert secret.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret not in caplog.text
    with pytest.raises(Exception, match="api_key"):
        LLMConfig.from_dict({"api_key": secret})


def test_yaml_config(tmp_path):
    p = tmp_path / "llm.yaml"
    p.write_text(
        "llm:\n  models: {taxonomy: gpt-x}\n  structured_output: json_object\n"
        "  prices: {gpt-x: {prompt: 1.0, completion: 2.0}}\n  max_cost: 3\n"
    )
    c = load_llm_config(p, max_cost=1.5)
    assert c.model_for("taxonomy") == "gpt-x" and c.structured_output == "json_object" and c.max_cost == 1.5
    p.write_text("structured_outptu: json_object\n")
    with pytest.raises(Exception, match=r"llm\.yaml: structured_outptu"):
        load_llm_config(p)
    for text, key in (
        ("prices: {m: {prompt: cheap}}", "prices.m"),
        ("max_cost: -1", "max_cost"),
        ("max_concurrency: 0", "max_concurrency"),
        ("structured_output: xml", "structured_output"),
    ):
        p.write_text(text + "\n")
        with pytest.raises(Exception, match=rf"llm\.yaml: {re.escape(key)}: "):
            load_llm_config(p)


def test_record_then_replay(tmp_path, monkeypatch):
    cassette = tmp_path / "cassette.json"
    with FakeOpenAI() as upstream:  # stands in for the real endpoint
        upstream.add("deeper", {"answer": "b"})
        monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-recording-secret")
        with FakeOpenAI(cassette=cassette, record=True) as rec:
            assert LLMClient(cfg(rec)).complete(req()) == {"answer": "b"}
        assert len(upstream.requests) == 1
    assert "sk-recording-secret" not in cassette.read_text()
    monkeypatch.delenv("OPENAI_API_KEY")
    with FakeOpenAI(cassette=cassette) as replay:
        assert LLMClient(cfg(replay)).complete(req()) == {"answer": "b"}
        with pytest.raises(LLMError, match="HTTP 404"):
            LLMClient(cfg(replay)).complete(req("something never recorded"))


def test_identical_requests_in_flight_make_one_call(tmp_path):
    with FakeOpenAI() as srv:
        srv.add("deeper", {"answer": "a"}, delay=0.2)
        client = LLMClient(cfg(srv, cache_path=str(tmp_path / "c.sqlite"), max_concurrency=4))
        out = client.complete_many([req() for _ in range(4)])
        assert out == [{"answer": "a"}] * 4
        assert len(srv.requests) == 1
        u = client.usage.as_dict()["differencer"]
        assert u["calls"] == 1 and u["cache_hits"] == 3


@pytest.mark.parametrize(
    "data, text",
    [
        ({"temperature": "hot"}, "llm.yaml: temperature: must be a number from 0 to 2 (or null), got 'hot'"),
        ({"nope": 1}, "llm.yaml: nope: unknown setting; known here: api_key_env,"),
    ],
)
def test_llm_config_messages_say_what_a_value_means(data, text):
    with pytest.raises(ToolkitError) as e:
        LLMConfig.from_dict(data, file="llm.yaml")
    assert str(e.value).startswith(text)


def test_sqlite_disk_errors_name_their_likely_cause_by_result_code(tmp_path):
    """A real SQLite write past RLIMIT_FSIZE: the cause is found from SQLite's result code, not its text."""
    import subprocess
    import sys

    code = f"""
import resource, signal, sqlite3
from viddiff_runtime.llm.cache import sqlite_reason
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
con = sqlite3.connect({str(tmp_path / "c.sqlite")!r})
con.execute("CREATE TABLE t (v BLOB)")
try:
    for _ in range(64):
        con.execute("INSERT INTO t VALUES (?)", (b"x" * 8192,))
        con.commit()
except sqlite3.Error as e:
    print(e.sqlite_errorcode & 0xFF, "|", sqlite_reason(e))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rc, _, reason = r.stdout.strip().partition(" | ")
    assert int(rc) in (10, 13), r.stdout  # SQLITE_IOERR or SQLITE_FULL
    assert reason.endswith("(a file-size limit is set: ulimit -f)"), reason
