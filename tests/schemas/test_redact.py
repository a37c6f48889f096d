"""The one redaction choke point: secrets from the environment and credential-shaped tokens never print."""

from __future__ import annotations

import logging

import click
from click.testing import CliRunner

from schemas.errors import ToolkitError
from schemas.redact import redact, register_secret
from viddiff_runtime.cli import ToolkitGroup, debug_option

SK = "sk-" + "abcdefghijklmnop1234"  # built at run time: no secret-shaped literal in the repo


def test_environment_secret_and_shapes_are_masked(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "canary-7f3a9c")
    out = redact(
        f"key canary-7f3a9c; Bearer {SK}; hf_ABCDEFGHIJKLMNOPQRSTUV; "
        "{'set-cookie': 'sessionid=abc123def456; Path=/', 'Authorization': 'Token 0123456789abcdef0123'}"
    )
    for leaked in (
        "canary-7f3a9c",
        SK,
        "hf_ABCDEF",
        "abc123def456",
        "0123456789abcdef0123",
    ):
        assert leaked not in out
    assert "***" in out


def test_ordinary_text_is_untouched():
    text = "prompt token estimated 123456789 tokens; proposer: 3 calls, 0 cache hits"
    assert redact(text) == text


def test_registered_secret_and_toolkit_error(monkeypatch):
    register_secret("ls-token-value-42")
    err = ToolkitError("server said: ls-token-value-42 is wrong", file="x.json")
    assert "ls-token-value-42" not in str(err)


def test_cli_boundary_and_logs_redact(monkeypatch, caplog):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "canary-token-99xx")

    @click.group(cls=ToolkitGroup)
    @debug_option
    def cli():
        pass

    @cli.command()
    def boom():
        logging.getLogger("viddiff.test").warning("echo canary-token-99xx")
        raise RuntimeError("HTTP 400: Incorrect API key provided: canary-token-99xx")

    res = CliRunner().invoke(cli, ["boom"])
    assert res.exit_code == 1
    assert "canary-token-99xx" not in res.output
    assert "error: RuntimeError: HTTP 400" in res.output
