"""The LLM/VLM client every part of the toolkit uses: any OpenAI-compatible endpoint via ``openai``.

One request = (stage, model, prompt, optional system prompt and images, JSON Schema). The client
asks for structured output (``json_schema``; ``json_object`` or ``none`` for servers without it),
validates every answer with jsonschema, retries an invalid answer by telling the model what was
wrong, backs off on 429/5xx/timeouts (tenacity), caches valid answers in SQLite under the hash of
the canonical request, runs batches in a bounded thread pool, and accounts tokens and cost per
stage with a hard budget. The API key is read from the environment at call time and is never
logged, cached or written anywhere.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import re
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Sequence

import jsonschema
import numpy as np
import openai
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from schemas.errors import ToolkitError
from viddiff_method.backends.cache import SQLiteCache
from viddiff_method.backends.usage import Usage

log = logging.getLogger(__name__)

StructuredOutput = Literal["json_schema", "json_object", "none"]
ImageLike = Any  # bytes | np.ndarray | PIL.Image.Image | str | os.PathLike

#: Rough prompt-token charge per image, used only to estimate a call's cost for the budget check.
IMAGE_TOKENS_ESTIMATE = 765
#: Completion tokens assumed for the budget check before any call has been observed.
DEFAULT_COMPLETION_ESTIMATE = 256


class LLMError(ToolkitError):
    """An LLM call failed for good: invalid answers after the retries, or a non-retryable API error."""


class BudgetExceeded(ToolkitError):
    """The next call would exceed ``max_cost``; nothing was sent. Valid answers so far are cached."""

    exit_code = 3


@dataclass
class LLMConfig:
    """How to reach the endpoint and how to call it. Load from YAML with :meth:`from_dict`."""

    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    structured_output: StructuredOutput = "json_schema"
    max_invalid_retries: int = 2
    max_concurrency: int = 4
    timeout_s: float = 120.0
    max_retries: int = 5
    cache_path: str | None = None
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    max_cost: float | None = None
    temperature: float | None = None
    seed: int | None = None
    # extensions
    models: dict[str, str] = field(default_factory=dict)  # role -> model name ("default" is the fallback)
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    max_tokens: int | None = None
    image_format: Literal["png", "jpeg"] = "png"
    image_detail: str | None = None  # "low" | "high" | "auto"; None leaves it out
    strict_schema: bool = False  # json_schema "strict" flag (OpenAI requires closed schemas for it)
    json_object_schema: bool = False  # json_object + "schema" (llama-cpp-python's grammar-constrained extension)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, *, file: str | None = None) -> "LLMConfig":
        """Build from a plain mapping (e.g. a YAML file, optionally under an ``llm:`` key).

        Unknown keys and a literal ``api_key`` are refused: the key belongs in the environment.
        """
        d = dict(d or {})
        if set(d) == {"llm"} or ("llm" in d and isinstance(d["llm"], dict)):
            d = dict(d["llm"] or {})
        if "api_key" in d:
            raise ToolkitError("do not put the API key in the config; set the environment variable named by "
                               "api_key_env (default OPENAI_API_KEY)", file=file, key="api_key")
        known = {f.name for f in fields(cls)}
        for k in d:
            if k not in known:
                raise ToolkitError(f"unknown LLM config key; known: {', '.join(sorted(known))}", file=file, key=k)
        if d.get("structured_output", "json_schema") not in ("json_schema", "json_object", "none"):
            raise ToolkitError("must be json_schema, json_object or none", file=file, key="structured_output")
        for model, p in (d.get("prices") or {}).items():
            if not isinstance(p, dict) or set(p) - {"prompt", "completion"} or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in p.values()):
                raise ToolkitError("expected {prompt: $/1M tokens, completion: $/1M tokens}", file=file,
                                   key=f"prices.{model}")
        for k in ("max_invalid_retries", "max_retries", "max_concurrency"):
            if k in d and (not isinstance(d[k], int) or d[k] < (1 if k == "max_concurrency" else 0)):
                raise ToolkitError("must be a non-negative integer", file=file, key=k)
        for k in ("max_cost", "timeout_s", "backoff_initial_s", "backoff_max_s"):
            v = d.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                raise ToolkitError("must be a non-negative number", file=file, key=k)
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the settings (it never contains the key, only the variable's name)."""
        return asdict(self)

    def model_for(self, role: str, default: str | None = None) -> str:
        """The model name configured for ``role`` (else ``models.default``, else ``default``)."""
        name = self.models.get(role) or self.models.get("default") or default
        if not name:
            raise ToolkitError(f"no model configured for role {role!r}; set models.{role} in the LLM config "
                               f"or pass --model", key=f"models.{role}")
        return name


