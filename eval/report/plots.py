"""Report figures (matplotlib, headless Agg backend), returned as PNG bytes.

Each function takes plain metric dicts so the figures can be rebuilt from any ``metrics.json``.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def action_accuracy_bars(
    runs: dict[str, dict[str, dict[str, Any]]],
    *,
    field: str = "accuracy",
    title: str = "Closed accuracy per action",
) -> bytes:
    """Grouped horizontal bars: one group per action, one bar per run, 95% CI whiskers, chance at 0.5.

    ``runs`` maps run name -> ``by_action`` block of a closed metrics file.
    """
    actions = sorted({a for blocks in runs.values() for a in blocks})
    names = list(runs)
    height = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(3, len(actions)) * max(1, len(names)) ** 0.5 + 1))
    for j, name in enumerate(names):
        ys, xs, lo, hi = [], [], [], []
        for i, a in enumerate(actions):
            b = runs[name].get(a)
            if not b or b.get(field) is None:
                continue
            ys.append(i + (j - (len(names) - 1) / 2) * height)
            xs.append(b[field])
            ci = b.get("ci95") or [b[field], b[field]]
            lo.append(b[field] - ci[0])
            hi.append(ci[1] - b[field])
        ax.barh(
            ys,
            xs,
            height=height * 0.95,
            xerr=[lo, hi],
            color=PALETTE[j % len(PALETTE)],
            label=name,
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333"},
        )
    ax.axvline(0.5, color="#999", ls="--", lw=1, label="chance (50%)")
    ax.set_yticks(range(len(actions)), labels=[f"{a}  (n={_n(runs, a)})" for a in actions])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{field} (bars: 95% Wilson interval)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _n(runs: dict[str, dict[str, dict[str, Any]]], action: str) -> str:
    ns = sorted({b[action]["n"] for b in runs.values() if action in b})
    return "/".join(str(n) for n in ns)


def hit_rate_curves(errors: dict[str, list[float]], *, max_seconds: float | None = None) -> bytes:
    """Share of keypoints localized within δ seconds, as δ grows (one curve per run or annotator pair)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    top = max_seconds or max([max(v) for v in errors.values() if v] + [1.0])
    for j, (name, errs) in enumerate(errors.items()):
        if not errs:
            continue
        xs = sorted(errs)
        n = len(xs)
        ax.step(
            [0.0, *xs, top],
            [0.0, *[(i + 1) / n for i in range(n)], 1.0],
            where="post",
            color=PALETTE[j % len(PALETTE)],
            label=f"{name} (n={n})",
            ls="--" if name.startswith("human") else "-",
        )
    for t in (0.25, 0.5, 1.0):
        ax.axvline(t, color="#bbb", lw=0.8, ls=":")
    ax.set_xlim(0, top)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("δ: |predicted − annotated| keypoint time (s)")
    ax.set_ylabel("share of keypoints within δ")
    ax.set_title("Localization: hit rate vs tolerance")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def keypoint_error_bars(
    runs: dict[str, dict[str, dict[str, Any]]],
    *,
    field: str = "mae_seconds",
    title: str = "Localization error per keypoint",
) -> bytes:
    """Mean absolute keypoint error per keypoint (``action/loc_id``), one bar per run (or human pair)."""
    kps = sorted({k for blocks in runs.values() for k in blocks})
    names = list(runs)
    height = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * max(3, len(kps)) * max(1, len(names)) ** 0.5 + 1))
    for j, name in enumerate(names):
        pts = [
            (i + (j - (len(names) - 1) / 2) * height, runs[name][k][field])
            for i, k in enumerate(kps)
            if k in runs[name] and runs[name][k].get(field) is not None
        ]
        if pts:
            ax.barh(
                [p[0] for p in pts],
                [p[1] for p in pts],
                height=height * 0.95,
                color=PALETTE[j % len(PALETTE)],
                label=name,
                hatch="//" if name.startswith("human") else None,
            )
    ax.set_yticks(range(len(kps)), labels=kps)
    ax.invert_yaxis()
    ax.set_xlabel("mean absolute error (s)" if field == "mae_seconds" else field)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
