"""The report's leaderboard tables (closed, open, localization), one row per run; each protocol names its
table function (``eval/protocols/__init__.py``)."""

from __future__ import annotations

from typing import Any

from eval.report.runs import Run

SPLIT_ORDER = {"easy": 0, "medium": 1, "hard": 2}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _sec(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _splits(runs: list[Run], task: str) -> list[str]:
    names = {s for r in runs for s in (r.metrics.get(task) or {}).get("by_split", {})}
    return sorted(names, key=lambda s: (SPLIT_ORDER.get(s, 9), s))


def closed_table(runs: list[Run]) -> dict[str, Any]:
    """Leaderboard rows: per split accuracy (* = p < 0.05), the macro Avg over splits, pooled All."""
    splits = _splits(runs, "closed")
    rows = []
    for r in runs:
        m = r.metrics.get("closed")
        if not m:
            continue
        cells = []
        for s in [*splits, None]:
            b = m if s is None else m["by_split"].get(s)
            if not b or b.get("accuracy") is None:
                cells.append({"text": "–", "title": ""})
                continue
            star = "*" if b["significant"] else ""
            cells.append(
                {
                    "text": f"{_pct(b['accuracy'])}{star}",
                    "title": f"{b['correct']}/{b['n']}, 95% CI {_pct(b['ci95'][0])}–{_pct(b['ci95'][1])}, "
                    f"p={b['p_value']:.3g}",
                }
            )
        avg = m.get("accuracy_split_mean", m.get("macro_accuracy_over_splits"))
        cells.insert(
            len(splits), {"text": _pct(avg), "title": "mean of split accuracies (the leaderboard's Avg)"}
        )
        strict = (m.get("protocol") or {}).get("rules") == "strict-official"
        rows.append(
            {
                "name": f"{r.name} [strict-official]" if strict else r.name,
                "cells": cells,
                "unknown": m["unknown_keys"]["count"],
                "origin": r.metrics_origin.get("closed", ""),
            }
        )
    return {"columns": [*splits, "Avg (split mean)", "All (pooled)"], "rows": rows}


def open_table(runs: list[Run]) -> dict[str, Any]:
    """Open recall per split plus the error breakdown; the judge is named in each row."""
    splits = _splits(runs, "open")
    rows = []
    for r in runs:
        m = r.metrics.get("open")
        if not m:
            continue
        cells = [_pct((m["by_split"].get(s) or {}).get("recall")) for s in splits]
        judge = m.get("judge") or {}
        rows.append(
            {
                "name": r.name,
                "cells": [
                    *cells,
                    _pct(m.get("recall_split_mean", m.get("macro_recall_over_splits"))),
                    _pct(m["recall"]),
                    _pct(m["err_nomatch"]),
                    _pct(m["err_flipped"]),
                ],
                "judge": judge.get("match_model") or judge.get("kind", "?"),
                "comparable": bool(m.get("comparable_to_published")),
                "why": "; ".join(m.get("not_comparable_because") or ["recorded before judge protocols"]),
            }
        )
    return {"columns": [*splits, "Avg (split mean)", "All (pooled)", "no match", "flipped"], "rows": rows}


LOC_COLUMNS = (
    "n",
    "missing",
    "mae_frames",
    "mae_seconds",
    "mae_norm",
    "hit@0.25s",
    "hit@0.5s",
    "hit@1s",
    "hit@5%",
    "hit@10%",
)


def _loc_cells(b: dict[str, Any]) -> list[str]:
    out = []
    for c in LOC_COLUMNS:
        v = b.get(c)
        if c in ("n", "missing"):
            out.append(str(v))
        elif c == "mae_frames":
            out.append("–" if v is None else f"{v:.2f}")
        elif c == "mae_seconds":
            out.append(_sec(v))
        else:
            out.append(_pct(v))
    return out


def localization_table(runs: list[Run]) -> dict[str, Any]:
    """One row per run; then, when doubly-annotated items exist, each run on those items and the human row."""
    rows, extra, human = [], [], None
    for r in runs:
        m = r.metrics.get("localization")
        if not m:
            continue
        rows.append({"name": r.name, "cells": _loc_cells(m), "kind": "run"})
        hh = m.get("human_vs_human")
        if hh:
            extra.append(
                {
                    "name": f"{r.name} on doubly-annotated items",
                    "cells": _loc_cells(hh["model_on_same_items"]),
                    "kind": "same",
                }
            )
            human = human or {
                "name": f"human vs human ({hh['n_samples']} doubly-annotated pairs)",
                "cells": _loc_cells(hh),
                "kind": "human",
            }
    return {"columns": list(LOC_COLUMNS), "rows": rows + extra + ([human] if human else [])}
