"""The LLM client against the measured quirks of real OpenAI-compatible servers (loopback reproductions).

Each test reproduces one finding of llama-cpp-python, llama.cpp's llama-server or transformers serve
with ``FakeOpenAI(quirks=...)``; the real servers are exercised in tests/servers (``make test-servers``).
"""

from __future__ import annotations

import logging
import sqlite3

import numpy as np
import pytest

from schemas.errors import ToolkitError
from tests.helpers.openai_server import (
    LLAMA_CPP_PYTHON_IMAGE_500,
    LLAMA_SERVER_IMAGE_500,
    PROSE_ANSWER,
    FakeOpenAI,
)

# the same request and config helpers as the client tests (one copy)
from tests.viddiff_method.backends.test_llm import SCHEMA, cfg, req
from viddiff_runtime.llm.cache import SQLiteCache
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.config import load_llm_config
from viddiff_runtime.llm.errors import LLMError


def frame(v: int = 3) -> np.ndarray:
    return np.full((32, 32, 3), v, np.uint8)


def rf_types(srv: FakeOpenAI) -> list[str | None]:
    return [(b.get("response_format") or {}).get("type") for b in srv.requests]


def test_auto_falls_back_from_refused_json_schema_and_remembers_it(tmp_path):
    """llama-cpp-python: HTTP 500 validation error on json_schema; json_object + schema works."""
    cache = str(tmp_path / "llm.sqlite")
    with FakeOpenAI(quirks="llama-cpp-python") as srv:
        srv.add("deeper", {"answer": "b"})
        client = LLMClient(cfg(srv, cache_path=cache))
        assert client.complete(req()) == {"answer": "b"}
        assert rf_types(srv) == ["json_schema", "json_object"]
        assert srv.requests[1]["response_format"]["schema"] == SCHEMA  # the schema travels with json_object
        assert client.endpoint_report()["structured_output"] == {"m1": "json_object"}
        # the decision is remembered in the cache: a new client (another command) goes straight to json_object
        again = LLMClient(cfg(srv, cache_path=cache))
        assert again.complete(req("which squat is deeper, again?")) == {"answer": "b"}
        assert rf_types(srv)[2:] == ["json_object"]


def test_auto_falls_back_when_response_format_is_ignored():
    """A server that answers 200 but not in the asked format: the next mode is tried, the answer kept."""
    with FakeOpenAI() as srv:
        srv.add(lambda b: (b.get("response_format") or {}).get("type") == "json_schema", PROSE_ANSWER)
        srv.add("deeper", {"answer": "a"})
        client = LLMClient(cfg(srv))
        assert client.complete(req()) == {"answer": "a"}
        assert rf_types(srv) == ["json_schema", "json_object"]
        assert client.endpoint_report()["structured_output"] == {"m1": "json_object"}


def test_transformers_serve_answers_because_the_schema_is_in_the_prompt():
    """transformers serve ignores response_format: in auto mode the prompt states the schema, so it works;
    with an explicit json_schema the model never sees the schema (the finding) and the error says so."""
    with FakeOpenAI(quirks="transformers-serve") as srv:
        srv.add("deeper", {"answer": "c"})
        assert LLMClient(cfg(srv)).complete(req()) == {"answer": "c"}
        with pytest.raises(
            LLMError, match=r"invalid answer after 1 attempts \(structured_output json_schema\)"
        ):
            LLMClient(cfg(srv, structured_output="json_schema", max_invalid_retries=0)).complete(
                req("deeper 2")
            )


@pytest.mark.parametrize(
    "quirks,message,n_requests",
    [
        ("llama-server", LLAMA_SERVER_IMAGE_500, 1),
        (
            "llama-cpp-python",
            LLAMA_CPP_PYTHON_IMAGE_500,
            2,
        ),  # json_schema refused first, then json_object + image
    ],
)
def test_image_refusals_are_not_retried_and_say_why(quirks, message, n_requests):
    with FakeOpenAI(quirks=quirks) as srv:
        srv.add("deeper", {"answer": "a"})
        with pytest.raises(LLMError) as ei:
            LLMClient(cfg(srv, max_retries=5)).complete(req(images=[frame()]))
        msg = str(ei.value)
        assert message in msg and "does not accept images" in msg and "not retried" in msg
        assert "\n" not in msg
        assert len(srv.requests) == n_requests


