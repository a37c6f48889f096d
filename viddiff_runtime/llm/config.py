"""The LLM settings every command that calls a model shares: :class:`LLMConfig`, the checks of their values,
loading them from a config file, and where the answers are cached."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from schemas.errors import ToolkitError
from schemas.settings import from_mapping

StructuredOutput = Literal["auto", "json_schema", "json_object", "none"]
STRUCTURED_OUTPUT_CHOICES = ("auto", "json_schema", "json_object", "none")
#: Environment variable naming the shared cache folder (default: ``$XDG_CACHE_HOME/viddiff-toolkit``).
CACHE_DIR_ENV = "VIDDIFF_CACHE_DIR"


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
        check_llm_values(d, file=file)  # first: its messages say what a value means ("a number from 0 to 2")
        return from_mapping(cls, d, file=file)  # unknown keys, and the types no check above covers

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
    "CACHE_DIR_ENV",
    "STRUCTURED_OUTPUT_CHOICES",
    "LLMConfig",
    "StructuredOutput",
    "check_llm_values",
    "default_cache_dir",
    "load_llm_config",
    "resolve_cache_path",
]
