"""A real OpenAI-compatible HTTP server on loopback, for tests: scripted, replayed or recorded answers.

No model endpoint is reachable here, so the tests run the real ``openai`` client (and the toolkit's
real parsing, validation, retry and cache code) against this stdlib ``ThreadingHTTPServer``:

    with FakeOpenAI() as srv:
        srv.add("deeper squat", {"answer": "a"})           # substring of the request text -> JSON answer
        srv.add("flaky", ("status", 429), times=2)          # two rate-limit errors, then the next rule
        srv.add(lambda body: True, lambda body: {...})       # computed ("oracle") answers
        LLMClient(LLMConfig(base_url=srv.base_url)) ...

Answers can also come from a cassette (``{request hash: content}``) and, in record mode, from a real
endpoint configured by ``OPENAI_BASE_URL`` + ``OPENAI_API_KEY``; recorded answers are saved to the
cassette (the key never is). Nothing here says anything about a model's accuracy: the answers are
whatever the test scripted.

``quirks=`` makes the server behave as a real server software was measured to behave (see ``QUIRKS``),
so the default test suite covers every finding without those servers; ``models=`` is what
``GET /v1/models`` lists (None: the route answers 404, as on servers without it). An error message may
contain ``{authorization}``: the server echoes the request's Authorization header there, as some do.

Run standalone to replay a cassette for manual trials:
``python -m tests.helpers.openai_server --cassette answers.json --port 8011``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Body = dict[str, Any]
Match = str | Callable[[Body], bool]
Reply = Any  # dict | str | ("status", code[, message]) | Callable[[Body], dict | str | tuple]


#: Real servers' measured behaviour (llama-cpp-python 0.3.36, llama.cpp ``llama-server``, ``transformers serve``
#: 5.24.0, each serving SmolLM2-135M), reproduced by ``FakeOpenAI(quirks=NAME)``.
QUIRKS = {
    "llama-cpp-python": "HTTP 500 pydantic validation error on response_format json_schema; json_object with a "
    "schema works; HTTP 500 'can only concatenate str (not \"list\") to str' on image content; "
    "cuts answers at max_tokens (finish_reason length)",
    "llama-server": "enforces json_schema; HTTP 500 'image input is not supported - hint: ... mmproj' on image "
    "content; cuts answers at max_tokens (finish_reason length)",
    "transformers-serve": "ignores response_format (HTTP 200; the model only sees the prompt); drops images "
    "silently and counts only the text's prompt tokens",
}
LLAMA_CPP_PYTHON_500 = (
    "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be "
    "'text' or 'json_object' [type=literal_error, input_value='json_schema', input_type=str]\n"
    "    For further information visit https://errors.pydantic.dev/2.11/v/literal_error"
)
LLAMA_CPP_PYTHON_IMAGE_500 = 'can only concatenate str (not "list") to str'
LLAMA_SERVER_IMAGE_500 = (
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
)
#: What a tiny model says when nothing tells it the answer must be JSON.
PROSE_ANSWER = "Sure! Video A shows the deeper squat, because the hips go lower."


def _has_images(body: Body) -> bool:
    return any(
        isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
        for m in body.get("messages", [])
    )


def _drop_images(body: Body) -> Body:
    msgs = []
    for m in body.get("messages", []):
        c = m.get("content")
        if isinstance(c, list):
            c = "\n".join(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text")
        msgs.append({**m, "content": c})
    return {**body, "messages": msgs}


@dataclass
class _Rule:
    match: Match
    reply: Reply
    times: int | None
    delay: float
    used: int = 0


def text_of(body: Body) -> str:
    """All text of a request's messages (system, user, assistant), joined by newlines."""
    out = []
    for m in body.get("messages", []):
        c = m.get("content")
        if isinstance(c, str):
            out.append(c)
        elif isinstance(c, list):
            out.extend(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(out)


def images_in(body: Body) -> list[bytes]:
    """Decode the base64 data-URL images of a request, in order (lets oracle replies look at frames)."""
    out = []
    for m in body.get("messages", []):
        c = m.get("content")
        if isinstance(c, list):
            for p in c:
                if isinstance(p, dict) and p.get("type") == "image_url":
                    url = p["image_url"]["url"]
                    if url.startswith("data:"):
                        out.append(base64.b64decode(url.split(",", 1)[1]))
    return out


def request_hash(body: Body) -> str:
    """Cassette key: sha256 of the canonical request (images replaced by their bytes' sha256), 16 hex."""

    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            if obj.get("type") == "image_url":
                url = obj["image_url"]["url"]
                data = base64.b64decode(url.split(",", 1)[1]) if url.startswith("data:") else url.encode()
                return {"type": "image_url", "sha256": hashlib.sha256(data).hexdigest()}
            return {k: strip(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    canon = {
        k: strip(body.get(k))
        for k in ("model", "messages", "response_format", "temperature", "seed", "max_tokens")
    }
    return hashlib.sha256(json.dumps(canon, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


class FakeOpenAI:
    """Loopback OpenAI-compatible ``/v1/chat/completions`` server; a context manager.

    ``record=True`` forwards requests that no rule or cassette answers to the real endpoint in
    ``OPENAI_BASE_URL`` (with ``OPENAI_API_KEY``), and saves each answer to ``cassette`` on exit.
    """

    def __init__(
        self,
        *,
        cassette: str | os.PathLike | None = None,
        record: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        quirks: str | None = None,
        models: list[str] | None = None,
    ):
        if quirks is not None and quirks not in QUIRKS:
            raise ValueError(f"unknown quirks {quirks!r}; known: {', '.join(QUIRKS)}")
        self.quirks = quirks
        self.models = models
        self.requests: list[Body] = []
        self.rules: list[_Rule] = []
        self.cassette: dict[str, str] = {}
        self.cassette_path = Path(cassette) if cassette else None
        self.record = record
        self._lock = threading.Lock()
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.upstream: str | None = None
        if self.cassette_path and self.cassette_path.exists():
            self.load_cassette(self.cassette_path)
        if record:
            self.upstream = os.environ.get("OPENAI_BASE_URL")
            if not self.upstream or not os.environ.get("OPENAI_API_KEY"):
                raise RuntimeError("record mode needs OPENAI_BASE_URL and OPENAI_API_KEY of a real endpoint")
            if not self.cassette_path:
                raise RuntimeError("record mode needs a cassette path to save answers to")

    # -- scripting ----------------------------------------------------------------------------
    def add(self, match: Match, reply: Reply, *, times: int | None = None, delay: float = 0.0) -> FakeOpenAI:
        """Answer requests whose text contains ``match`` (or for which ``match(body)`` is true).

        ``reply``: a dict (sent as its JSON), a str (raw content), ``("status", code[, message])`` for an
        HTTP error, or a callable of the request body returning one of those. ``times`` limits how
        often the rule answers (then later rules are tried); ``delay`` sleeps first (timeouts).
        """
        with self._lock:
            self.rules.append(_Rule(match, reply, times, delay))
        return self

    def load_cassette(self, path: str | os.PathLike) -> None:
        """Add the answers of a cassette file (``{"answers": {hash: content}}``)."""
        from schemas.io import read_json

        data = read_json(path)
        with self._lock:
            self.cassette.update(data.get("answers", data))

    def save_cassette(self, path: str | os.PathLike | None = None) -> None:
        """Write the cassette atomically (answers only; never headers or keys)."""
        from schemas.io import write_json

        path = Path(path or self.cassette_path)
        with self._lock:
            write_json(path, {"version": 1, "answers": dict(sorted(self.cassette.items()))})

    images_in = staticmethod(images_in)
    text_of = staticmethod(text_of)
    request_hash = staticmethod(request_hash)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        assert self._server is not None, "use FakeOpenAI as a context manager"
        return f"http://{self._host}:{self._server.server_address[1]}/v1"

    # -- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> FakeOpenAI:
        self._server = ThreadingHTTPServer((self._host, self._port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.record and self.cassette_path:
            self.save_cassette()

    # -- answering ----------------------------------------------------------------------------
    def _quirk(self, body: Body) -> tuple[Body, tuple | None]:
        """The body the model gets under ``self.quirks`` and an HTTP error the server answers instead, if any."""
        rf = (body.get("response_format") or {}).get("type")
        if self.quirks == "llama-cpp-python":
            if rf == "json_schema":
                return body, ("status", 500, LLAMA_CPP_PYTHON_500)
            if _has_images(body):
                return body, ("status", 500, LLAMA_CPP_PYTHON_IMAGE_500)
        elif self.quirks == "llama-server":
            if _has_images(body):
                return body, ("status", 500, LLAMA_SERVER_IMAGE_500)
        elif self.quirks == "transformers-serve":
            body = _drop_images({k: v for k, v in body.items() if k != "response_format"})
        return body, None

    def _answer(self, body: Body, auth: str = "") -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(body)
        body, refusal = self._quirk(body)
        if refusal is not None:
            return self._reply(body, refusal, auth)
        text, key = text_of(body), request_hash(body)
        if self.quirks == "transformers-serve" and "JSON Schema" not in text:
            return self._reply(
                body, PROSE_ANSWER, auth
            )  # response_format ignored and no schema in the prompt
        with self._lock:
            rule = None
            for r in self.rules:
                if r.times is not None and r.used >= r.times:
                    continue
                ok = (r.match in text) if isinstance(r.match, str) else bool(r.match(body))
                if ok:
                    r.used += 1
                    rule = r
                    break
            cached = self.cassette.get(key)
        if rule is not None:
            if rule.delay:
                time.sleep(rule.delay)
            reply = rule.reply(body) if callable(rule.reply) else rule.reply
        elif cached is not None:
            reply = cached
        elif self.record:
            reply = self._forward(body)
            if isinstance(reply, str):
                with self._lock:
                    self.cassette[key] = reply
        else:
            return 404, _error(f"no scripted answer for request {key}", "not_found"), {}
        return self._reply(body, reply, auth)

    def _reply(self, body: Body, reply: Any, auth: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if isinstance(reply, tuple) and reply and reply[0] == "status":
            code = int(reply[1])
            msg = (reply[2] if len(reply) > 2 else f"scripted HTTP {code}").replace("{authorization}", auth)
            return code, _error(msg, "rate_limit_exceeded" if code == 429 else "server_error"), {}
        content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        finish = "stop"
        limit = body.get("max_tokens")
        if self.quirks and isinstance(limit, int) and max(1, len(content) // 4) > limit:
            content, finish = content[: limit * 4], "length"  # real servers stop at max_tokens mid-answer
        out = _completion(body, content, finish)
        if self.quirks and self.models:
            out["model"] = self.models[0]  # real servers report the model they serve, whatever was asked
        return 200, out, {}

    def _forward(self, body: Body) -> str | tuple:
        """Send ``body`` to the real endpoint (record mode) and return its answer's content."""
        req = urllib.request.Request(
            self.upstream.rstrip("/") + "/chat/completions",
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                data = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return ("status", e.code, f"upstream HTTP {e.code}")
        return data["choices"][0]["message"]["content"] or ""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, code: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models") and fake.models is not None:
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": m, "object": "model", "owned_by": "me"} for m in fake.models],
                        },
                        {},
                    )
                else:
                    self._send(404, _error("not found", "not_found"), {})

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, _error(f"unknown path {self.path}", "not_found"), {})
                    return
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._send(400, _error("request body is not JSON", "invalid_request_error"), {})
                    return
                self._send(*fake._answer(body, self.headers.get("Authorization", "")))

        return Handler


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": kind}}


def _completion(body: Body, content: str, finish_reason: str = "stop") -> dict[str, Any]:
    prompt_tokens = len(text_of(body)) // 4 + 85 * len(images_in(body))
    completion_tokens = max(1, len(content) // 4)
    return {
        "id": "chatcmpl-fake-" + request_hash(body),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def write_llm_config(path: str | os.PathLike, srv: FakeOpenAI, **settings: Any) -> Path:
    """Write an LLM YAML config pointing at ``srv`` with test-speed backoff (for CLI tests)."""
    import yaml

    data = {"base_url": srv.base_url, "backoff_initial_s": 0.005, "backoff_max_s": 0.02, **settings}
    path = Path(path)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def main() -> None:
    """Serve a cassette on a fixed port until interrupted (manual trials of the CLI)."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cassette", required=True)
    ap.add_argument("--port", type=int, default=8011)
    ap.add_argument("--record", action="store_true", help="forward misses to OPENAI_BASE_URL and save them")
    args = ap.parse_args()
    with FakeOpenAI(cassette=args.cassette, record=args.record, port=args.port) as srv:
        print(f"serving {len(srv.cassette)} answers at {srv.base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
