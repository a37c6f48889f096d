"""The run configuration: every knob of `viddiff run`, typed, with the published defaults.

``configs/default.yaml`` documents the same values; a user YAML overrides any subset of it. Unknown
keys and bad values are one-line errors naming the file and the key, so a typo never silently falls
back to a default.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from schemas.errors import ToolkitError
from schemas.io import read_yaml
from schemas.settings import from_mapping

DEFAULT_YAML = Path(__file__).resolve().parent / "configs" / "default.yaml"


@dataclass
class LLMSettings:
    """Models per role and how to call the endpoint (passed on to the LLM client)."""

    proposer_model: str = "gpt-4o-mini-2024-07-18"
    differencer_model: str = "gpt-4o-2024-05-13"
    lmm_model: str = "gpt-4o-2024-08-06"
    structured_output: str = "auto"
    json_object_schema: bool = False
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float | None = 1.0
    max_tokens: int | None = 2048
    max_tokens_retry: int | None = None
    max_concurrency: int = 4
    max_invalid_retries: int = 2
    timeout_s: float = 120.0
    max_cost: float | None = None
    prices: dict[str, Any] = field(default_factory=dict)
    images_per_request: int = 250
    image_detail: str | None = "high"
    image_format: str = "png"
    # the rest of the LLM config every command reads (viddiff_runtime/llm/config.py LLMConfig)
    models: dict[str, Any] = field(default_factory=dict)
    max_retries: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    strict_schema: bool = False


@dataclass
class ClipSettings:
    """Which open_clip model embeds frames and retrieval strings, where and how."""

    model: str = "ViT-bigG-14"
    pretrained: str | None = "laion2b_s39b_b160k"
    device: str = "auto"
    batch_size: int = 100
    precision: str = "auto"


@dataclass
class ProposerSettings:
    """Stage transcript and (open mode) difference proposals."""

    per: str = "action"
    max_stages: int = 5
    n_retrieval_strings: int = 5
    filter_retrieval_strings: bool = True
    fuzzy_threshold: float = 80.0


@dataclass
class LocalizerSettings:
    """Viterbi segmentation and frame picking."""

    duration_prior: float = 0.0
    frames_per_difference: int = 3
    spacing_seconds: float = 0.35
    keypoint_position: str = "middle"


@dataclass
class DifferencerSettings:
    """How the VLM is asked about each difference."""

    options: str = "ab"
    differences_per_call: int = 1
    max_side: int | None = None


@dataclass
class LMMSettings:
    """The whole-video LMM baseline."""

    max_frames_per_video: int | None = None


def _default_fps() -> dict[str, float]:
    return {"fitness": 8, "ballsports": 5, "diving": 6, "music": 1, "surgery": 1}


@dataclass
class RunConfig:
    """Everything `viddiff run` needs besides the dataset, mode and method."""

    seed: int = 0
    llm: LLMSettings = field(default_factory=LLMSettings)
    clip: ClipSettings = field(default_factory=ClipSettings)
    fps: dict[str, float] = field(default_factory=_default_fps)
    fps_default: float = 4
    proposer: ProposerSettings = field(default_factory=ProposerSettings)
    localizer: LocalizerSettings = field(default_factory=LocalizerSettings)
    differencer: DifferencerSettings = field(default_factory=DifferencerSettings)
    lmm: LMMSettings = field(default_factory=LMMSettings)

    def fps_for(self, domain: str) -> float:
        """Decode rate of a domain (``fps_default`` for domains not listed)."""
        return float(self.fps.get(domain, self.fps_default))

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping, as written to ``RUN_DIR/config.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, file: str | None = None) -> RunConfig:
        """Build from a (partial) mapping; unknown keys and wrong types are :class:`ToolkitError`."""
        cfg = from_mapping(cls, data or {}, file=file)
        for role in (
            "proposer",
            "differencer",
            "lmm",
        ):  # models: {role: name} is the other commands' spelling
            name = cfg.llm.models.get(role) if isinstance(cfg.llm.models, dict) else None
            if isinstance(name, str) and name:
                setattr(cfg.llm, f"{role}_model", name)
        _check(cfg, file)
        return cfg

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> RunConfig:
        """Defaults overridden by the YAML at ``path`` (None: defaults only)."""
        if path is None:
            return cls()
        data = read_yaml(path)
        if data is not None and not isinstance(data, dict):
            raise ToolkitError("expected a mapping of settings", file=str(path))
        return cls.from_dict(data or {}, file=str(path))


def _check(cfg: RunConfig, file: str | None) -> None:
    def bad(key: str, msg: str):
        raise ToolkitError(msg, file=file, key=key)

    from viddiff_runtime.llm.config import check_llm_values  # the LLM settings' checks live with LLMConfig

    check_llm_values(asdict(cfg.llm), file=file, prefix="llm.")
    if not 1 <= cfg.llm.images_per_request <= 250:
        bad("llm.images_per_request", "must be between 1 and 250 (OpenAI refuses more than 250 images)")
    if cfg.clip.device not in ("auto", "cpu", "cuda") and not cfg.clip.device.startswith("cuda:"):
        bad("clip.device", "must be auto, cpu or cuda")
    if cfg.clip.precision not in ("auto", "fp32", "fp16", "bf16"):
        bad("clip.precision", "must be auto, fp32, fp16 or bf16")
    if cfg.clip.batch_size < 1:
        bad("clip.batch_size", "must be at least 1")
    for dom, f in cfg.fps.items():
        if not isinstance(f, (int, float)) or isinstance(f, bool) or f <= 0:
            bad(f"fps.{dom}", "must be a positive number")
    if cfg.fps_default <= 0:
        bad("fps_default", "must be positive")
    if cfg.proposer.per not in ("action", "sample"):
        bad("proposer.per", "must be action or sample")
    if cfg.proposer.max_stages < 1:
        bad("proposer.max_stages", "must be at least 1")
    if not 0 <= cfg.proposer.fuzzy_threshold <= 100:
        bad("proposer.fuzzy_threshold", "must be between 0 and 100")
    n = cfg.localizer.frames_per_difference
    if n < 1 or n % 2 == 0:
        bad("localizer.frames_per_difference", "must be an odd number >= 1 (frames are centred)")
    if cfg.localizer.spacing_seconds <= 0:
        bad("localizer.spacing_seconds", "must be positive")
    if cfg.localizer.duration_prior < 0:
        bad("localizer.duration_prior", "must be >= 0")
    if cfg.localizer.keypoint_position not in ("middle", "start", "end"):
        bad("localizer.keypoint_position", "must be middle, start or end")
    if cfg.differencer.options not in ("ab", "abc"):
        bad("differencer.options", "must be ab or abc")
    if cfg.differencer.differences_per_call < 1:
        bad("differencer.differences_per_call", "must be at least 1")
    if cfg.differencer.max_side is not None and cfg.differencer.max_side < 1:
        bad("differencer.max_side", "must be at least 1 pixel (null keeps the frames' size)")
    if cfg.seed < 0:
        bad("seed", "must be >= 0")
    if cfg.proposer.n_retrieval_strings < 1:
        bad("proposer.n_retrieval_strings", "must be at least 1 (each stage needs a retrieval string)")
    if cfg.llm.image_format not in ("png", "jpeg"):
        bad(
            "llm.image_format", "must be png or jpeg (the image formats every OpenAI-compatible server reads)"
        )
    if cfg.llm.image_detail not in (None, "low", "high", "auto"):
        bad("llm.image_detail", "must be low, high, auto or null")
    if cfg.lmm.max_frames_per_video is not None and cfg.lmm.max_frames_per_video < 1:
        bad("lmm.max_frames_per_video", "must be at least 1 (null: as many as llm.images_per_request allows)")
