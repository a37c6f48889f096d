"""The LLM/VLM client every part of the toolkit uses: any OpenAI-compatible endpoint via ``openai``.

One request = (stage, model, prompt, optional system prompt and images, JSON Schema). The client
asks for structured output; ``auto`` (the default) finds per endpoint + model what the server takes
(``json_schema``, then ``json_object`` with the schema, then ``none``: the schema in the prompt), falls
back on a refusal or an ignored ``response_format`` and remembers the decision in the cache. It
validates every answer with jsonschema, retries an invalid answer by telling the model what was
wrong, backs off on 429/5xx/timeouts (tenacity) but never retries a refusal that cannot change
(images, unknown model, unsupported field), recognises cut-off answers (``finish_reason: length``)
and images the server did not read, caches valid answers in SQLite under the hash of the canonical
request (one cache shared by every command, see :func:`default_cache_dir`), runs batches in a bounded
thread pool, and accounts tokens and cost per stage with a hard budget. The API key is read from the environment at call time and is never
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
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import numpy as np
import openai
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from schemas.errors import ToolkitError
from schemas.redact import redact
from schemas.settings import from_mapping
from viddiff_runtime.llm.cache import SQLiteCache
from viddiff_runtime.llm.usage import Usage

log = logging.getLogger(__name__)

StructuredOutput = Literal["auto", "json_schema", "json_object", "none"]
#: The structured-output modes ``auto`` tries, in order: enforced schema, JSON mode + schema, plain text.
AUTO_ORDER = ("json_schema", "json_object", "none")
STRUCTURED_OUTPUT_CHOICES = ("auto", "json_schema", "json_object", "none")
#: Model names the toolkit uses when the user names none; against a custom base_url they are replaced by the
#: single model the server serves (``GET /v1/models``).
BUILTIN_MODELS = frozenset({"gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4o-2024-05-13"})
#: Environment variable naming the shared cache folder (default: ``$XDG_CACHE_HOME/viddiff-toolkit``).
CACHE_DIR_ENV = "VIDDIFF_CACHE_DIR"
ImageLike = Any  # bytes | np.ndarray | PIL.Image.Image | str | os.PathLike

#: Rough prompt-token charge per image, used only to estimate a call's cost for the budget check.
IMAGE_TOKENS_ESTIMATE = 765
#: Completion tokens assumed for the budget check before any call has been observed.
DEFAULT_COMPLETION_ESTIMATE = 256
#: Fewest prompt tokens an image that was read adds (OpenAI: 85 at low detail; transformers serve: 0).
MIN_IMAGE_TOKENS = 16


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
    structured_output: StructuredOutput = "auto"
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
    json_object_schema: bool = (
        False  # json_object + "schema" (llama-cpp-python's grammar-constrained extension)
    )
    max_tokens_retry: int | None = (
        None  # a cut-off answer (finish_reason length) is asked once more with this limit
    )
    images_per_request: int = 250  # read by `viddiff run` (OpenAI refuses more than 250 images)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, *, file: str | None = None) -> LLMConfig:
        """Build from a plain mapping (e.g. a YAML file, optionally under an ``llm:`` key).

        Unknown keys and a literal ``api_key`` are refused: the key belongs in the environment.
        """
        d = dict(d or {})
        if set(d) == {"llm"} or ("llm" in d and isinstance(d["llm"], dict)):
            d = dict(d["llm"] or {})
        if "api_key" in d:
            raise ToolkitError(
                "do not put the API key in the config; set the environment variable named by "
                "api_key_env (default OPENAI_API_KEY)",
                file=file,
                key="api_key",
            )
        cfg = from_mapping(cls, d, file=file)  # unknown keys and wrong types
        check_llm_values(d, file=file)  # ranges and meanings
        return cfg

    @classmethod
    def from_run_settings(cls, d: dict[str, Any], *, file: str | None = None) -> LLMConfig:
        """The ``llm:`` section of a `viddiff run` config (``proposer_model`` etc.) as an LLM config.

        This is what makes one config file serve every command that calls a model.
        """
        d = dict(d)
        models = d.get("models") or {}
        if isinstance(models, dict):
            models = dict(models)
            for role in ("proposer", "differencer", "lmm"):
                name = d.pop(f"{role}_model", None)
                if name is not None:
                    models.setdefault(role, name)
            if models:
                d["models"] = models
        return cls.from_dict(d, file=file)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping of the settings (it never contains the key, only the variable's name)."""
        return asdict(self)

    def model_for(self, role: str, default: str | None = None) -> str:
        """The model name configured for ``role`` (else ``models.default``, else ``default``)."""
        name = self.models.get(role) or self.models.get("default") or default
        if not name:
            raise ToolkitError(
                f"no model configured for role {role!r}; set models.{role} in the LLM config or pass --model",
                key=f"models.{role}",
            )
        return name