def test_dropped_images_are_detected():
    """transformers serve drops images (HTTP 200, prompt tokens of the text only): the call fails."""
    with FakeOpenAI(quirks="transformers-serve") as srv:
        srv.add("deeper", {"answer": "a"})
        with pytest.raises(LLMError, match=r"did not read the 2 image\(s\).*transformers serve drops them"):
            LLMClient(cfg(srv)).complete(req(images=[frame(1), frame(2)]))
    # a server that reads them passes without an extra request
    with FakeOpenAI() as srv:
        srv.add("deeper", {"answer": "a"})
        assert LLMClient(cfg(srv)).complete(req(images=[frame(1), frame(2)])) == {"answer": "a"}
        assert len(srv.requests) == 1


def test_cut_off_answer_names_max_tokens_and_the_retry_limit_is_used_once():
    """llama-server: a long answer stops at max_tokens (finish_reason length); not re-asked with the same limit."""
    long = {"answer": "a", "why": "because " * 40}
    with FakeOpenAI(quirks="llama-server") as srv:
        srv.add("deeper", long)
        with pytest.raises(LLMError, match=r"cut off: it hit max_tokens=20 \(finish_reason: length\)"):
            LLMClient(cfg(srv, max_tokens=20)).complete(req())
        assert len(srv.requests) == 1
        client = LLMClient(cfg(srv, max_tokens=20, max_tokens_retry=400))
        assert client.complete(req()) == long
        assert [b["max_tokens"] for b in srv.requests[1:]] == [20, 400]
        with pytest.raises(LLMError, match=r"hit max_tokens=30 .*raise max_tokens$"):
            LLMClient(cfg(srv, max_tokens=20, max_tokens_retry=30)).complete(req("deeper?"))


def test_default_model_replaced_by_the_one_served_model(tmp_path):
    cache = str(tmp_path / "llm.sqlite")
    with FakeOpenAI(quirks="llama-server", models=["smollm2-135m.gguf"]) as srv:
        srv.add("deeper", {"answer": "a"})
        client = LLMClient(cfg(srv, cache_path=cache))
        assert client.complete(req(model="gpt-4o-2024-08-06")) == {"answer": "a"}
        assert srv.requests[0]["model"] == "smollm2-135m.gguf"
        rep = client.endpoint_report()
        assert rep["default_model_replaced"] == {"gpt-4o-2024-08-06": "smollm2-135m.gguf"}
        assert rep["served_models"] == {"smollm2-135m.gguf": "smollm2-135m.gguf"}
        # the cache records the model the server reported
        with sqlite3.connect(cache) as c:
            assert c.execute("SELECT model FROM answers").fetchall() == [("smollm2-135m.gguf",)]
        # a model the user named is sent as named
        client.complete(req(model="my-model"))
        assert srv.requests[-1]["model"] == "my-model"
    with FakeOpenAI(models=["a-7b", "b-13b"]) as srv:
        with pytest.raises(ToolkitError, match=r"serves 2 models: a-7b, b-13b; name one"):
            LLMClient(cfg(srv)).complete(req(model="gpt-4o-2024-08-06"))
        assert srv.requests == []


def test_unknown_model_and_unsupported_field_are_not_retried():
    with FakeOpenAI() as srv:
        srv.add("deeper", ("status", 404, "The model `m1` does not exist or you do not have access to it."))
        with pytest.raises(LLMError, match=r"HTTP 404 .*not retried.*does not exist.*GET /v1/models"):
            LLMClient(cfg(srv, max_retries=4)).complete(req())
        assert len(srv.requests) == 1


def test_failed_request_twins_get_the_same_failure_not_a_resend():
    with FakeOpenAI() as srv:
        srv.add("deeper", ("status", 503, "overloaded"), delay=0.15)
        client = LLMClient(cfg(srv, max_retries=1, max_concurrency=4))
        from viddiff_method.stages.llm_calls import complete_all

        errors: list[str] = []
        assert complete_all(client, [req() for _ in range(4)], errors) == [None] * 4
        assert len(srv.requests) == 2  # one request, retried once; its three twins were not sent
        assert len(errors) == 4 and len(set(errors)) == 1 and "HTTP 503" in errors[0]


