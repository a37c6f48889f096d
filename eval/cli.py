"""`viddiff eval closed|open|localization` and `viddiff report`: parse arguments, call :mod:`eval`."""

from __future__ import annotations

from pathlib import Path

import click

from viddiff_runtime.cli import ToolkitGroup

_DATASET = click.argument("dataset", type=click.Path(path_type=Path))
_OUT = click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for metrics.json and the per-item JSONL files.",
)


_STRICT = click.option(
    "--strict-official",
    "strict",
    is_flag=True,
    help="Score with the public VidDiffBench eval's rules instead of the toolkit's (README: Changes from "
    "the public VidDiffBench eval).",
)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


@click.group("eval", cls=ToolkitGroup)
def eval_group() -> None:
    """Score predictions against a dataset directory or a published dataset folder."""


@eval_group.command("closed")
@_DATASET
@click.argument("predictions", type=click.Path(path_type=Path))
@_OUT
@_STRICT
def closed_cmd(dataset: Path, predictions: Path, out_dir: Path, strict: bool) -> None:
    """Closed-set accuracy (gt a/b only; missing or c = wrong), with binomial test and Wilson CI."""
    from eval.protocols.closed import eval_closed

    m = eval_closed(dataset, predictions, out_dir, strict=strict).metrics
    p = "n/a" if m["p_value"] is None else f"{m['p_value']:.3g}"
    rules = " [strict-official rules]" if strict else ""
    click.echo(
        f"closed accuracy: Avg over splits {_pct(m['accuracy_split_mean'])} (the leaderboard's number), "
        f"pooled {_pct(m['accuracy_pooled'])} ({m['correct']}/{m['n']}, p={p}){rules}; "
        f"unknown keys: {m['unknown_keys']['count']}; wrote {out_dir / 'metrics.json'}"
    )


@eval_group.command("open")
@_DATASET
@click.argument("predictions", type=click.Path(path_type=Path))
@_OUT
@click.option(
    "--judge",
    "judge_kind",
    type=click.Choice(["llm", "local"]),
    default="llm",
    show_default=True,
    help="llm: the benchmark's LLM judge; local: sentence embeddings (not comparable to llm).",
)
@click.option(
    "--judge-protocol",
    default="toolkit-v1",
    show_default=True,
    help="Judge protocol: a shipped name (toolkit-v1, published-v1) or a protocol JSON file.",
)
@click.option(
    "--judge-prompts",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Exact prompt text for the protocol: the official eval_viddiff.py, or JSON {match, opposite}.",
)
@_STRICT
@click.option(
    "--judge-model", default=None, help="Matching model (default: config models.judge, else the protocol's)."
)
@click.option(
    "--opposite-model",
    default=None,
    help="Direct-opposite model (default: config models.opposite, else the protocol's).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Judge seed (part of every cache key).")
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="LLM config (the same file as `curate taxonomy --config`, or a `viddiff run` config's llm: section): "
    "base_url, structured_output, max_tokens, temperature, max_concurrency, prices, max_cost.",
)
@click.option("--max-cost", type=float, default=None, help="Stop before a judge call would exceed this cost.")
@click.option(
    "--base-url", default=None, help="OpenAI-compatible endpoint (default: config, $OPENAI_BASE_URL)."
)
@click.option(
    "--structured-output",
    type=click.Choice(["auto", "json_schema", "json_object", "none"]),
    default=None,
    help="Overrides the config (default auto: detected per endpoint and model).",
)
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Judge cache file (SQLite); default: the LLM cache every command shares.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="LLM cache folder (default $VIDDIFF_CACHE_DIR or ~/.cache/viddiff-toolkit).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write cached judge answers.")
@click.option(
    "--threshold",
    default=0.6,
    show_default=True,
    type=click.FloatRange(-1.0, 1.0),
    help="Local judge: minimum cosine similarity for a match.",
)
def open_cmd(
    dataset: Path,
    predictions: Path,
    out_dir: Path,
    judge_kind: str,
    judge_protocol: str,
    judge_prompts: Path | None,
    strict: bool,
    judge_model: str | None,
    opposite_model: str | None,
    seed: int,
    config: Path | None,
    max_cost: float | None,
    base_url: str | None,
    structured_output: str | None,
    cache_path: Path | None,
    cache_dir: Path | None,
    no_cache: bool,
    threshold: float,
) -> None:
    """Open-set recall@N_diff: judge matching (one to one), opposite flips, N_diff enforced."""
    from eval.judges import EmbeddingJudge, LLMJudge
    from eval.judges.protocol import load_protocol, with_prompts
    from eval.protocols.open import eval_open

    protocol = with_prompts(load_protocol(judge_protocol), judge_prompts)

    if judge_kind == "local":
        judge = EmbeddingJudge(threshold=threshold)
    else:
        import os

        from schemas.errors import ToolkitError
        from viddiff_runtime.llm.client import LLMClient
        from viddiff_runtime.llm.config import load_llm_config, resolve_cache_path

        cfg = load_llm_config(
            config,
            base_url=base_url,
            structured_output=structured_output,
            max_cost=max_cost,
            seed=seed,
            cache_path=str(cache_path) if cache_path else None,
        )
        if not (cfg.base_url or os.environ.get("OPENAI_BASE_URL") or os.environ.get(cfg.api_key_env)):
            raise ToolkitError(
                "no LLM endpoint: set OPENAI_BASE_URL (and OPENAI_API_KEY), pass --base-url or a --config with "
                "base_url; --judge local needs none",
                key="--judge llm",
            )
        cfg.cache_path = resolve_cache_path(cfg, cache_dir, no_cache)
        out_dir.mkdir(parents=True, exist_ok=True)
        client = LLMClient(cfg)
        judge = LLMJudge(
            client,
            protocol=protocol,
            match_model=judge_model or cfg.models.get("judge"),
            opposite_model=opposite_model or cfg.models.get("opposite"),
            seed=seed,
            strict=strict,
        )
    m = eval_open(dataset, predictions, judge, out_dir, strict=strict).metrics
    note = (
        " [comparable to the published leaderboard]"
        if m["comparable_to_published"]
        else f" [not comparable to the published leaderboard: {'; '.join(m['not_comparable_because'])}]"
    )
    click.echo(
        f"open recall: Avg over splits {_pct(m['recall_split_mean'])}, pooled {_pct(m['recall_pooled'])} "
        f"over {m['n']} (no match {_pct(m['err_nomatch'])}, flipped {_pct(m['err_flipped'])}){note}; "
        f"wrote {out_dir / 'metrics.json'}"
    )