def check_llm_values(d: dict[str, Any], *, file: str | None = None, prefix: str = "") -> None:
    """Check every LLM setting's type and range in one place (the run config's ``llm:`` section too).

    Raises a one-line :class:`ToolkitError` naming the file and the key for the first bad value.
    """

    def bad(key: str, msg: str) -> None:
        raise ToolkitError(msg, file=file, key=prefix + key)

    def is_num(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    so = d.get("structured_output", "auto")
    if so not in STRUCTURED_OUTPUT_CHOICES:
        bad("structured_output", f"must be {', '.join(STRUCTURED_OUTPUT_CHOICES[:-1])} or none, got {so!r}")
    prices = d.get("prices")
    if prices is not None:
        if not isinstance(prices, dict):
            bad(
                "prices",
                "expected a mapping {model: {prompt: $/1M tokens, completion: $/1M tokens}}, "
                f"got {type(prices).__name__}",
            )
        for model, p in prices.items():
            if (
                not isinstance(p, dict)
                or not p
                or set(p) - {"prompt", "completion"}
                or not all(is_num(v) and v >= 0 for v in p.values())
            ):
                bad(
                    f"prices.{model}", f"expected {{prompt: $/1M tokens, completion: $/1M tokens}}, got {p!r}"
                )
    models = d.get("models")
    if models is not None:
        if not isinstance(models, dict):
            bad("models", f"expected a mapping {{role: model name}}, got {type(models).__name__}")
        for role, name in models.items():
            if not isinstance(name, str) or not name.strip():
                bad(f"models.{role}", f"expected a model name, got {name!r}")
    for k in ("max_invalid_retries", "max_retries"):
        if k in d and (not isinstance(d[k], int) or isinstance(d[k], bool) or d[k] < 0):
            bad(k, f"must be a non-negative integer, got {d[k]!r}")
    for k in ("max_concurrency", "images_per_request"):
        if k in d and (not isinstance(d[k], int) or isinstance(d[k], bool) or d[k] < 1):
            bad(k, f"must be an integer >= 1, got {d[k]!r}")
    for k in ("max_tokens", "max_tokens_retry"):
        v = d.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            bad(k, f"must be a positive integer (or null for the server's default), got {v!r}")
    t = d.get("temperature")
    if t is not None and (not is_num(t) or not 0 <= t <= 2):
        bad("temperature", f"must be a number from 0 to 2 (or null), got {t!r}")
    for k in ("max_cost", "backoff_initial_s", "backoff_max_s"):
        v = d.get(k)
        if v is not None and (not is_num(v) or v < 0):
            bad(k, f"must be a non-negative number, got {v!r}")
    v = d.get("timeout_s")
    if v is not None and (not is_num(v) or v <= 0):
        bad("timeout_s", f"must be a positive number of seconds, got {v!r}")
    for k in ("base_url", "api_key_env", "cache_path", "image_detail"):
        v = d.get(k)
        if v is not None and not isinstance(v, str):
            bad(k, f"expected a string, got {type(v).__name__}")
    if d.get("image_format", "png") not in ("png", "jpeg"):
        bad("image_format", f"must be png or jpeg, got {d.get('image_format')!r}")


def default_cache_dir() -> Path:
    """The cache folder every command shares: ``$VIDDIFF_CACHE_DIR``, else ``$XDG_CACHE_HOME/viddiff-toolkit``,
    else ``~/.cache/viddiff-toolkit``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "viddiff-toolkit"


def resolve_cache_path(
    cfg: LLMConfig, cache_dir: str | os.PathLike | None = None, no_cache: bool = False
) -> str | None:
    """Where ``cfg``'s answers are cached: ``--no-cache`` none, ``--cache-dir``, the config's
    ``cache_path``, else the shared user cache ``default_cache_dir()/llm.sqlite``."""
    if no_cache:
        return None
    if cache_dir:
        return str(Path(cache_dir) / "llm.sqlite")
    return cfg.cache_path or str(default_cache_dir() / "llm.sqlite")


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
    return (
        "\n\nReply with only a JSON object (no prose, no code fences) that matches this JSON Schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )


def parse_json_answer(content: str) -> Any:
    """Parse a model's JSON answer, tolerating code fences and prose around one JSON object."""
    text = (content or "").strip()
    fence = re.match(r"^```(?:json|JSON)?\s*(.*?)\s*```$", text, re.DOTALL)
    if fence:
        text = fence.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(text[start : end + 1])
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


_IMAGE_RE = re.compile(
    r"image|vision|mmproj|multimodal|multi-modal|can only concatenate str \(not \"list\"\)", re.IGNORECASE
)
_MODEL_RE = re.compile(
    r"\bmodel\b[^.]{0,80}\b(not found|does not exist|unknown|not served|not available|not loaded)"
    r"|unknown model|no such model|model_not_found",
    re.IGNORECASE,
)
_FORMAT_RE = re.compile(
    r"response_format|json_schema|json schema|structured output|validation error|"
    r"unsupported (field|parameter|value)|extra (fields|inputs) not permitted|"
    r"unrecognized request argument",
    re.IGNORECASE,
)
_HINTS = {
    "image": "this endpoint does not accept images: serve a vision model (llama.cpp: pass --mmproj) or use a "
    "text-only method",
    "format": "this server refuses the structured-output request; use structured_output: auto (json_schema, then "
    "json_object with the schema, then the schema in the prompt) or set one that it accepts",
    "model": "the server does not serve this model; set models.<role> (or --model) to a model it lists at "
    "GET /v1/models",
    "request": "the server refused the request as sent; retrying cannot change that",
}


def _refusal_kind(exc: BaseException, n_images: int) -> str | None:
    """Why a server error will not change on retry (image / model / format / request), else None."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code in (401, 403, 408, 409, 429):
        return None
    msg = _error_message(exc)
    if n_images and _IMAGE_RE.search(msg):
        return "image"
    if _MODEL_RE.search(msg):
        return "model"
    if _FORMAT_RE.search(msg):
        return "format"
    if 400 <= exc.status_code < 500:
        return "request"
    return None


def _is_transient(exc: BaseException, n_images: int = 0) -> bool:
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        if _refusal_kind(exc, n_images) is not None:
            return False
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


class _Refused(Exception):
    """A server refusal that retrying will not change (internal: turned into an :class:`LLMError`)."""

    def __init__(self, kind: str, status: int, message: str):
        super().__init__(message)
        self.kind, self.status, self.message = kind, status, message


@dataclass
class _Reply:
    content: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    model: str | None


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
        if self.config.structured_output not in STRUCTURED_OUTPUT_CHOICES:
            raise ToolkitError(f"must be {', '.join(STRUCTURED_OUTPUT_CHOICES)}", key="structured_output")
        self.cache = SQLiteCache(self.config.cache_path) if self.config.cache_path else None
        self._usage = Usage()
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._completion_seen: list[int] = []
        self._client: openai.OpenAI | None = None
        self._key_locks: dict[str, threading.Lock] = {}
        self._failed: dict[str, BaseException] = {}  # request key -> the failure its in-flight twins share
        self._memo: dict[str, dict[str, Any]] = {}  # answers of this client when there is no cache
        self._modes: dict[str, tuple[str, bool]] = {}  # endpoint|model -> (mode, confirmed by a valid answer)
        self._images_ok: set[str] = set()
        self._served: list[str] | bool | None = False  # False: not asked yet
        self._substituted: dict[str, str] = {}
        self.reported_models: dict[str, str] = {}  # model asked for -> model the server says answered

    # -- public -------------------------------------------------------------------------------
    @property
    def usage(self) -> Usage:
        """Calls, cache hits, tokens and cost per stage since this client was made."""
        return self._usage

    @property
    def base_url(self) -> str | None:
        """The endpoint: config, else ``OPENAI_BASE_URL``, else the openai package default."""
        return self.config.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def endpoint_report(self) -> dict[str, Any]:
        """What was learnt about the endpoint: structured-output mode per model, the models the server
        reported, and default model names replaced by the served one (for usage.json and results)."""
        with self._lock:
            modes = {k.split("|", 1)[1]: m for k, (m, _) in sorted(self._modes.items())}
            return {
                "base_url": self.base_url,
                "structured_output": modes,
                "served_models": dict(sorted(self.reported_models.items())),
                "default_model_replaced": dict(sorted(self._substituted.items())),
            }

    def request_key(self, req: LLMRequest) -> str:
        """sha256 of the canonical request (model, system, prompt, image hashes, schema, sampling)."""
        return self._prepare(self._resolved(req)).key

    def complete(self, req: LLMRequest) -> dict[str, Any]:
        """Return the validated JSON answer to ``req`` (from the cache when it is there).

        Identical requests in flight at once (threads) make one call: the others wait, then take its
        answer, or its failure (they are not sent again).
        """
        req = self._resolved(req)
        prep = self._prepare(req)
        hit = self._cached(req, prep)
        if hit is not None:
            return hit
        with self._lock:
            key_lock = self._key_locks.setdefault(prep.key, threading.Lock())
        with key_lock:
            failed = self._failed.get(prep.key)
            if failed is not None:
                raise failed
            hit = self._cached(req, prep)
            if hit is not None:
                return hit
            try:
                answer = self._complete_uncached(req, prep)
            except (LLMError, BudgetExceeded) as e:
                self._failed[prep.key] = e
                raise
            if self.cache is None:
                self._memo[prep.key] = answer
            return answer

    def _cached(self, req: LLMRequest, prep: _Prepared) -> dict[str, Any] | None:
        hit = self.cache.get(prep.key) if self.cache is not None else self._memo.get(prep.key)
        if hit is not None and not schema_errors(req.schema, hit):
            self._usage.record(req.stage, cache_hits=1)
            log.debug("cache hit %s %s", req.stage, prep.key[:16])
            return hit
        return None

    # -- structured-output mode per endpoint + model -----------------------------------------
    def _mode_key(self, model: str) -> str:
        return f"{self.base_url or 'default'}|{model}"

    def _mode(self, model: str) -> tuple[str, bool]:
        if self.config.structured_output != "auto":
            return self.config.structured_output, True
        mk = self._mode_key(model)
        with self._lock:
            known = self._modes.get(mk)
        if known is None and self.cache is not None:
            stored = self.cache.get_mode(self.base_url or "default", model)
            if stored in AUTO_ORDER:
                known = (stored, True)
                log.info(
                    "structured output for %s at %s: %s (remembered)",
                    model,
                    self.base_url or "default",
                    stored,
                )
        known = known or (AUTO_ORDER[0], False)
        with self._lock:
            self._modes.setdefault(mk, known)
            return self._modes[mk]

    def _set_mode(self, model: str, mode: str, confirmed: bool, why: str = "") -> None:
        mk = self._mode_key(model)
        with self._lock:
            before = self._modes.get(mk)
            self._modes[mk] = (mode, confirmed)
        if why:
            log.warning(
                "%s at %s: %s; structured output falls back to %s",
                model,
                self.base_url or "default",
                redact(why),
                mode,
            )
        if confirmed and before != (mode, True) and self.cache is not None:
            self.cache.put_mode(self.base_url or "default", model, mode)

    # -- model names --------------------------------------------------------------------------
    def served_models(self) -> list[str] | None:
        """The model ids ``GET /v1/models`` lists (None when the endpoint does not answer it)."""
        with self._lock:
            if self._served is not False:
                return self._served  # type: ignore[return-value]
        try:
            served: list[str] | None = sorted(m.id for m in self._openai().models.list())
        except (openai.APIError, ValueError, TypeError, AttributeError) as e:
            log.info(
                "GET /v1/models at %s failed (%s); model names are sent as configured",
                self.base_url,
                type(e).__name__,
            )
            served = None
        with self._lock:
            self._served = served
        return served

    def _resolved(self, req: LLMRequest) -> LLMRequest:
        """``req`` with a built-in default model name replaced by the one model a custom endpoint serves."""
        url = self.base_url
        if req.model not in BUILTIN_MODELS or not url or "api.openai.com" in url:
            return req
        with self._lock:
            sub = self._substituted.get(req.model)
        if sub is None:
            served = self.served_models()
            if not served or req.model in served:
                return req
            if len(served) > 1:
                raise ToolkitError(
                    f"no model is configured for {url}, which serves {len(served)} models: "
                    f"{', '.join(served)}; name one in the LLM config's models (or --model)",
                    key=f"stage {req.stage}",
                )
            sub = served[0]
            log.warning(
                "no model configured: using %s, the one model %s serves (instead of %s)", sub, url, req.model
            )
            with self._lock:
                self._substituted[req.model] = sub
        return replace(req, model=sub)

    # -- one request, all its attempts ---------------------------------------------------------
    def _complete_uncached(self, req: LLMRequest, prep: _Prepared) -> dict[str, Any]:
        where = f"stage {req.stage}, request {prep.key[:16]}"
        cfg = self.config
        messages = list(prep.messages)
        attempts = 1 + max(0, cfg.max_invalid_retries)
        invalid = 0
        max_tokens = prep.max_tokens
        longer_tried = False
        problem = ""
        mode, confirmed = self._mode(req.model)
        while True:
            try:
                reply = self._call_budgeted(req, prep, messages, where, mode, max_tokens)
            except _Refused as r:
                nxt = self._next_mode(mode)
                if r.kind == "format" and cfg.structured_output == "auto" and nxt and not confirmed:
                    self._set_mode(req.model, nxt, False, f"HTTP {r.status} refused {mode}: {r.message}")
                    mode = nxt
                    continue
                raise LLMError(
                    f"HTTP {r.status} from {self.base_url or 'default endpoint'} (not retried; "
                    f"structured_output {mode}): {r.message} -- {_HINTS[r.kind]}",
                    key=where,
                ) from None
            if reply.finish_reason == "length":
                limit = f"max_tokens={max_tokens}" if max_tokens else "the server's default output limit"
                if cfg.max_tokens_retry and not longer_tried and (max_tokens or 0) < cfg.max_tokens_retry:
                    longer_tried = True
                    log.info(
                        "%s: the answer was cut off at %s; asking once more with max_tokens=%d",
                        where,
                        limit,
                        cfg.max_tokens_retry,
                    )
                    max_tokens = cfg.max_tokens_retry
                    continue
                more = "" if longer_tried else " or set max_tokens_retry to a larger limit"
                raise LLMError(
                    f"the answer was cut off: it hit {limit} (finish_reason: length) after "
                    f"{reply.completion_tokens} tokens; raise max_tokens{more}",
                    key=where,
                )
            if prep.n_images:
                self._verify_images(req, prep, messages, reply, where, mode)
            try:
                answer = parse_json_answer(reply.content)
                errs = (
                    ["$: the answer must be a JSON object"]
                    if not isinstance(answer, dict)
                    else schema_errors(req.schema, answer)
                )
                if errs:
                    raise ValueError(
                        "; ".join(errs[:3]) + (f" (and {len(errs) - 3} more)" if len(errs) > 3 else "")
                    )
            except ValueError as e:
                problem = str(e)
                nxt = self._next_mode(mode)
                not_json = problem.startswith(("not valid JSON", "$: the answer must be"))
                if (
                    cfg.structured_output == "auto"
                    and nxt
                    and not confirmed
                    and (mode == "json_schema" or not_json)
                ):
                    # HTTP 200 but not what response_format asked for: the server ignored it
                    self._set_mode(
                        req.model, nxt, False, f"answer in {mode} mode did not follow the schema ({problem})"
                    )
                    mode = nxt
                    continue
                invalid += 1
                log.info("%s: invalid answer (attempt %d of %d): %s", where, invalid, attempts, problem)
                if invalid >= attempts:
                    break
                messages = list(prep.messages) + [
                    {"role": "assistant", "content": reply.content[:4000]},
                    {
                        "role": "user",
                        "content": f"That answer was invalid: {problem}. Reply again with only a JSON "
                        f"object that matches the schema.",
                    },
                ]
                continue
            if not confirmed:
                self._set_mode(req.model, mode, True)
                confirmed = True
            with self._lock:  # a fixed mode is recorded too (usage.json, results)
                self._modes.setdefault(self._mode_key(req.model), (mode, True))
            if reply.model:
                with self._lock:
                    self.reported_models[req.model] = reply.model
            if self.cache is not None:
                self.cache.put(
                    prep.key,
                    answer,
                    stage=req.stage,
                    model=reply.model or req.model,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                )
            return answer
        raise LLMError(
            f"invalid answer after {attempts} attempts (structured_output {mode}): {problem}", key=where
        )

    def _next_mode(self, mode: str) -> str | None:
        i = AUTO_ORDER.index(mode) if mode in AUTO_ORDER else len(AUTO_ORDER)
        return AUTO_ORDER[i + 1] if i + 1 < len(AUTO_ORDER) else None

    def _verify_images(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        reply: _Reply,
        where: str,
        mode: str,
    ) -> None:
        """Fail when the server's prompt token count shows the images were not read.

        A count that leaves less than ``MIN_IMAGE_TOKENS`` per image above a generous text-only estimate is
        checked once per endpoint + model against the same request without its images.
        """
        mk = self._mode_key(req.model)
        if mk in self._images_ok or reply.prompt_tokens <= 0:
            return
        chars = sum(
            len(m["content"])
            if isinstance(m["content"], str)
            else sum(len(p.get("text", "")) for p in m["content"])
            for m in messages
        )
        if reply.prompt_tokens > chars / 2.5 + MIN_IMAGE_TOKENS * prep.n_images:
            self._images_ok.add(mk)
            return
        text_only = [
            m
            if isinstance(m["content"], str)
            else {
                **m,
                "content": "\n".join(p.get("text", "") for p in m["content"] if p.get("type") == "text"),
            }
            for m in messages
        ]
        probe = self._call(req, prep, text_only, where + " (image check)", mode, 1)
        if (
            probe.prompt_tokens
            and reply.prompt_tokens - probe.prompt_tokens < MIN_IMAGE_TOKENS * prep.n_images
        ):
            raise LLMError(
                f"the endpoint did not read the {prep.n_images} image(s): the request counted "
                f"{reply.prompt_tokens} prompt tokens, the same text without images "
                f"{probe.prompt_tokens} -- this endpoint does not accept images (transformers serve "
                f"drops them): serve a vision model or use a text-only method",
                key=where,
            )
        self._images_ok.add(mk)

    def complete_many(
        self, reqs: Sequence[LLMRequest], *, progress: str | None = None
    ) -> list[dict[str, Any]]:
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
                    log.info(
                        "%s is not set; calling %s without an API key",
                        self.config.api_key_env,
                        self.base_url or "the default endpoint",
                    )
                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=key or "no-key",
                    timeout=self.config.timeout_s,
                    max_retries=0,
                )
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
            "model": req.model,
            "system": req.system,
            "prompt": req.prompt,
            "images": hashes,
            "schema": req.schema,
            "schema_name": req.schema_name,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": max_tokens,
        }
        if req.top_p is not None:  # only when set, so existing cache keys stay valid
            canonical["top_p"] = req.top_p
        key = hashlib.sha256(
            json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        text = (
            req.prompt
            if cfg.structured_output == "json_schema"
            else req.prompt + _schema_instruction(req.schema)
        )
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

    def _estimate(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        mode: str,
        max_tokens: int | None,
    ) -> float:
        chars = 0
        for m in messages:
            c = m["content"]
            chars += len(c) if isinstance(c, str) else sum(len(p.get("text", "")) for p in c)
        if mode != "none":
            chars += len(json.dumps(req.schema))
        pt = chars // 4 + IMAGE_TOKENS_ESTIMATE * prep.n_images
        with self._lock:
            seen = list(self._completion_seen)
        ct = max_tokens or (int(np.mean(seen)) if seen else DEFAULT_COMPLETION_ESTIMATE)
        return self._cost(req.model, pt, ct)

    def _call_budgeted(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        where: str,
        mode: str,
        max_tokens: int | None,
    ) -> _Reply:
        max_cost = self.config.max_cost
        estimate = 0.0
        if max_cost is not None:
            if not self._price(req.model):
                raise BudgetExceeded(
                    f"max_cost is set but prices has no entry for model {req.model!r}, so the "
                    f"budget cannot be checked",
                    key="prices",
                )
            estimate = self._estimate(req, prep, messages, mode, max_tokens)
            with self._lock:
                spent = self._usage.cost
                if spent + self._reserved + estimate > max_cost:
                    raise BudgetExceeded(
                        f"stopped before this call: spent {spent:.4f} + in flight {self._reserved:.4f} + estimated "
                        f"{estimate:.4f} would exceed max_cost {max_cost:g}; valid answers so far are cached, "
                        f"rerun with a higher --max-cost to continue",
                        key=where,
                    )
                self._reserved += estimate
        try:
            return self._call(req, prep, messages, where, mode, max_tokens)
        finally:
            if max_cost is not None:
                with self._lock:
                    self._reserved -= estimate

    def _call(
        self,
        req: LLMRequest,
        prep: _Prepared,
        messages: list[dict[str, Any]],
        where: str,
        mode: str,
        max_tokens: int | None,
    ) -> _Reply:
        cfg = self.config
        kwargs: dict[str, Any] = {"model": req.model, "messages": messages}
        if prep.temperature is not None:
            kwargs["temperature"] = prep.temperature
        if prep.seed is not None:
            kwargs["seed"] = prep.seed
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if prep.top_p is not None:
            kwargs["top_p"] = prep.top_p
        if mode == "json_schema":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", req.schema_name)[:64] or "answer"
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": req.schema, "strict": cfg.strict_schema},
            }
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
            if cfg.json_object_schema or cfg.structured_output == "auto":
                kwargs["response_format"]["schema"] = req.schema
        client = self._openai()
        retrying = Retrying(
            stop=stop_after_attempt(1 + max(0, cfg.max_retries)),
            wait=_BackoffWait(cfg.backoff_initial_s, cfg.backoff_max_s),
            retry=retry_if_exception(lambda e: _is_transient(e, prep.n_images)),
            reraise=True,
            before_sleep=lambda rs: log.info(
                "%s: %s; retrying (attempt %d)",
                where,
                type(rs.outcome.exception()).__name__,
                rs.attempt_number + 1,
            ),
        )
        try:
            resp = retrying(client.chat.completions.create, **kwargs)
        except openai.AuthenticationError as e:
            raise LLMError(
                f"HTTP {e.status_code} authentication failed at {self.base_url or 'default endpoint'}: "
                f"{_error_message(e)} -- check the environment variable {cfg.api_key_env}",
                key=where,
            ) from None
        except openai.APIStatusError as e:
            kind = _refusal_kind(e, prep.n_images)
            if kind is not None:
                raise _Refused(kind, e.status_code, _error_message(e)) from None
            raise LLMError(
                f"HTTP {e.status_code} from {self.base_url or 'default endpoint'} after "
                f"{1 + cfg.max_retries} attempts: {_error_message(e)}",
                key=where,
            ) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            raise LLMError(
                f"{type(e).__name__} reaching {self.base_url or 'default endpoint'} after "
                f"{1 + cfg.max_retries} attempts",
                key=where,
            ) from None
        usage = getattr(resp, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        self._usage.record(
            req.stage, calls=1, prompt_tokens=pt, completion_tokens=ct, cost=self._cost(req.model, pt, ct)
        )
        with self._lock:
            self._completion_seen.append(ct)
        choices = getattr(resp, "choices", None) or []
        first = choices[0] if choices else None
        content = (first.message.content if first is not None and first.message else None) or ""
        return _Reply(
            content, pt, ct, getattr(first, "finish_reason", None), getattr(resp, "model", None) or None
        )


def _error_message(e: openai.APIStatusError) -> str:
    """The server's whole error message on one line (secrets redacted), capped at 1500 characters."""
    body = getattr(e, "body", None)
    text = None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if inner.get("message"):
            text = str(inner["message"])
        elif isinstance(body.get("detail"), (str, list)):
            text = json.dumps(body["detail"]) if isinstance(body["detail"], list) else body["detail"]
    elif isinstance(body, str) and body.strip():
        text = body
    text = " | ".join(line.strip() for line in (text or str(e)).splitlines() if line.strip())
    return redact(text)[:1500]


def load_llm_config(path: str | os.PathLike | None, **overrides: Any) -> LLMConfig:
    """Read an LLM YAML config (or defaults when ``path`` is None) and apply non-None ``overrides``.

    The file is either the LLM settings themselves or any config with an ``llm:`` section (a `viddiff run`
    config included: its ``proposer_model`` etc. become ``models``), so one file serves every command.
    """
    from schemas.io import read_yaml

    data = read_yaml(path) if path else {}
    file = str(path) if path else None
    if data is not None and not isinstance(data, dict):
        raise ToolkitError("expected a mapping of LLM settings", file=file)
    data = data or {}
    if "llm" in data:
        if not isinstance(data["llm"], dict):
            raise ToolkitError("expected a mapping of LLM settings", file=file, key="llm")
        cfg = LLMConfig.from_run_settings(data["llm"], file=file)
    else:
        cfg = LLMConfig.from_run_settings(data, file=file)
    given = {k: v for k, v in overrides.items() if v is not None}
    check_llm_values(given, file=None)
    for k, v in given.items():
        setattr(cfg, k, v)
    return cfg


__all__ = [
    "BudgetExceeded",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "LLMRequest",
    "check_llm_values",
    "default_cache_dir",
    "encode_image",
    "load_llm_config",
    "parse_json_answer",
    "resolve_cache_path",
    "schema_errors",
]
