"""Every command that calls a model: one LLM config, one shared cache, usage across invocations.

The real CLIs (`viddiff run`, `viddiff eval open`, `curate taxonomy propose`) on loopback endpoints; the
shared cache folder is the per-test VIDDIFF_CACHE_DIR set in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from curation.cli import main as curate
from schemas.io import read_json
from tests.curation.test_taxonomy import STAGES_ANSWER, diffs_answer
from tests.eval.fixtures import write_dataset
from tests.eval.test_open import PREDS, _oracle_match, _oracle_opposite, _rows
from tests.helpers.openai_server import FakeOpenAI, write_llm_config
from tests.viddiff_method.shapes import STAGES_ANSWER as SHAPE_STAGES
from tests.viddiff_method.shapes import links_answer, make_shapes_dataset, oracle_reply, toy_clip_config
from viddiff_method.cli import main as viddiff


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes") / "ds")


def shapes_server(srv: FakeOpenAI) -> FakeOpenAI:
    srv.add("Split the action into", SHAPE_STAGES)
    srv.add("For every stage, list the names", links_answer())
    srv.add("Statement", oracle_reply)
    return srv


def run_config(path: Path, srv: FakeOpenAI, **llm) -> Path:
    data = toy_clip_config(llm={"base_url": srv.base_url, **llm})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def invoke(cli, *args, ok=True, env=None):
    res = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    if ok:
        assert res.exit_code == 0, res.output
    return res


def run_closed(shapes, out: Path, cfg: Path, *extra, ok=True, env=None):
    """``viddiff run SHAPES --mode closed --out OUT --config CFG --no-progress [extra]``."""
    args = ["run", shapes.root, "--mode", "closed", "--out", out, "--config", cfg, "--no-progress", *extra]
    return invoke(viddiff, *args, ok=ok, env=env)


def test_second_run_into_a_new_folder_makes_zero_llm_calls(shapes, tmp_path):
    """Issue 12: the LLM cache is shared by default (no --cache-dir), so a new RUN_DIR never pays twice."""
    cache = Path(os.environ["VIDDIFF_CACHE_DIR"])
    with shapes_server(FakeOpenAI()) as srv:
        cfg = run_config(tmp_path / "run.yaml", srv)
        first = run_closed(shapes, tmp_path / "r1", cfg)
        n = len(srv.requests)
        assert n == 8 and "LLM: 8 calls" in first.output
        assert (cache / "llm.sqlite").exists() and not (tmp_path / "r1" / "cache").exists()
        second = run_closed(shapes, tmp_path / "r2", cfg)
        assert len(srv.requests) == n and "LLM: 0 calls, 8 cache hits" in second.output
        assert read_json(tmp_path / "r2" / "predictions.json") == read_json(
            tmp_path / "r1" / "predictions.json"
        )
        u = read_json(tmp_path / "r2" / "usage.json")
        assert u["total"]["cache_hits"] == 8 and u["total"]["calls"] == 0
        # --no-cache bypasses it
        run_closed(shapes, tmp_path / "r3", cfg, "--no-cache")
        assert len(srv.requests) == 2 * n
        # the structured-output mode used is recorded
        assert read_json(tmp_path / "r1" / "usage.json")["llm_endpoint"]["structured_output"] == {
            "gpt-4o-2024-05-13": "json_schema",
            "gpt-4o-mini-2024-07-18": "json_schema",
        }


def test_usage_keeps_totals_across_resumed_runs(shapes, tmp_path):
    srv = FakeOpenAI()
    srv.add("Statement", ("status", 503, "busy"))  # first invocation: the differencer fails
    with shapes_server(srv):
        cfg = run_config(
            tmp_path / "run.yaml", srv, max_invalid_retries=0, backoff_initial_s=0.001, backoff_max_s=0.002
        )
        out = tmp_path / "r"
        res = run_closed(shapes, out, cfg, ok=False)
        assert (
            res.exit_code != 0
            and "differencer" in res.output
            and "HTTP 503" in res.output
            and "busy" in res.output
        )
        first = read_json(out / "usage.json")
        assert first["cumulative"]["invocations"] == 1 and first["proposer"]["calls"] == 2
        srv.rules = [r for r in srv.rules if r.reply != ("status", 503, "busy")]
        run_closed(shapes, out, cfg)
        second = read_json(out / "usage.json")
        assert second["cumulative"]["invocations"] == 2
        assert second["differencer"]["calls"] == 6 and "proposer" in second["cumulative"]
        assert second["cumulative"]["proposer"]["calls"] == 2  # the first invocation's calls are kept
        assert second["cumulative"]["total"]["calls"] == first["total"]["calls"] + second["total"]["calls"]


def test_eval_open_takes_the_llm_config_and_max_cost(tmp_path):
    ds = write_dataset(tmp_path / "ds", _rows())
    (tmp_path / "p.json").write_text(json.dumps(PREDS))
    with FakeOpenAI(quirks="llama-cpp-python", models=["/models/smollm2.gguf"]) as srv:
        srv.add("Ground-truth differences", _oracle_match)
        srv.add("direct opposites", _oracle_opposite)
        cfg = write_llm_config(
            tmp_path / "llm.yaml",
            srv,
            max_tokens=2000,
            temperature=0.0,
            max_concurrency=1,
            prices={"/models/smollm2.gguf": {"prompt": 1.0, "completion": 1.0}},
        )
        args = ["eval", "open", ds, tmp_path / "p.json", "--config", cfg]
        invoke(viddiff, *args, "--out", tmp_path / "o1")
        bodies = [b for b in srv.requests if (b.get("response_format") or {}).get("type") == "json_object"]
        assert bodies and all(b["max_tokens"] == 2000 and b["temperature"] == 0.0 for b in bodies)
        # no model named: the server's one model is used; json_schema refused, json_object + schema chosen
        assert {b["model"] for b in srv.requests} == {"/models/smollm2.gguf"}
        m = read_json(tmp_path / "o1" / "metrics.json")
        assert m["llm_endpoint"]["structured_output"] == {"/models/smollm2.gguf": "json_object"}
        # a budget too small stops before the first call (nothing cached for this seed yet)
        res = invoke(
            viddiff, *args, "--out", tmp_path / "o2", "--max-cost", "0.000001", "--seed", "9", ok=False
        )
        assert res.exit_code == 3 and "max_cost" in res.output


def test_rerunning_the_same_taxonomy_propose_makes_no_call(tiny_dataset, tmp_path):
    with FakeOpenAI() as srv:
        srv.add("stage transcript", STAGES_ANSWER)
        srv.add("Propose 2 differences", diffs_answer("entry angle", "splash"))
        cfg = write_llm_config(tmp_path / "llm.yaml", srv, models={"taxonomy": "fake-4o"})
        args = ["taxonomy", "propose", tiny_dataset, "--action", "diving_0", "--n", "2", "--config", cfg]
        invoke(curate, *args)
        n = len(srv.requests)
        assert n == 2
        res = invoke(curate, *args)
        assert len(srv.requests) == n, "a rerun of the same proposal must be answered from the cache"
        assert "0 draft difference(s) added" in res.output


def test_server_echo_of_the_key_never_reaches_the_screen_or_files(shapes, tmp_path):
    secret = "sk-proj-" + "Zx9" * 10
    with FakeOpenAI() as srv:
        msg = "Incorrect API key provided: {authorization}. You can find your API key at https://example.invalid/k."
        srv.add("Split the action into", ("status", 400, msg))
        cfg = run_config(tmp_path / "run.yaml", srv)
        res = run_closed(shapes, tmp_path / "r", cfg, ok=False, env={"OPENAI_API_KEY": secret})
        assert (
            srv.requests and "Incorrect API key provided" in res.output and "find your API key" in res.output
        )
    assert secret not in res.output and secret[8:20] not in res.output
    written = b"".join(p.read_bytes() for p in Path(tmp_path).rglob("*") if p.is_file())
    written += b"".join(
        p.read_bytes() for p in Path(os.environ["VIDDIFF_CACHE_DIR"]).rglob("*") if p.is_file()
    )
    assert secret.encode() not in written
