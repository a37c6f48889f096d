"""Judge protocols as data: which prompts the open-set judge sends, how it reads the answers, how it samples.

A protocol is one versioned JSON file (``eval/protocols/<name>.json``, contract
``schemas/judge_protocol.schema.json``). Two ship with the toolkit:

* ``toolkit-v1``: the toolkit's own prompts (shipped in the file), sampling left to the LLM config.
* ``published-v1``: the published leaderboard's protocol (answer shapes, batch size, models and the
  official sampling settings: temperature 1, top_p 1, max_tokens 2048). Its prompt texts are **not**
  shipped; the file holds their sha256 and the user supplies the text with ``--judge-prompts``: the
  official ``eval_viddiff.py`` itself (the string constants are read with :mod:`ast`, nothing is run) or
  a JSON file ``{"match": TEXT, "opposite": TEXT}``.

Templates are filled by ``str.replace`` of the protocol's declared ``{placeholder}`` names only, so JSON
examples with braces inside a prompt stay as written. :func:`comparability` decides whether results may be
put beside the published leaderboard: the shipped published protocol, prompts whose sha256 match, the
published judge models and the published sampling settings.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import check
from schemas.errors import ToolkitError

PROTOCOL_DIR = Path(__file__).with_name("protocols")
DEFAULT_PROTOCOL = "toolkit-v1"
PUBLISHED_PROTOCOL = "published-v1"
CALLS = ("match", "opposite")


def sha256_text(text: str) -> str:
    """sha256 of ``text`` encoded as UTF-8 (how every prompt is identified in results)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def available_protocols() -> list[str]:
    """Names of the protocols shipped in ``eval/protocols``."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.json"))


@dataclass
class JudgeProtocol:
    """A loaded protocol; ``prompts`` holds the template text of each call once known."""

    spec: dict[str, Any]
    file: str
    shipped: bool
    prompts: dict[str, str | None] = field(default_factory=dict)
    prompts_file: str | None = None

    @property
    def name(self) -> str:
        """Protocol name, e.g. ``published-v1``."""
        return self.spec["name"]

    def call(self, which: str) -> dict[str, Any]:
        """The ``match`` or ``opposite`` section."""
        return self.spec[which]

    def prompt(self, which: str) -> str:
        """The template of ``which``; an error naming ``--judge-prompts`` when its text was not supplied."""
        text = self.prompts.get(which)
        if text is None:
            raise ToolkitError(
                f"judge protocol {self.name} does not ship the {which} prompt text; pass --judge-prompts with "
                "the official eval_viddiff.py (github.com/jmhb0/viddiff) or a JSON file {match, opposite}",
                file=self.file,
                key=f"{which}.prompt",
            )
        return text

    def render(self, which: str, values: dict[str, str]) -> str:
        """Fill the template of ``which``: each declared ``{name}`` becomes ``values[name]``."""
        text = self.prompt(which)
        for name in self.call(which)["placeholders"]:
            text = text.replace("{" + name + "}", values[name])
        return text

    def sampling(self, which: str) -> dict[str, Any]:
        """``temperature, top_p, max_tokens`` of ``which`` (None = the LLM client's own setting)."""
        return dict(self.call(which)["sampling"])

    def describe(self) -> dict[str, Any]:
        """What results record: name, version, file, every prompt (text and sha256), shapes and settings."""
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.spec["version"],
            "file": self.file,
            "shipped": self.shipped,
            "published": self.spec["published"],
            "prompts_file": self.prompts_file,
            "prompts_sha256": {c: sha256_text(t) if t is not None else None for c, t in self.prompts.items()},
        }
        for c in CALLS:
            call = {k: v for k, v in self.call(c).items() if k != "prompt"}
            call["prompt"] = self.prompts.get(c)
            out[c] = call
        return out


def load_protocol(name_or_path: str | Path | None = None) -> JudgeProtocol:
    """A shipped protocol by name (default ``toolkit-v1``), or a protocol file by path (schema-checked)."""
    ref = str(name_or_path or DEFAULT_PROTOCOL)
    shipped = PROTOCOL_DIR / f"{ref}.json"
    path = shipped if shipped.is_file() else Path(ref)
    if not path.is_file():
        raise ToolkitError(
            f"unknown judge protocol; shipped: {', '.join(available_protocols())} (or a path to a protocol file)",
            key="--judge-protocol",
            file=ref,
        )
    try:
        spec = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise ToolkitError(f"cannot read judge protocol: {e}", file=str(path)) from None
    check("judge_protocol", spec, file=str(path))
    home = (PROTOCOL_DIR / f"{spec['name']}.json").resolve()
    proto = JudgeProtocol(spec=spec, file=str(path), shipped=path.resolve() == home)
    proto.prompts = {c: spec[c].get("prompt") for c in CALLS}
    return proto


