"""The `curate build` config: load, validate, resolve paths, and a typed view of each action.

Relative paths resolve against the config file's folder. Errors name the file and the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.sources.registry import source_names
from schemas import check
from schemas.errors import ToolkitError
from schemas.io import read_yaml

DEFAULT_ENCODE = {"crf": 18, "preset": "veryfast", "max_height": None}


@dataclass
class ActionSpec:
    """One entry of ``actions:``: what to select, how to trim, the output fps and how to pair."""

    index: int
    key: str
    name: str
    description: str
    domain: str
    source: str
    select: dict[str, Any]
    split: str | None = None
    trim: dict[str, Any] = field(default_factory=lambda: {"by": "clip"})
    fps: float | None = None
    count: int = 1
    strategy: str = "random"
    distinct_participants: bool = True
    min_gap: float = 0.0
    pair_size: str = "smaller"

    @property
    def where(self) -> str:
        """The config key of this action, for error messages."""
        return f"actions[{self.index}]"


@dataclass
class BuildConfig:
    """A validated build config with paths resolved against the config's folder."""

    path: Path
    sha256: str
    name: str
    version: str | int | float
    seed: int
    output: Path | None
    sources: dict[str, dict[str, Any]]
    actions: list[ActionSpec]
    encode: dict[str, Any]
    raw: dict[str, Any]


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def load_build_config(path: str | Path) -> BuildConfig:
    """Read and validate a build config; a bad key is one line naming the file and the key."""
    path = Path(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ToolkitError("config must be a mapping", file=str(path))
    check("build_config", raw, file=str(path))
    base = path.resolve().parent
    sources = {}
    known = source_names()
    for name, block in raw["sources"].items():
        if name not in known:
            raise ToolkitError(
                f"unknown source {name!r}; known: {', '.join(known)}", file=str(path), key=f"sources.{name}"
            )
        block = dict(block)
        block["root"] = str(_resolve(base, block["root"]))
        sources[name] = block
    actions, seen = [], set()
    for i, a in enumerate(raw["actions"]):
        if a["key"] in seen:
            raise ToolkitError(f"duplicate action key {a['key']!r}", file=str(path), key=f"actions[{i}].key")
        seen.add(a["key"])
        if a["source"] not in known:
            raise ToolkitError(
                f"unknown source {a['source']!r}; known: {', '.join(known)}",
                file=str(path),
                key=f"actions[{i}].source",
            )
        if a["source"] not in sources:
            raise ToolkitError(
                f"source {a['source']!r} has no entry under sources:",
                file=str(path),
                key=f"actions[{i}].source",
            )
        trim = dict(a.get("trim") or {"by": "clip"})
        trim.setdefault("by", "clip")
        if trim["by"] == "subactions" and not ("first" in trim and "last" in trim):
            raise ToolkitError(
                "trim by subactions needs `first` and `last` labels", file=str(path), key=f"actions[{i}].trim"
            )
        if trim["by"] == "frames" and not ("start" in trim and "end" in trim):
            raise ToolkitError(
                "trim by frames needs `start` and `end`", file=str(path), key=f"actions[{i}].trim"
            )
        pairs = a["pairs"]
        actions.append(
            ActionSpec(
                index=i,
                key=a["key"],
                name=a["name"],
                description=a["description"],
                domain=a["domain"],
                source=a["source"],
                select=dict(a["select"]),
                split=a.get("split"),
                trim=trim,
                fps=a.get("fps"),
                count=pairs["count"],
                strategy=pairs.get("strategy", "random"),
                distinct_participants=pairs.get("distinct_participants", True),
                min_gap=pairs.get("min_gap", 0.0),
                pair_size=a.get("pair_size", "smaller"),
            )
        )
    encode = {**DEFAULT_ENCODE, **(raw.get("encode") or {})}
    output = _resolve(base, raw["output"]) if raw.get("output") else None
    return BuildConfig(
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        name=raw["name"],
        version=raw["version"],
        seed=int(raw.get("seed", 0)),
        output=output,
        sources=sources,
        actions=actions,
        encode=encode,
        raw=raw,
    )
