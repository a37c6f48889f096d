"""A benchmark-sized evaluation fixture: a dataset directory shaped like VidDiffBench, and predictions.

550 pairs over the benchmark's 18 actions and splits, each action with its taxonomy (two entries larger
than the release's, so that the scored items alone reach the benchmark's 4.5k differences), and about
``n_items`` a/b labels (plus c and null labels, some removed taxonomy entries) spread over the pairs, with
a keyed prediction file that mixes ``{description, prediction}`` items, bare answers, c, null and missing
keys. No clips are written: ``viddiff eval closed`` only reads the rows.

Run: ``python bench/eval_fixture.py OUT [--items 4500]`` writes ``OUT/dataset`` and ``OUT/predictions.json``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from schemas.dataset_dir import save_dataset

#: (action key, domain, split, taxonomy size, fps) for the 18 actions of VidDiffBench.
ACTIONS = (
    [
        (f"fitness_{i}", "fitness", s, n, 8)
        for i, (s, n) in enumerate(
            [
                ("easy", 7),
                ("medium", 11),
                ("medium", 10),
                ("easy", 6),
                ("easy", 5),
                ("medium", 5),
                ("easy", 7),
                ("medium", 11),
            ]
        )
    ]
    + [(f"ballsports_{i}", "ballsports", "medium", n, 30) for i, n in enumerate([8, 16, 11, 6])]
    + [("diving_0", "diving", "medium", 7, 12)]
    + [(f"music_{i}", "music", "hard", n, 30) for i, n in enumerate([6, 7])]
    + [(f"surgery_{i}", "surgery", "hard", n, 30) for i, n in enumerate([7, 10, 8])]
)
PAIRS_PER_ACTION = {"fitness": 24, "ballsports": 25, "diving": 63, "music": 15, "surgery": 55}
#: Extra taxonomy entries per action, so that the a/b items alone (not a/b/c) reach ``n_items``.
EXTRA_ENTRIES = 2


def _taxonomy(action: str, n: int, rng: random.Random) -> dict[str, Any]:
    keys = sorted(rng.sample(range(n + 3), n))  # keys are not contiguous after filtering
    out: dict[str, Any] = {}
    for k in keys:
        text = f"{action}: statement {k} is more visible"
        out[str(k)] = {
            "name": f"d{k}",
            "description": text,
            "query_string": text,
            "num_frames": rng.choice(["1", "gt_1"]),
        }
    out[str(keys[-1] + 1)] = None  # a removed entry, as in the release
    return out


def make_fixture(out: Path, *, n_items: int = 4500, seed: int = 0) -> tuple[Path, Path, int]:
    """Write ``out/dataset`` and ``out/predictions.json``; return both paths and the number of a/b items."""
    rng = random.Random(seed)
    pairs = [(a, d, s, n, fps) for a, d, s, n, fps in ACTIONS for _ in range(PAIRS_PER_ACTION[d])]
    slots = sum(n + EXTRA_ENTRIES for _a, _d, _s, n, _f in pairs)
    p_ab = min(0.95, 1.02 * n_items / slots)
    taxonomies = {a: _taxonomy(a, n + EXTRA_ENTRIES, rng) for a, _d, _s, n, _f in ACTIONS}
    rows, preds, n_ab = [], {}, 0
    for i, (action, domain, split, _n, fps) in enumerate(pairs):
        tax = taxonomies[action]
        gt: dict[str, str | None] = {}
        for k, entry in tax.items():
            if entry is None:
                continue
            r = rng.random()
            gt[k] = rng.choice("ab") if r < p_ab else ("c" if r < p_ab + (1 - p_ab) * 0.8 else None)
        if not any(v in ("a", "b") for v in gt.values()):
            gt[next(iter(gt))] = "a"
        n_ab += sum(v in ("a", "b") for v in gt.values())
        key = f"{action}_{i}"
        length = rng.randint(2 * fps, 20 * fps)
        rows.append(
            {
                "sample_key": key,
                "action": action,
                "action_name": action.replace("_", " "),
                "action_description": f"perform {action}",
                "domain": domain,
                "split": split,
                "source_dataset": domain,
                "sample_hash": i,
                "videos": [
                    {
                        "path": f"videos/{key}/{s}.mp4",
                        "fps_original": fps,
                        "frames_trim": [0, length, None],
                        "n_frames": length,
                    }
                    for s in "ab"
                ],
                "differences_annotated": tax,
                "differences_gt": gt,
                "n_differences_open_prediction": -(-3 * sum(v is not None for v in gt.values()) // 2),
                "retrieval_frames": None,
            }
        )
        row_preds: dict[str, Any] = {}
        for k, label in gt.items():
            r = rng.random()
            if label is None:
                continue  # predictors answer the labelled keys
            if r < 0.05:
                continue  # missing
            answer = rng.choice(["a", "b", "a", "b", "c", None])
            row_preds[k] = answer if r < 0.3 else {"description": f"prediction {k}", "prediction": answer}
        preds[key] = row_preds
    meta = {
        "name": "bench-eval",
        "version": "0",
        "toolkit_version": "0",
        "actions": {
            a: {"name": a, "description": f"perform {a}", "domain": d, "split": s, "source_dataset": d}
            for a, d, s, _n, _f in ACTIONS
        },
    }
    save_dataset(out / "dataset", meta, rows)
    (out / "predictions.json").write_text(json.dumps(preds), encoding="utf-8")
    return out / "dataset", out / "predictions.json", n_ab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--items", type=int, default=4500, help="a/b items to aim for")
    args = ap.parse_args()
    ds, preds, n = make_fixture(args.out, n_items=args.items)
    print(f"wrote {ds} and {preds}: {n} a/b items")


if __name__ == "__main__":
    main()