def _python_constants(path: Path) -> dict[str, str]:
    """String constants assigned at module level in a Python file (last assignment wins; nothing runs)."""
    try:
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as e:
        raise ToolkitError(f"cannot parse as Python: {e}", file=str(path)) from None
    out: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value.value
    return out


def read_prompt_file(path: str | Path, protocol: JudgeProtocol) -> dict[str, str]:
    """The templates in ``path``: a JSON object ``{match, opposite}`` or a Python file with the constants
    the protocol names (``prompt_python_name``)."""
    path = Path(path)
    if not path.is_file():
        raise ToolkitError("judge prompts file not found", file=str(path), key="--judge-prompts")
    if path.suffix == ".py":
        consts = _python_constants(path)
        out = {}
        for c in CALLS:
            name = protocol.call(c).get("prompt_python_name")
            if name and name in consts:
                out[c] = consts[name]
        if not out:
            raise ToolkitError(
                "no judge prompt constants found (looked for "
                + ", ".join(str(protocol.call(c).get("prompt_python_name")) for c in CALLS)
                + ")",
                file=str(path),
                key="--judge-prompts",
            )
        return out
    try:
        obj = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise ToolkitError(
            f"cannot read judge prompts as JSON: {e}", file=str(path), key="--judge-prompts"
        ) from None
    if not isinstance(obj, dict) or not obj or set(obj) - set(CALLS):
        raise ToolkitError("expected a JSON object with keys match and/or opposite", file=str(path), key="$")
    for c, t in obj.items():
        if not isinstance(t, str) or not t.strip():
            raise ToolkitError("prompt must be a non-empty string", file=str(path), key=f"$.{c}")
    return obj


def with_prompts(protocol: JudgeProtocol, path: str | Path | None) -> JudgeProtocol:
    """A copy of ``protocol`` whose templates come from ``path`` where it has them (the rest unchanged).

    A template that lacks one of the protocol's placeholders is an error: it could not carry the sample.
    """
    out = copy.deepcopy(protocol)
    if path is None:
        return out
    for c, text in read_prompt_file(path, protocol).items():
        missing = [p for p in protocol.call(c)["placeholders"] if "{" + p + "}" not in text]
        if missing:
            raise ToolkitError(
                f"{c} prompt lacks the placeholder(s) {', '.join('{' + m + '}' for m in missing)} of protocol "
                f"{protocol.name}",
                file=str(path),
                key=c,
            )
        out.prompts[c] = text
    out.prompts_file = str(path)
    return out


def comparability(protocol: JudgeProtocol, models: dict[str, str]) -> tuple[bool, list[str]]:
    """Whether open results may be put beside the published leaderboard, and every reason they may not.

    True only for the shipped published protocol with prompts whose sha256 match it, the published judge
    models for both calls, and the published sampling settings.
    """
    reasons: list[str] = []
    if not (protocol.spec["published"] and protocol.shipped):
        reasons.append(f"judge protocol {protocol.name} is not the published one ({PUBLISHED_PROTOCOL})")
        return False, reasons
    shipped = load_protocol(protocol.name)
    for c in CALLS:
        call, text = protocol.call(c), protocol.prompts.get(c)
        want = shipped.call(c).get("prompt_sha256")
        if text is None:
            reasons.append(f"{c} prompt text not supplied")
        elif want and sha256_text(text) != want:
            reasons.append(
                f"{c} prompt sha256 {sha256_text(text)[:12]}... differs from the published {want[:12]}..."
            )
        if models.get(c) not in (call.get("published_models") or [call["model"]]):
            reasons.append(f"{c} model {models.get(c)!r} is not a published judge model")
        if call["sampling"] != shipped.call(c)["sampling"]:
            reasons.append(f"{c} sampling settings differ from the published ones")
    return not reasons, reasons
