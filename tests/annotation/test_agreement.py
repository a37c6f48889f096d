"""Agreement numbers on cases worked out by hand."""

from __future__ import annotations

import json

import pytest

from annotation.agreement import agreement, krippendorff_alpha, label_agreement, timing_agreement
from schemas.dataset_dir import load_dataset
from schemas.io import write_jsonl
from tests.helpers.tiny_dataset import make_tiny_dataset

R1 = list("aaabbcccab")
R2 = list("aabbbccaac")
# agreements on items 1,2,4,5,6,7,9 -> 7/10. Marginals: R1 a4 b3 c3, R2 a4 b3 c3 -> pe = (16+9+9)/100 = .34
KAPPA = (0.7 - 0.34) / (1 - 0.34)
# coincidences: n = 20 values, n_a = 8, n_b = 6, n_c = 6; 3 disagreeing units -> 6 off-diagonal pairs
# alpha = 1 - (n - 1) * 6 / (n^2 - sum n_c^2) = 1 - 19 * 6 / (400 - 136)
ALPHA = 1 - 19 * 6 / 264


def _items():
    return [{"u1": x, "u2": y} for x, y in zip(R1, R2)]


def test_two_annotators_by_hand():
    res = label_agreement(_items())
    assert res["items"] == 10 and res["pairs"] == 10
    assert res["percent"] == pytest.approx(70.0)
    assert res["cohen_kappa"] == pytest.approx(KAPPA)  # 0.5454...
    assert res["krippendorff_alpha"] == pytest.approx(ALPHA)  # 0.5681...


def test_three_annotators_and_single_label_items():
    res = label_agreement([{"x": "a", "y": "a", "z": "b"}, {"x": "c"}])
    assert res["items"] == 1 and res["pairs"] == 3 and res["percent"] == pytest.approx(100 / 3)
    # every annotator used one label only: kappa and alpha are undefined, not 0 or 1
    same = label_agreement([{"u1": "a", "u2": "a"}, {"u1": "a", "u2": "a"}])
    assert same["percent"] == 100.0 and same["cohen_kappa"] is None and same["krippendorff_alpha"] is None


def test_alpha_with_missing_values():
    # u3 only labels the first item; its value adds pairable values to unit 1 (m=3)
    items = [{"u1": "a", "u2": "a", "u3": "b"}, {"u1": "b", "u2": "b"}]
    # coincidences: unit 1 (m=3): o_aa += 2/2 = 1, o_ab += 2/2 = 1, o_ba += 1; unit 2 (m=2): o_bb += 2
    # n_a = 2, n_b = 3, n = 5; Do = o_ab + o_ba = 2; De sum = n^2 - (4 + 9) = 12 -> alpha = 1 - 4 * 2 / 12
    assert krippendorff_alpha(items) == pytest.approx(1 - 4 * 2 / 12)


def test_keypoint_timing_by_hand():
    res = timing_agreement(
        [
            ({"u1": 10, "u2": 12}, 30.0),
            ({"u1": 5, "u2": 9}, 25.0),
            ({"u1": 7, "u2": 7}, 30.0),
            ({"u1": 3}, 30.0),
        ],
        delta=2,
    )
    assert res["pairs"] == 3 and res["items"] == 3
    assert res["mean_abs_frames"] == pytest.approx(2.0)
    assert res["mean_abs_seconds"] == pytest.approx((2 / 30 + 4 / 25 + 0) / 3)
    assert res["within_delta"] == pytest.approx(2 / 3)


def test_dataset_agreement_per_action(tmp_path):
    root = tmp_path / "ds"
    make_tiny_dataset(root, n_frames=(12, 12), size=(32, 32))
    load_dataset(root)  # the written dataset is valid
    rows = []
    for i, (x, y) in enumerate(zip(R1, R2)):  # fitness_0: the hand-worked case, spread over 2 pairs
        for ann, lab in (("user:2", x), ("user:3", y)):
            rows.append(
                {
                    "sample_key": f"fitness_0_{i % 2}",
                    "action": "fitness_0",
                    "annotator": ann,
                    "item": "difference",
                    "diff_key": str(i),
                    "label": lab,
                }
            )
    rows.append(
        {
            "sample_key": "diving_0_0",
            "action": "diving_0",
            "annotator": "user:2",
            "item": "difference",
            "diff_key": "0",
            "label": "a",
        }
    )  # one annotator only: no agreement item
    write_jsonl(root / "annotation/differences/labels.jsonl", rows)
    kp = [
        ("fitness_0_0", "a", "peak", "user:2", 10),
        ("fitness_0_0", "a", "peak", "user:3", 13),
        ("diving_0_0", "b", "start", "user:2", 4),
        ("diving_0_0", "b", "start", "user:3", 4),
    ]
    write_jsonl(
        root / "annotation/timestamps/labels.jsonl",
        [
            {
                "sample_key": k,
                "action": k.rsplit("_", 1)[0],
                "annotator": a,
                "item": "keypoint",
                "video": v,
                "name": n,
                "start": f,
                "end": f + 1,
                "fps": 30.0 if k.startswith("fitness") else 25.0,
            }
            for k, v, n, a, f in kp
        ],
    )
    res = agreement(root, delta=2)
    fit, div = res["actions"]["fitness_0"], res["actions"]["diving_0"]
    assert fit["labels"]["cohen_kappa"] == pytest.approx(KAPPA) and fit["labels"]["percent"] == pytest.approx(
        70
    )
    assert div["labels"]["items"] == 0 and div["labels"]["percent"] is None
    assert (
        fit["keypoints"]["mean_abs_seconds"] == pytest.approx(3 / 30)
        and fit["keypoints"]["within_delta"] == 0
    )
    assert div["keypoints"]["mean_abs_frames"] == 0 and div["keypoints"]["within_delta"] == 1
    assert res["overall"]["keypoints"]["mean_abs_frames"] == pytest.approx(1.5)
    assert json.loads((root / "annotation/agreement.json").read_text())["delta_frames"] == 2
