"""The data card: YAML header from ``huggingface_hub.DatasetCardData``, body from the Jinja2 template
shipped in ``data_cards/``, filled from the published rows and ``dataset.json``."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from huggingface_hub import DatasetCard, DatasetCardData

from curation.publish.rules import SplitBalance
from curation.publish.sources import VIDDIFF_CITATION, SourceInfo, source_infos, source_key
from curation.publish.stats import clip_seconds, dataset_stats, source_stats
from schemas.errors import ToolkitError
from schemas.io import read_json

TEMPLATE = "viddiff_dataset_card.md.j2"


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows."""
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return label
    return "n>1M"


@dataclass
class CardInputs:
    """Everything the card needs besides the rows: dataset.json, options and what publishing did."""

    meta: dict[str, Any]
    dataset_root: Path | None = None
    pretty_name: str | None = None
    license: str | None = None
    repo_id: str | None = None
    videos_mode: str = "folder"
    balance: list[SplitBalance] | None = None
    dropped_c_only: list[str] = field(default_factory=list)
    dropped_partial: list[str] = field(default_factory=list)


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(obj, float):
        return [(prefix, f"{obj:.3f}")]
    return [(prefix, obj)]


def agreement_lines(annotation: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """Every value under a key containing "agreement" (or alpha/kappa) in ``dataset.json`` ``annotation``."""
    found: list[tuple[str, Any]] = []

    def walk(obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            return
        for k, v in obj.items():
            sub = f"{path}.{k}" if path else str(k)
            if re.search(r"agree|alpha|kappa", str(k), re.I):
                found.extend(_flatten(v, sub))
            else:
                walk(v, sub)

    walk(annotation or {}, "")
    return found


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def agreement_table(root: Path | None) -> list[dict[str, str]]:
    """Rows of ``DATASET/annotation/agreement.json`` (``curate annotate agreement``): per action and overall."""
    path = root / "annotation" / "agreement.json" if root else None
    if path is None or not path.is_file():
        return []
    try:
        data = read_json(path)
    except ToolkitError:
        return []
    entries = sorted((data.get("actions") or {}).items())
    if data.get("overall"):
        entries.append(("all", data["overall"]))
    rows = []
    for name, entry in entries:
        lab, kp = entry.get("labels") or {}, entry.get("keypoints") or {}
        if not lab.get("items") and not kp.get("pairs"):
            continue
        rows.append(
            {
                "name": name,
                "items": str(lab.get("items", 0)),
                "percent": _fmt(lab.get("percent"), ".1f"),
                "kappa": _fmt(lab.get("cohen_kappa")),
                "alpha": _fmt(lab.get("krippendorff_alpha")),
                "kp_pairs": str(kp.get("pairs", 0)),
                "mean_abs_s": _fmt(kp.get("mean_abs_seconds"), ".2f"),
                "within": _fmt(kp.get("within_delta"), ".2f"),
                "delta": str(kp.get("delta_frames", data.get("delta_frames", ""))),
            }
        )
    return rows


def annotation_rounds(annotation: dict[str, Any]) -> list[str]:
    """One line per conversion round recorded by ``curate annotate convert`` in dataset.json."""
    lines = []
    for r in annotation.get("rounds") or []:
        if isinstance(r, dict):
            lines.append(
                f"{r.get('kind', '?')} round ({r.get('converted_at', 'date not recorded')}): "
                f"{r.get('annotated_tasks', '?')} tasks, {r.get('annotations', '?')} annotations, "
                f"{r.get('resolved', '?')} items resolved, {r.get('unresolved', '?')} unresolved"
                + (", with a reviewer" if r.get("reviewer") else "")
            )
    return lines


def pairing_lines(rows: list[dict[str, Any]]) -> list[str]:
    """How the pairs were chosen: count per strategy, and the mean contrast when one was recorded."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        info = r.get("pairing") or {}
        if info.get("strategy"):
            by.setdefault(info["strategy"], []).append(info)
    lines = []
    for name, infos in sorted(by.items()):
        gaps = [i["gap"] for i in infos if isinstance(i.get("gap"), (int, float))]
        extra = f" (mean contrast {sum(gaps) / len(gaps):.2f})" if gaps else ""
        lines.append(f"`{name}`: {len(infos)} pairs{extra}")
    return lines


def taxonomy_origins(root: Path | None, actions: list[str]) -> list[tuple[str, str]]:
    """Per action, how its taxonomy items were made (counts of the ``origin`` of active items)."""
    if root is None:
        return []
    out = []
    for action in actions:
        path = root / "taxonomies" / f"{action}.json"
        if not path.is_file():
            continue
        try:
            tax = read_json(path)
        except ToolkitError:
            continue
        diffs = (tax.get("differences") or {}).values() if isinstance(tax, dict) else []
        counts = Counter(
            d.get("origin") or "unrecorded"
            for d in diffs
            if isinstance(d, dict) and d.get("status", "active") == "active"
        )
        if counts:
            out.append((action, ", ".join(f"{n} from {o}" for o, n in counts.most_common())))
    return out


def source_notes(meta: dict[str, Any]) -> list[str]:
    """Card lines from ``dataset.json``: each source's assumptions and its clips dropped or adjusted per
    reason (written by ``curate build``), then each action's clips dropped per reason."""
    lines = [f"Assumption: {a}" for a in meta.get("assumptions") or []]
    for name, src in sorted((meta.get("sources") or {}).items()):
        if not isinstance(src, dict):
            continue
        for label, key in (
            ("dropped by the scan", "dropped"),
            ("kept but adjusted", "adjusted"),
            ("", "facts"),
        ):
            counts = src.get(key) or {}
            if counts:
                text = ", ".join(f"{k}: {v}" for k, v in counts.items())
                lines.append(f"`{name}` {label + ': ' if label else ''}{text}")
    for key, action in sorted((meta.get("actions") or {}).items()):
        if isinstance(action, dict) and action.get("dropped"):
            lines.append(
                f"`{key}` clips left out by its select or trim: "
                + ", ".join(f"{k}: {v}" for k, v in action["dropped"].items())
            )
    return lines


def card_data(rows: list[dict[str, Any]], inputs: CardInputs) -> DatasetCardData:
    """The YAML header: licence, name, tasks, ``configs``/``data_files``, size and source datasets."""
    publish = inputs.meta.get("publish") or {}
    license_id = inputs.license or publish.get("license") or "other"
    extra: dict[str, Any] = {}
    if license_id == "other":
        extra["license_name"] = publish.get("license_name") or "viddiff-source-licences"
        extra["license_link"] = publish.get("license_link") or "LICENSE_NOTES.md"
    infos = source_infos()
    sources = sorted(
        {
            infos[k].title if (k := source_key(r["source_dataset"])) in infos else r["source_dataset"]
            for r in rows
        }
    )
    return DatasetCardData(
        license=license_id,
        pretty_name=pretty_name(inputs),
        language=["en"],
        task_categories=["video-text-to-text", "visual-question-answering"],
        size_categories=size_category(len(rows)),
        source_datasets=[f"extended|{s}" for s in sources],
        tags=["video", "action-differencing", "viddiffbench", "fine-grained"],
        configs=[{"config_name": "default", "data_files": [{"split": "test", "path": "data/test-*"}]}],
        **extra,
    )


def pretty_name(inputs: CardInputs) -> str:
    """The card title: option, else ``dataset.json`` publish.pretty_name, else its name."""
    return inputs.pretty_name or (inputs.meta.get("publish") or {}).get("pretty_name") or inputs.meta["name"]


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        trim_blocks=False,
        lstrip_blocks=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["md"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    return env


def render_card(rows: list[dict[str, Any]], inputs: CardInputs) -> str:
    """The full README.md text (YAML header + Markdown body) for the published ``rows``."""
    actions, domains, total = dataset_stats(rows)
    data = card_data(rows, inputs)
    meta = inputs.meta
    annotation = meta.get("annotation") or {}
    per_source = source_stats(rows)
    sources = []
    infos = source_infos()
    for key, entry in per_source.items():
        info = infos.get(key) or SourceInfo(entry["name"], "see the source dataset's own terms", "", "", "")
        sources.append(
            {
                "title": info.title,
                "licence": info.licence,
                "link": info.link,
                "note": info.note,
                "citation": info.citation,
                "pairs": entry["pairs"],
                "actions": entry["actions"],
            }
        )
    seconds = [s for r in rows for v in r["videos"] if (s := clip_seconds(v)) is not None]
    summary = (meta.get("publish") or {}).get("description") or (
        f"{total.pairs} video pairs of {len(actions)} actions in {len(domains)} domain(s), "
        f"with {total.differences} labelled differences and {total.timestamps} key point timestamps, "
        f"built with the VidDiff Toolkit."
    )
    extra_limits = []
    if "egoexo4d" in per_source:
        extra_limits.append(
            "Ego-Exo4D forbids redistribution of its videos: share this dataset's Ego-Exo4D "
            "clips only with people who hold the Ego-Exo4D licence."
        )
    body = (
        _env()
        .from_string(resources.files("data_cards").joinpath(TEMPLATE).read_text("utf-8"))
        .render(
            card_data=data.to_yaml(),
            pretty_name=pretty_name(inputs),
            summary=summary,
            actions=actions,
            domains=domains,
            total=total,
            splits=sorted({str(r.get("split")) for r in rows}),
            version=meta.get("version"),
            toolkit_version=meta.get("toolkit_version"),
            videos_mode=inputs.videos_mode,
            load_path=inputs.repo_id or "path/to/this/folder",
            sources=sources,
            pairing=pairing_lines(rows),
            source_notes=source_notes(meta),
            clip_range=(min(seconds), max(seconds)) if seconds else None,
            taxonomy=taxonomy_origins(inputs.dataset_root, [a.action for a in actions]),
            protocol=annotation.get("protocol") if isinstance(annotation.get("protocol"), str) else None,
            agreement=agreement_lines(annotation),
            agreement_table=agreement_table(inputs.dataset_root),
            resolution_rule=annotation.get("resolution_rule"),
            rounds=annotation_rounds(annotation),
            dropped_c_only=inputs.dropped_c_only,
            dropped_partial=inputs.dropped_partial,
            balance=inputs.balance,
            extra_limitations=extra_limits,
            citations=[VIDDIFF_CITATION] + [s["citation"] for s in sources if s["citation"]],
        )
    )
    DatasetCard(body)  # parses the YAML header back: a broken header fails here, not on the Hub
    return body


def licence_notes(rows: list[dict[str, Any]]) -> str:
    """LICENSE_NOTES.md: the licence of every source the published clips come from."""
    keys = sorted({source_key(r["source_dataset"]) for r in rows})
    lines = [
        "# Licences of the source videos",
        "",
        "The annotations were made with the VidDiff Toolkit; each clip keeps the licence of the dataset it "
        "was cut from:",
        "",
    ]
    for key in keys:
        info = source_infos().get(key)
        if info:
            lines.append(f"- **{info.title}**: {info.licence}. <{info.link}> {info.note}".rstrip())
        else:
            lines.append(f"- **{key}**: see the source dataset's own terms.")
    return "\n".join(lines) + "\n"
