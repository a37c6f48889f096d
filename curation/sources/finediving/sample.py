"""The SYNTHETIC FineDiving sample tree (``curate samples``; see curation/samples/trees.py): five dives in the real layout.

It carries the release's pitfalls: 5- and 8-digit frame names, a numeric source ``'01'``, numpy arrays in the
pickles and a label/frame-count mismatch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curation.samples import synthetic as ss

SUB_ACTIONS = {1: "Forward", 2: "Back", 7: "3.5 Soms.Pike", 9: "2.5 Soms.Pike", 13: "Entry"}


DIVES = [
    # source, instance, digits, first absolute frame, action_type as written, label/frame mismatch
    ("FINADivingWorldCup2021_Men10m_final_r1", 0, 5, 489, "107B", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 1, 5, 2210, "107b", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 2, 5, 14425, "107B", 0),
    ("FINADivingWorldCup2021_Men10m_final_r1", 5, 5, 30112, "107B", 4),
    ("01", 3, 8, 19758, "107B", 0),
]


def write_tree(root: Path, rng: np.random.Generator) -> None:
    """Write this source's SYNTHETIC sample tree (see curation/samples/trees.py) under ``root``."""
    frames_root = root / "FINADiving_MTL_256s"
    fine, coarse, aqa = {}, {}, {}
    for source, inst, digits, first, action, mismatch in DIVES:
        runs = [(1, int(rng.integers(5, 8))), (7, int(rng.integers(10, 15))), (13, int(rng.integers(5, 8)))]
        labels = np.concatenate([np.full(n, lab, dtype=np.int64) for lab, n in runs])
        n = len(labels) + mismatch
        ss.write_image_folder(
            frames_root / source / str(inst),
            list(range(first, first + n)),
            "finediving",
            digits=digits,
            ext="jpg",
            color=ss.write_color(rng),
        )
        judges = np.round(rng.uniform(5.0, 9.5, size=7) * 2) / 2
        score = float(np.round(np.sort(judges)[2:5].sum() * 3.3, 2))
        transits = np.cumsum([n for _, n in runs])[:-1]
        key = (source, inst)
        fine[key] = {
            "action_type": action,
            "dive_score": np.float64(score),
            "frames_labels": labels,
            "steps_transit_frames": transits,
            "sub-action_types": {1: "Forward", 7: "3.5 Soms.Pike"},
        }
        coarse[key] = {
            "action_type": action,
            "dive_score": score,
            "difficulty": np.float64(3.3),
            "judge_scores": judges,
            "start_frame": first,
            "end_frame": first + n - 1,
        }
        aqa[key] = [action, score, 3.3, transits, labels]
    ann = root / "Annotations"
    ss.write_pickle(ann / "FineDiving_fine-grained_annotation.pkl", fine)
    ss.write_pickle(ann / "FineDiving_coarse_annotation.pkl", coarse)
    ss.write_pickle(ann / "fine-grained_annotation_aqa.pkl", aqa)
    ss.write_pickle(ann / "Sub_action_Types_Table.pkl", SUB_ACTIONS)  # "Entry" (13) is only in the table
    keys = sorted(fine)
    ss.write_pickle(ann / "train_split.pkl", keys[::2])
    ss.write_pickle(ann / "test_split.pkl", keys[1::2])