def test_server_echo_of_the_key_is_redacted_whole_message_kept(monkeypatch, tmp_path, caplog):
    secret = "sk-live-" + "q7" * 12
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    with FakeOpenAI() as srv:
        srv.add(
            "deeper", ("status", 400, "Incorrect API key provided: {authorization}.\nSecond line of detail.")
        )
        with pytest.raises(LLMError) as ei:
            LLMClient(cfg(srv, cache_path=str(tmp_path / "c.sqlite"))).complete(req())
    msg = str(ei.value)
    assert "Second line of detail" in msg and "Incorrect API key provided" in msg
    assert secret not in msg and secret[8:] not in msg and secret not in caplog.text
    assert secret.encode() not in (tmp_path / "c.sqlite").read_bytes()


def test_corrupt_cached_answer_row_is_dropped_with_a_warning(tmp_path, caplog):
    cache = tmp_path / "llm.sqlite"
    with FakeOpenAI() as srv:
        srv.add("deeper", {"answer": "a"})
        client = LLMClient(cfg(srv, cache_path=str(cache)))
        client.complete(req())
        key = client.request_key(req())
        with sqlite3.connect(cache) as c:
            c.execute('UPDATE answers SET answer = \'{"answer": "a"\' WHERE key = ?', (key,))
        caplog.set_level(logging.WARNING)
        assert LLMClient(cfg(srv, cache_path=str(cache))).complete(req()) == {"answer": "a"}
        assert len(srv.requests) == 2
    assert f"{cache}: {key[:16]}: corrupt cached answer ignored" in caplog.text
    assert len(SQLiteCache(cache)) == 1


@pytest.mark.parametrize(
    "text,key",
    [
        ("temperature: hot", "temperature"),
        ("temperature: 1000", "temperature"),
        ("max_tokens: -5", "max_tokens"),
        ("max_concurrency: -3", "max_concurrency"),
        ("timeout_s: -1", "timeout_s"),
        ("models: [a, b]", "models"),
        ("prices: [1, 2]", "prices"),
        ("prices: {m: 5}", "prices.m"),
        ("max_tokens_retry: 0", "max_tokens_retry"),
        ("structured_output: xml", "structured_output"),
        ("llm: {temperature: hot}", "temperature"),
        ("llm: {proposer_model: 5}", "models.proposer"),
    ],
)
def test_llm_config_values_are_checked(tmp_path, text, key):
    p = tmp_path / "llm.yaml"
    p.write_text(text + "\n")
    with pytest.raises(ToolkitError) as ei:
        load_llm_config(p)
    assert str(ei.value).startswith(f"{p}: {key}: ")
    assert "\n" not in str(ei.value)


def _yaml_rejects_duplicates() -> bool:
    import tempfile

    from schemas.io import read_yaml

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write("a: 1\na: 2\n")
    try:
        read_yaml(fh.name)
    except ToolkitError:
        return True
    return False


@pytest.mark.skipif(
    not _yaml_rejects_duplicates(), reason="duplicate-key check of schemas.io.read_yaml (issue 13)"
)
def test_duplicate_key_in_llm_config_is_refused(tmp_path):
    p = tmp_path / "llm.yaml"
    p.write_text("base_url: http://127.0.0.1:9/v1\nmax_tokens: 10\nbase_url: http://other/v1\n")
    with pytest.raises(ToolkitError, match=r"llm\.yaml.*base_url"):
        load_llm_config(p)


def test_one_config_file_for_every_command(tmp_path):
    """A `viddiff run` config's llm: section is read by the LLM loader of every other command."""
    p = tmp_path / "run.yaml"
    p.write_text(
        "seed: 3\nllm:\n  proposer_model: p-model\n  lmm_model: l-model\n  max_tokens: 64\n"
        "  base_url: http://127.0.0.1:9/v1\nclip: {batch_size: 4}\n"
    )
    c = load_llm_config(p)
    assert c.models == {"proposer": "p-model", "lmm": "l-model"} and c.max_tokens == 64
    assert c.structured_output == "auto"


@pytest.mark.parametrize(
    "llm,key",
    [
        ({"temperature": 1000}, "llm.temperature"),
        ({"max_tokens": -5}, "llm.max_tokens"),
        ({"max_concurrency": -3}, "llm.max_concurrency"),
        ({"timeout_s": -1}, "llm.timeout_s"),
        ({"prices": {"m": 5}}, "llm.prices.m"),
    ],
)
def test_run_config_llm_section_uses_the_same_checks(llm, key):
    from viddiff_method.config import RunConfig

    with pytest.raises(ToolkitError) as ei:
        RunConfig.from_dict({"llm": llm}, file="run.yaml")
    assert str(ei.value).startswith(f"run.yaml: {key}: ")
