"""Stage 1, the proposer: differences (open mode), the stage transcript, and stage links.

Three structured LLM calls, each validated against a JSON Schema by the client:
1. open mode only: up to N candidate differences {name, description, query_string, num_frames};
2. the stage transcript: ordered stages, each with single-frame "retrieval strings" for CLIP;
3. links: for each stage, the differences and keypoints visible in it.

Answers that are schema-valid but odd are repaired and every repair is reported in
``Proposal.repairs``: misspelt stage/difference/keypoint names are fuzzy-matched (rapidfuzz) or
dropped, an empty transcript becomes one whole-clip stage, a stage without strings gets its own name
and description, an unlinked difference falls back to its keypoints' stages and otherwise to the whole
clip, and an unlinked keypoint to its taxonomy stage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from schemas.dataset_dir import row_sample_hash
from viddiff_method.config import RunConfig
from viddiff_method.stages.llm_calls import complete_all
from viddiff_runtime.llm.client import LLMClient
from viddiff_runtime.llm.request import LLMRequest

NUM_FRAMES = ("1", "gt_1")


@dataclass
class Stage:
    """One sub-action, in temporal order, with the captions CLIP retrieves it by."""

    name: str
    description: str = ""
    retrieval_strings: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # difference keys
    keypoints: list[str] = field(default_factory=list)  # keypoint ids (loc_id)


@dataclass
class Proposal:
    """What the proposer decided for one action (or one sample): stages, differences and their links."""

    action: str
    action_description: str
    stages: list[Stage]
    differences: dict[str, dict[str, Any]]
    keypoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    n_open: int = 0  # open mode: how many differences were asked for

    def stages_of(self, diff_key: str) -> list[int]:
        """Indices of the stages a difference is linked to (empty: linked to nothing)."""
        return [i for i, s in enumerate(self.stages) if diff_key in s.differences]

    def stage_of_keypoint(self, kp: str) -> int | None:
        """Index of the (first) stage a keypoint is linked to."""
        for i, s in enumerate(self.stages):
            if kp in s.keypoints:
                return i
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as saved in ``RUN_DIR/proposals/``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Proposal:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["stages"] = [Stage(**s) for s in d.get("stages", [])]
        return cls(**d)


# ------------------------------------------------------------------------------------------- schemas


def differences_schema() -> dict[str, Any]:
    """Answer of call 1: a list of differences (the prompt asks for at most N; extra ones are cut after)."""
    item = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "description", "query_string", "num_frames"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "query_string": {"type": "string"},
            "num_frames": {"type": "string", "enum": list(NUM_FRAMES)},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["differences"],
        "properties": {"differences": {"type": "array", "items": item}},
    }


def stages_schema() -> dict[str, Any]:
    """Answer of call 2: the stage transcript (stages beyond ``max_stages`` are cut after)."""
    item = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "description", "retrieval_strings"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "retrieval_strings": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["stages"],
        "properties": {"stages": {"type": "array", "items": item}},
    }


LINKS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["links"],
    "properties": {
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["stage", "differences", "keypoints"],
                "properties": {
                    "stage": {"type": "string"},
                    "differences": {"type": "array", "items": {"type": "string"}},
                    "keypoints": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

# ------------------------------------------------------------------------------------------- prompts


def differences_prompt(action_description: str, n: int) -> str:
    """Call 1 (open mode): propose visual, video-agnostic differences."""
    return (
        f'Two videos show a person performing this action: "{action_description}".\n'
        f"List up to {n} differences in how the action could be performed that are visible in a video, "
        "e.g. about body position, range of motion, speed or timing. For each give: a short 'name'; a "
        "'description' that is a statement about one video which is more true of one video than the other "
        "(do not mention 'video A' or 'video B'; e.g. 'the knees bend more'); a shorter 'query_string'; and "
        '\'num_frames\': "1" if one well-chosen frame per video is enough to judge it, "gt_1" if motion '
        "over several frames is needed (e.g. speed)."
    )


def stages_prompt(action_description: str, max_stages: int, n_strings: int) -> str:
    """Call 2: the stage transcript with single-frame retrieval strings."""
    return (
        f'A video shows a person performing this action: "{action_description}".\n'
        f"Split the action into at most {max_stages} stages in the order they happen. For each stage give a "
        f"short unique 'name', a 'description', and at least {n_strings} 'retrieval_strings': captions of a "
        "single frame of that stage that describe only pose and appearance (start them with 'A photo of'), "
        "that never name the action, and that would not also describe the other stages."
    )


def links_prompt(
    action_description: str,
    stages: list[Stage],
    differences: dict[str, dict[str, Any]],
    keypoints: dict[str, dict[str, Any]],
) -> str:
    """Call 3: which differences and keypoints are visible in which stage."""
    st = "\n".join(f"- {s.name}: {s.description}" for s in stages)
    df = "\n".join(f"- {d['name']}: {d['description']}" for d in differences.values())
    kp = "\n".join(f"- {k}: {v.get('description', '')}" for k, v in keypoints.items()) or "(none)"
    return (
        f'Action: "{action_description}".\nStages, in order:\n{st}\n\nDifferences (name: statement):\n{df}\n\n'
        f"Keypoints (name: moment):\n{kp}\n\n"
        "For every stage, list the names of the differences that can be judged from frames of that stage, and "
        "the names of the keypoints that happen in that stage. A difference may be visible in several stages; "
        "every difference should appear at least once and every keypoint exactly once. Use the names exactly "
        "as written above."
    )


# ------------------------------------------------------------------------------------------- proposer


def seed_for(cfg: RunConfig, sample: dict[str, Any] | None) -> int:
    """Seed of the proposer's calls: the base seed, plus the sample's hash (the same one publish writes)."""
    if sample is None:
        return cfg.seed
    return int(cfg.seed + row_sample_hash(sample)) % (2**31)


def _unique(name: str, taken: set[str]) -> str:
    base, k = name, 2
    while name in taken:
        name = f"{base} ({k})"
        k += 1
    return name


class Proposer:
    """Runs the proposer's LLM calls for one action (or sample) and repairs odd answers."""

    def __init__(self, client: LLMClient, cfg: RunConfig):
        self.client = client
        self.cfg = cfg
        self.errors: list[str] = []

    def _match(self, name: str, choices: dict[str, str]) -> str | None:
        """Key in ``choices`` ({key: display name}) whose name matches ``name`` exactly or fuzzily."""
        if not choices:
            return None
        norm = name.strip().lower()
        for k, v in choices.items():
            if v.strip().lower() == norm or k.strip().lower() == norm:
                return k
        best = process.extractOne(
            norm,
            {k: v.lower() for k, v in choices.items()},
            scorer=fuzz.WRatio,
            score_cutoff=self.cfg.proposer.fuzzy_threshold,
        )
        return best[2] if best else None

    def propose_differences(self, action_description: str, n: int, seed: int) -> dict[str, dict[str, Any]]:
        """Open mode: up to ``n`` differences keyed ``"0"``.. (extra answers are cut, published no-op fixed)."""
        req = LLMRequest(
            stage="proposer",
            model=self.cfg.llm.proposer_model,
            prompt=differences_prompt(action_description, n),
            schema=differences_schema(),
            schema_name="differences",
            seed=seed,
        )
        ans = complete_all(self.client, [req], self.errors)[0]
        out: dict[str, dict[str, Any]] = {}
        seen: set[str] = set()
        for d in (ans or {}).get("differences", [])[:n]:
            desc = d["description"].strip()
            if not desc or desc.lower() in seen:
                continue
            seen.add(desc.lower())
            out[str(len(out))] = {
                "name": d["name"].strip() or desc[:40],
                "description": desc,
                "query_string": d["query_string"].strip() or desc,
                "num_frames": d["num_frames"],
            }
        return out

    def propose(
        self,
        action: str,
        action_description: str,
        differences: dict[str, dict[str, Any]],
        keypoints: dict[str, dict[str, Any]],
        seed: int,
    ) -> Proposal:
        """Stage transcript and links for the given differences and keypoints."""
        cfg = self.cfg.proposer
        repairs: list[str] = []
        req = LLMRequest(
            stage="proposer",
            model=self.cfg.llm.proposer_model,
            prompt=stages_prompt(action_description, cfg.max_stages, cfg.n_retrieval_strings),
            schema=stages_schema(),
            schema_name="stages",
            seed=seed,
        )
        ans = complete_all(self.client, [req], self.errors)[0] or {"stages": []}
        stages: list[Stage] = []
        taken: set[str] = set()
        for s in ans.get("stages", [])[: cfg.max_stages]:
            name = s["name"].strip() or f"stage {len(stages) + 1}"
            if name in taken:
                repairs.append(f"duplicate stage name {name!r} renamed")
            name = _unique(name, taken)
            taken.add(name)
            strings = [t.strip() for t in s.get("retrieval_strings", []) if t.strip()]
            if not strings:
                strings = [f"A photo of {name}: {s.get('description', '')}".strip()]
                repairs.append(f"stage {name!r} had no retrieval strings; used its name and description")
            stages.append(Stage(name=name, description=s.get("description", ""), retrieval_strings=strings))
        if not stages:
            repairs.append("empty stage transcript; using one stage for the whole clip")
            stages = [
                Stage(
                    name="whole action",
                    description=action_description,
                    retrieval_strings=[f"A photo of a person: {action_description}"],
                )
            ]
        proposal = Proposal(action, action_description, stages, differences, keypoints, repairs)
        if len(stages) == 1:
            stages[0].differences = list(differences)
            stages[0].keypoints = list(keypoints)
        elif differences or keypoints:
            self._link(proposal, seed)
        self._fallbacks(proposal)
        return proposal

    def _link(self, p: Proposal, seed: int) -> None:
        req = LLMRequest(
            stage="proposer",
            model=self.cfg.llm.proposer_model,
            prompt=links_prompt(p.action_description, p.stages, p.differences, p.keypoints),
            schema=LINKS_SCHEMA,
            schema_name="links",
            seed=seed,
        )
        ans = complete_all(self.client, [req], self.errors)[0] or {"links": []}
        stage_names = {str(i): s.name for i, s in enumerate(p.stages)}
        diff_names = {k: d["name"] for k, d in p.differences.items()}
        kp_names = {k: v.get("name", k) for k, v in p.keypoints.items()}
        for link in ans.get("links", []):
            si = self._match(link["stage"], stage_names)
            if si is None:
                p.repairs.append(f"link to unknown stage {link['stage']!r} dropped")
                continue
            stage = p.stages[int(si)]
            if stage_names[si] != link["stage"]:
                p.repairs.append(f"stage name {link['stage']!r} matched to {stage.name!r}")
            for name in link.get("differences", []):
                k = self._match(name, diff_names)
                if k is None:
                    p.repairs.append(f"unknown difference {name!r} in stage {stage.name!r} dropped")
                    continue
                if diff_names[k] != name:
                    p.repairs.append(f"difference name {name!r} matched to {diff_names[k]!r}")
                if k not in stage.differences:
                    stage.differences.append(k)
            for name in link.get("keypoints", []):
                k = self._match(name, kp_names)
                if k is None:
                    p.repairs.append(f"unknown keypoint {name!r} in stage {stage.name!r} dropped")
                    continue
                if any(k in s.keypoints for s in p.stages):
                    continue  # a keypoint is one moment: keep its first stage
                stage.keypoints.append(k)

    def _fallbacks(self, p: Proposal) -> None:
        stage_names = {str(i): s.name for i, s in enumerate(p.stages)}
        for k, kp in p.keypoints.items():
            if p.stage_of_keypoint(k) is not None:
                continue
            hint = kp.get("stage")
            si = self._match(hint, stage_names) if hint else None
            if si is not None:
                p.stages[int(si)].keypoints.append(k)
                p.repairs.append(
                    f"keypoint {k!r} unlinked; used its taxonomy stage {p.stages[int(si)].name!r}"
                )
            else:
                p.repairs.append(f"keypoint {k!r} linked to no stage; it is placed at the middle of the clip")
        for k, d in p.differences.items():
            if p.stages_of(k):
                continue
            via = sorted({i for kp in d.get("keypoints") or [] if (i := p.stage_of_keypoint(kp)) is not None})
            if via:
                for i in via:
                    p.stages[i].differences.append(k)
                p.repairs.append(f"difference {k!r} unlinked; used the stages of its keypoints")
            else:
                p.repairs.append(f"difference {k!r} linked to no stage; its frames span the whole clip")