@dataclass
class LLMRequest:
    """One structured LLM/VLM call. ``schema`` is the JSON Schema the answer must satisfy."""

    stage: str
    model: str
    prompt: str
    schema: dict[str, Any]
    schema_name: str = "answer"
    system: str | None = None
    images: Sequence[ImageLike] = ()
    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    top_p: float | None = None  # sent (and part of the cache key) only when set


@dataclass
class _Prepared:
    key: str
    messages: list[dict[str, Any]]
    temperature: float | None
    seed: int | None
    max_tokens: int | None
    n_images: int
    top_p: float | None = None


def _sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def encode_image(img: ImageLike, fmt: str = "png", quality: int = 90) -> tuple[bytes, str]:
    """Return ``(encoded bytes, mime type)`` for an image given as bytes, array, PIL image or path."""
    from PIL import Image

    if isinstance(img, (str, os.PathLike)):
        path = Path(img)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ToolkitError(f"cannot read image: {e.strerror}", file=str(path)) from None
        mime = _sniff_mime(data)
        if mime is None:
            raise ToolkitError("not a PNG/JPEG/GIF/WebP image", file=str(path))
        return data, mime
    if isinstance(img, (bytes, bytearray, memoryview)):
        data = bytes(img)
        mime = _sniff_mime(data)
        if mime is None:
            raise ToolkitError("image bytes are not PNG/JPEG/GIF/WebP (pass an array to have them encoded)")
        return data, mime
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
            raise ToolkitError(f"image array must be uint8 HxW, HxWx3 or HxWx4, got {img.dtype} {img.shape}")
        img = Image.fromarray(img)
    if isinstance(img, Image.Image):
        buf = io.BytesIO()
        if fmt == "jpeg":
            img.convert("RGB").save(buf, format="JPEG", quality=quality)
            return buf.getvalue(), "image/jpeg"
        img.save(buf, format="PNG")
        return buf.getvalue(), "image/png"
    raise ToolkitError(f"unsupported image type {type(img).__name__}")


def _schema_instruction(schema: dict[str, Any]) -> str:
    return ("\n\nReply with only a JSON object (no prose, no code fences) that matches this JSON Schema:\n"
            + json.dumps(schema, ensure_ascii=False))


def parse_json_answer(content: str) -> Any:
    """Parse a model's JSON answer, tolerating code fences and prose around one JSON object."""
    text = (content or "").strip()
    fence = re.match(r"^```(?:json|JSON)?\s*(.*?)\s*```$", text, re.S)
    if fence:
        text = fence.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(text[start:end + 1])
            except json.JSONDecodeError:
                pass
        raise ValueError(f"not valid JSON ({first.msg} at char {first.pos})") from None