@eval_group.command("localization")
@_DATASET
@click.argument("localization", type=click.Path(path_type=Path))
@_OUT
@click.option(
    "--annotators",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Per-annotator keypoints (default DATASET/annotation/timestamps/labels.jsonl, else "
    "DATASET/annotation/timestamps_annotators.json).",
)
def localization_cmd(dataset: Path, localization: Path, out_dir: Path, annotators: Path | None) -> None:
    """Keypoint error (frames, seconds, share of clip) and hit rates; human-vs-human when available."""
    from eval.protocols.localization import eval_localization

    m = eval_localization(dataset, localization, out_dir, annotators).metrics
    mae = "n/a" if m["mae_seconds"] is None else f"{m['mae_seconds']:.3f}s"
    hh = m["human_vs_human"]
    human = "" if not hh else f"; human-vs-human MAE {hh['mae_seconds']:.3f}s over {hh['n']}"
    click.echo(
        f"localization MAE {mae}, hit@0.5s {_pct(m['hit@0.5s'])} over {m['n']} "
        f"(missing {m['missing']}){human}; wrote {out_dir / 'metrics.json'}"
    )
    bad = (m.get("human_not_scored") or {}).get("items") or []
    if bad:
        first = bad[0]
        click.echo(
            f"{len(bad)} annotator keypoint(s) not scored: frame past the end of the clip (first: "
            f"{first['sample_key']} video {first['video']} {first['loc_id']!r} by {first['annotator']}: "
            f"frame {first['frame']} of {first['n_frames']}); fix the annotations and rerun",
            err=True,
        )


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out",
    "out_html",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="HTML report (self-contained); Markdown goes next to it unless --md is given.",
)
@click.option(
    "--md",
    "out_md",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Markdown report path (default: OUT with .md).",
)
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    default=None,
    help="Dataset for runs without eval metrics and for the frame strips "
    "(default: each run's config.json 'dataset').",
)
@click.option("--pairs", default=3, show_default=True, type=int, help="Pairs shown as frame strips.")
def report(
    run_dirs: tuple[Path, ...], out_html: Path, out_md: Path | None, dataset: Path | None, pairs: int
) -> None:
    """Leaderboard, per-action bars, localization plots and frame strips for one or more RUN_DIRs."""
    from eval.report import build_report

    html, md = build_report(list(run_dirs), out_html, out_md=out_md, dataset=dataset, n_pairs=pairs)
    click.echo(f"wrote {html} and {md}")