@lru_cache(maxsize=256)
def _validator_for(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ToolkitError(f"the request's JSON Schema is invalid: {e.message}") from None
    return cls(schema)


def schema_errors(schema: dict[str, Any], obj: Any) -> list[str]:
    """Every way ``obj`` fails ``schema``, as ``"$.path: message"`` strings (empty = valid)."""
    v = _validator_for(json.dumps(schema, sort_keys=True))
    out = []
    for err in sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append(f"{path}: {err.message[:200]}")
    return out


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


class _BackoffWait:
    """Exponential backoff with jitter, honouring a server's Retry-After (capped at ``cap``)."""

    def __init__(self, initial: float, cap: float):
        self.exp = wait_exponential_jitter(initial=initial, max=cap, jitter=initial)
        self.cap = cap

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        resp = getattr(exc, "response", None)
        if resp is not None:
            for header, div in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
                val = resp.headers.get(header)
                try:
                    if val is not None:
                        return min(max(float(val) / div, 0.0), self.cap)
                except ValueError:
                    pass
        return self.exp(retry_state)


class LLMClient:
    """Structured, cached, budgeted calls to an OpenAI-compatible chat endpoint."""

    def __init__(self, config: LLMConfig | None = None):
        self.config = config or LLMConfig()
        if self.config.structured_output not in ("json_schema", "json_object", "none"):
            raise ToolkitError("must be json_schema, json_object or none", key="structured_output")
        self.cache = SQLiteCache(self.config.cache_path) if self.config.cache_path else None
        self._usage = Usage()
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._completion_seen: list[int] = []
        self._client: openai.OpenAI | None = None
        self._key_locks: dict[str, threading.Lock] = {}

    # -- public -------------------------------------------------------------------------------
    @property
    def usage(self) -> Usage:
        """Calls, cache hits, tokens and cost per stage since this client was made."""
        return self._usage

    @property
    def base_url(self) -> str | None:
        """The endpoint: config, else ``OPENAI_BASE_URL``, else the openai package default."""
        return self.config.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def request_key(self, req: LLMRequest) -> str:
        """sha256 of the canonical request (model, system, prompt, image hashes, schema, sampling)."""
        return self._prepare(req).key

    def complete(self, req: LLMRequest) -> dict[str, Any]:
        """Return the validated JSON answer to ``req`` (from the cache when it is there)."""
        prep = self._prepare(req)
        if self.cache is None:
            return self._complete_uncached(req, prep)
        hit = self._cached(req, prep)
        if hit is not None:
            return hit
        # identical requests in flight at once (threads) make one call; the others then hit the cache
        with self._lock:
            key_lock = self._key_locks.setdefault(prep.key, threading.Lock())
        with key_lock:
            hit = self._cached(req, prep)
            if hit is not None:
                return hit
            return self._complete_uncached(req, prep)

    def _cached(self, req: LLMRequest, prep: _Prepared) -> dict[str, Any] | None:
        hit = self.cache.get(prep.key) if self.cache is not None else None
        if hit is not None and not schema_errors(req.schema, hit):
            self._usage.record(req.stage, cache_hits=1)
            log.debug("cache hit %s %s", req.stage, prep.key[:16])
            return hit
        return None

    def _complete_uncached(self, req: LLMRequest, prep: _Prepared) -> dict[str, Any]:
        where = f"stage {req.stage}, request {prep.key[:16]}"
        messages = list(prep.messages)
        attempts = 1 + max(0, self.config.max_invalid_retries)
        problem = ""
        for attempt in range(attempts):
            content, pt, ct = self._call_budgeted(req, prep, messages, where)
            try:
                answer = parse_json_answer(content)
                errs = ["$: the answer must be a JSON object"] if not isinstance(answer, dict) else \
                    schema_errors(req.schema, answer)
                if errs:
                    raise ValueError("; ".join(errs[:3]) + (f" (and {len(errs) - 3} more)" if len(errs) > 3 else ""))
            except ValueError as e:
                problem = str(e)
                log.info("%s: invalid answer (attempt %d of %d): %s", where, attempt + 1, attempts, problem)
                messages = list(prep.messages) + [
                    {"role": "assistant", "content": content[:4000]},
                    {"role": "user", "content": f"That answer was invalid: {problem}. Reply again with only a JSON "
                                                f"object that matches the schema."},
                ]
                continue
            if self.cache is not None:
                self.cache.put(prep.key, answer, stage=req.stage, model=req.model, prompt_tokens=pt,
                               completion_tokens=ct)
            return answer
        raise LLMError(f"invalid answer after {attempts} attempts: {problem}", key=where)

    def complete_many(self, reqs: Sequence[LLMRequest], *, progress: str | None = None) -> list[dict[str, Any]]:
        """Run ``reqs`` in a pool of ``max_concurrency`` threads; answers in input order.

        The first failure (or a budget stop) cancels what has not started and is raised; answers that
        already succeeded are cached, so a rerun resumes where this one stopped.
        """
        from tqdm.auto import tqdm

        reqs = list(reqs)
        results: list[dict[str, Any] | None] = [None] * len(reqs)
        if not reqs:
            return []
        bar = tqdm(total=len(reqs), desc=progress or "llm", disable=progress is None, unit="call")
        pool = ThreadPoolExecutor(max_workers=max(1, self.config.max_concurrency), thread_name_prefix="llm")
        try:
            futures = {pool.submit(self.complete, r): i for i, r in enumerate(reqs)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    exc = f.exception()
                    if exc is not None:
                        for p in pending:
                            p.cancel()
                        raise exc
                    results[futures[f]] = f.result()
                    bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        return results  # type: ignore[return-value]

    # -- internals ----------------------------------------------------------------------------
    def _openai(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                key = os.environ.get(self.config.api_key_env)
                if not key:
                    log.info("%s is not set; calling %s without an API key", self.config.api_key_env,
                             self.base_url or "the default endpoint")
                self._client = openai.OpenAI(base_url=self.base_url, api_key=key or "no-key",
                                             timeout=self.config.timeout_s, max_retries=0)
            return self._client

    def _prepare(self, req: LLMRequest) -> _Prepared:
        if not isinstance(req.schema, dict):
            raise ToolkitError("request schema must be a JSON Schema object", key=f"stage {req.stage}")
        cfg = self.config
        temperature = req.temperature if req.temperature is not None else cfg.temperature
        seed = req.seed if req.seed is not None else cfg.seed
        max_tokens = req.max_tokens if req.max_tokens is not None else cfg.max_tokens
        encoded = [encode_image(im, cfg.image_format) for im in req.images]
        hashes = [hashlib.sha256(data).hexdigest() for data, _ in encoded]
        canonical = {
            "model": req.model, "system": req.system, "prompt": req.prompt, "images": hashes,
            "schema": req.schema, "schema_name": req.schema_name,
            "temperature": temperature, "seed": seed, "max_tokens": max_tokens,
        }
        if req.top_p is not None:  # only when set, so existing cache keys stay valid
            canonical["top_p"] = req.top_p
        key = hashlib.sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False).encode("utf-8")).hexdigest()
        text = req.prompt if cfg.structured_output == "json_schema" else req.prompt + _schema_instruction(req.schema)
        messages: list[dict[str, Any]] = []
        if req.system:
            messages.append({"role": "system", "content": req.system})
        if encoded:
            parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
            for data, mime in encoded:
                url = {"url": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"}
                if cfg.image_detail:
                    url["detail"] = cfg.image_detail
                parts.append({"type": "image_url", "image_url": url})
            messages.append({"role": "user", "content": parts})
        else:
            messages.append({"role": "user", "content": text})
        return _Prepared(key, messages, temperature, seed, max_tokens, len(encoded), req.top_p)

    def _price(self, model: str) -> dict[str, float] | None:
        return self.config.prices.get(model)

    def _cost(self, model: str, pt: int, ct: int) -> float:
        p = self._price(model)
        if not p:
            return 0.0
        return (pt * float(p.get("prompt", 0.0)) + ct * float(p.get("completion", 0.0))) / 1e6

    def _estimate(self, req: LLMRequest, prep: _Prepared, messages: list[dict[str, Any]]) -> float:
        chars = 0
        for m in messages:
            c = m["content"]
            chars += len(c) if isinstance(c, str) else sum(len(p.get("text", "")) for p in c)
        if self.config.structured_output == "json_schema":
            chars += len(json.dumps(req.schema))
        pt = chars // 4 + IMAGE_TOKENS_ESTIMATE * prep.n_images
        with self._lock:
            seen = list(self._completion_seen)
        ct = prep.max_tokens or (int(np.mean(seen)) if seen else DEFAULT_COMPLETION_ESTIMATE)
        return self._cost(req.model, pt, ct)

    def _call_budgeted(self, req: LLMRequest, prep: _Prepared, messages: list[dict[str, Any]],
                       where: str) -> tuple[str, int, int]:
        max_cost = self.config.max_cost
        estimate = 0.0
        if max_cost is not None:
            if not self._price(req.model):
                raise BudgetExceeded(f"max_cost is set but prices has no entry for model {req.model!r}, so the "
                                     f"budget cannot be checked", key="prices")
            estimate = self._estimate(req, prep, messages)
            with self._lock:
                spent = self._usage.cost
                if spent + self._reserved + estimate > max_cost:
                    raise BudgetExceeded(
                        f"stopped before this call: spent {spent:.4f} + in flight {self._reserved:.4f} + estimated "
                        f"{estimate:.4f} would exceed max_cost {max_cost:g}; valid answers so far are cached, "
                        f"rerun with a higher --max-cost to continue", key=where)
                self._reserved += estimate
        try:
            return self._call(req, prep, messages, where)
        finally:
            if max_cost is not None:
                with self._lock:
                    self._reserved -= estimate

    def _call(self, req: LLMRequest, prep: _Prepared, messages: list[dict[str, Any]],
              where: str) -> tuple[str, int, int]:
        cfg = self.config
        kwargs: dict[str, Any] = {"model": req.model, "messages": messages}
        if prep.temperature is not None:
            kwargs["temperature"] = prep.temperature
        if prep.seed is not None:
            kwargs["seed"] = prep.seed
        if prep.max_tokens is not None:
            kwargs["max_tokens"] = prep.max_tokens
        if prep.top_p is not None:
            kwargs["top_p"] = prep.top_p
        if cfg.structured_output == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", req.schema_name)[:64] or "answer"
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": name, "schema": req.schema, "strict": cfg.strict_schema}}
        elif cfg.structured_output == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
            if cfg.json_object_schema:
                kwargs["response_format"]["schema"] = req.schema
        client = self._openai()
        retrying = Retrying(
            stop=stop_after_attempt(1 + max(0, cfg.max_retries)),
            wait=_BackoffWait(cfg.backoff_initial_s, cfg.backoff_max_s),
            retry=retry_if_exception(_is_transient),
            reraise=True,
            before_sleep=lambda rs: log.info("%s: %s; retrying (attempt %d)", where,
                                             type(rs.outcome.exception()).__name__, rs.attempt_number + 1),
        )
        try:
            resp = retrying(client.chat.completions.create, **kwargs)
        except openai.AuthenticationError as e:
            raise LLMError(f"HTTP {e.status_code} authentication failed at {self.base_url or 'default endpoint'}; "
                           f"check the environment variable {cfg.api_key_env}", key=where) from None
        except openai.APIStatusError as e:
            msg = _error_message(e)
            hint = ""
            if "json_schema" in msg or "response_format" in msg:
                hint = " (this server may not support json_schema; set structured_output: json_object)"
            raise LLMError(f"HTTP {e.status_code} from {self.base_url or 'default endpoint'}: {msg}{hint}",
                           key=where) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            raise LLMError(f"{type(e).__name__} reaching {self.base_url or 'default endpoint'} after "
                           f"{1 + cfg.max_retries} attempts", key=where) from None
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        self._usage.record(req.stage, calls=1, prompt_tokens=pt, completion_tokens=ct,
                           cost=self._cost(req.model, pt, ct))
        with self._lock:
            self._completion_seen.append(ct)
        choices = getattr(resp, "choices", None) or []
        content = (choices[0].message.content if choices and choices[0].message else None) or ""
        return content, pt, ct


def _error_message(e: openai.APIStatusError) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            return str(inner["message"]).splitlines()[0][:300]
    return str(e).splitlines()[0][:300]


def load_llm_config(path: str | os.PathLike | None, **overrides: Any) -> LLMConfig:
    """Read an LLM YAML config (or defaults when ``path`` is None) and apply non-None ``overrides``."""
    from schemas.io import read_yaml

    data = read_yaml(path) if path else {}
    if data is not None and not isinstance(data, dict):
        raise ToolkitError("expected a mapping of LLM settings", file=str(path))
    cfg = LLMConfig.from_dict(data or {}, file=str(path) if path else None)
    for k, v in overrides.items():
        if v is not None:
            setattr(cfg, k, v)
    return cfg


__all__ = ["LLMConfig", "LLMRequest", "LLMClient", "LLMError", "BudgetExceeded", "encode_image",
           "parse_json_answer", "schema_errors", "load_llm_config"]
