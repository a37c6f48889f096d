"""Offline conversion of Label Studio JSON exports (UI-shaped results) into the dataset."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest

from annotation.convert import convert_file
from annotation.resolve import resolve
from annotation.tasks import task_data
from schemas.dataset_dir import load_dataset
from schemas.errors import ToolkitError
from tests.annotation.shapes import choice, export_task, mark
from tests.helpers.tiny_dataset import make_tiny_dataset


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny") / "ds"
    make_tiny_dataset(root)
    return root


@pytest.fixture
def ds(tiny_template, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_template, root)
    return load_dataset(root)


def _data(ds, key):
    return task_data(ds, ds.by_key[key], ds.root.parent)


def _write(tmp_path, tasks, name="export.json"):
    p = tmp_path / name
    p.write_text(json.dumps(tasks))
    return p


def test_differences_round_trip_with_agreement_reviewer_and_problems(ds, tmp_path):
    key = "fitness_0_0"
    ann1 = [choice("0", "a"), choice("1", "b"), choice("2", "c")]
    ann2 = [choice("0", "a"), choice("1", "a"), choice("2", "c")]
    export = [
        export_task(
            1, _data(ds, key), [{"completed_by": 2, "result": ann1}, {"completed_by": 3, "result": ann2}]
        )
    ]
    rep = convert_file(_write(tmp_path, export), ds.root, "differences")
    row = load_dataset(ds.root).by_key[key]
    # 0 and 2 agree; 1 is a 1-1 split -> unresolved (null), reported, not guessed
    assert row["differences_gt"]["0"] == "a" and row["differences_gt"]["2"] == "c"
    assert row["differences_gt"]["1"] is None and row["differences_gt"]["3"] is None
    assert [u["diff_key"] for u in rep.unresolved] == ["1"]
    assert row["n_differences_open_prediction"] == math.ceil(1.5 * 2)
    assert rep.problems == []
    labels = [
        json.loads(x) for x in (ds.root / "annotation/differences/labels.jsonl").read_text().splitlines()
    ]
    assert {(r["annotator"], r["diff_key"], r["label"]) for r in labels} == {
        ("user:2", "0", "a"),
        ("user:2", "1", "b"),
        ("user:2", "2", "c"),
        ("user:3", "0", "a"),
        ("user:3", "1", "a"),
        ("user:3", "2", "c"),
    }
    raw = list((ds.root / "annotation/differences/exports").iterdir())
    assert len(raw) == 1 and raw[0].read_bytes() == (tmp_path / "export.json").read_bytes()
    # the reviewer (user 3) settles the split
    convert_file(_write(tmp_path, export), ds.root, "differences", reviewer="3")
    assert load_dataset(ds.root).by_key[key]["differences_gt"]["1"] == "a"
    # untouched rows keep their labels
    before = ds.by_key["fitness_0_1"]["differences_gt"]
    assert load_dataset(ds.root).by_key["fitness_0_1"]["differences_gt"] == before


def test_ground_truth_annotation_wins_and_bad_results_are_reported(ds, tmp_path):
    key = "diving_0_0"
    good = {
        "completed_by": 2,
        "result": [choice("0", "b"), choice("1", "b"), choice("2", "a")],
        "ground_truth": True,
    }
    bad = {
        "completed_by": 4,
        "result": [choice("0", "a"), choice("1", "z"), {**choice("2", "c"), "from_name": "diff_99"}],
    }
    cancelled = {"completed_by": 5, "result": [], "was_cancelled": True}
    rep = convert_file(
        _write(tmp_path, [export_task(7, _data(ds, key), [good, bad, cancelled])]), ds.root, "differences"
    )
    gt = load_dataset(ds.root).by_key[key]["differences_gt"]
    assert (gt["0"], gt["1"], gt["2"]) == ("b", "b", "a")
    assert rep.rules == {"ground_truth": 3}
    msgs = [str(p) for p in rep.problems]
    assert any("diff_1" in m and "'z'" in m for m in msgs)  # invalid choice value
    assert any("diff_99" in m for m in msgs)  # control not in the config
    assert any(m.endswith("diff_2: missing: no a/b/c choice for this difference") for m in msgs)
    # every problem is the bad annotation's (id 701): the ground-truth one (700) is clean, the cancelled one
    # (702) is ignored
    assert {p.annotation_id for p in rep.problems} == {701}
    assert json.loads((ds.root / "annotation/differences/problems.json").read_text())


def test_timestamps_frames_at_both_ends_of_the_clips(ds, tmp_path):
    key = "fitness_0_1"
    data = _data(ds, key)
    n_a, n_b = data["n_frames_a"], data["n_frames_b"]
    assert (n_a, n_b) == (24, 36)
    result = [
        mark("a", "key:start", 1),
        mark("a", "key:peak", n_a),  # first and last frame of A
        mark("b", "key:start", 1),
        mark("b", "key:peak", n_b),
        mark("a", "stage:setup", 1, 5),
        mark("b", "stage:finish", 30, n_b),
    ]
    rep = convert_file(
        _write(tmp_path, [export_task(3, data, [{"completed_by": 2, "result": result}])]),
        ds.root,
        "timestamps",
    )
    assert rep.problems == []
    rf = load_dataset(ds.root).by_key[key]["retrieval_frames"]
    assert rf == [{"start": [0], "peak": [n_a - 1]}, {"start": [0], "peak": [n_b - 1]}]
    labels = [
        json.loads(x) for x in (ds.root / "annotation/timestamps/labels.jsonl").read_text().splitlines()
    ]
    stages = {(r["video"], r["name"]): (r["start"], r["end"]) for r in labels if r["item"] == "stage"}
    assert stages == {("a", "setup"): (0, 5), ("b", "finish"): (29, n_b)}  # half-open, 0-based
    assert all(r["fps"] == 30.0 for r in labels)


def test_timestamps_out_of_clip_and_bad_regions_are_reported(ds, tmp_path):
    key = "fitness_0_0"
    data = _data(ds, key)
    result = [
        mark("a", "key:start", 0),
        mark("a", "key:peak", data["n_frames_a"] + 1),
        mark("b", "key:start", 3, 6),
        mark("b", "key:peak", 4),
        mark("b", "key:peak", 9),
        {
            **mark("a", "stage:main", 2, 4),
            "value": {"ranges": [{"start": 2.5, "end": 4}], "timelinelabels": ["stage:main"]},
        },
    ]
    old = load_dataset(ds.root).by_key[key]["retrieval_frames"]
    rep = convert_file(
        _write(tmp_path, [export_task(3, data, [{"completed_by": 2, "result": result}])]),
        ds.root,
        "timestamps",
    )
    msgs = " | ".join(str(p) for p in rep.problems)
    n_a = data["n_frames_a"]
    assert (
        "video A frame 0 is outside" in msgs
        and f"video A frame {n_a + 1} is outside the clip's frames 1..{n_a}" in msgs
    )
    outside = [p.to_dict() for p in rep.problems if "outside" in p.message]
    assert [(p["video"], p["project"], p["task"], p["annotator"]) for p in outside] == [
        ("a", 1, 3, "user:2")
    ] * 2
    assert "single frame" in msgs and "more than once" in msgs and "integers" in msgs
    assert len(rep.problems) == 5 and "missing" not in msgs
    # nothing valid was marked: the row keeps what it had, nothing is guessed
    assert load_dataset(ds.root).by_key[key]["retrieval_frames"] == old
    assert rep.resolved == 0


def test_keypoint_agreement_rule():
    assert resolve({"u1": 10, "u2": 12}, reviewer=None, ground_truth=set(), tolerance=2) == (10, "agreement")
    assert resolve({"u1": 10, "u2": 13}, reviewer=None, ground_truth=set(), tolerance=2) == (
        None,
        "unresolved",
    )
    assert resolve({"u1": 10, "u2": 13, "u3": 11}, reviewer="u2", ground_truth=set(), tolerance=2) == (
        13,
        "reviewer",
    )
    assert resolve({"u1": "a", "u2": "b", "u3": "a"}, reviewer=None, ground_truth=set()) == ("a", "agreement")
    assert resolve({"u1": "a", "u2": "b"}, reviewer=None, ground_truth={"u2"}) == ("b", "ground_truth")


@pytest.mark.parametrize(
    "content,expect",
    [
        ("{not json", "not a JSON export (line 1 column 2"),
        ('{"tasks": []}', "expected the JSON export format"),
        ('[{"id": 1, "data": {"video_a": "x"}}]', "$[0].data.sample_key"),
        ('[{"id": 1}]', "$[0]: task has no 'data' object"),
    ],
)
def test_malformed_exports_fail_cleanly(ds, tmp_path, content, expect):
    p = tmp_path / "bad.json"
    p.write_text(content)
    before = (ds.root / "samples.jsonl").read_bytes()
    with pytest.raises(ToolkitError) as ei:
        convert_file(p, ds.root, "differences")
    assert str(p) in str(ei.value) and expect in str(ei.value)
    assert (ds.root / "samples.jsonl").read_bytes() == before
    assert not (ds.root / "annotation").exists()


def test_cli_convert_one_line_error_and_success(ds, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    cli = [sys.executable, "-m", "curation.cli", "annotate", "convert"]
    r = subprocess.run(
        [*cli, str(bad), "--dataset", str(ds.root), "--kind", "differences"], capture_output=True, text=True
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert (
        r.stderr.strip().startswith("error:")
        and str(bad) in r.stderr
        and len(r.stderr.strip().splitlines()) == 1
    )
    good = _write(
        tmp_path,
        [
            export_task(
                1,
                _data(ds, "diving_0_0"),
                [{"completed_by": 2, "result": [choice("0", "b"), choice("1", "c"), choice("2", "a")]}],
            )
        ],
    )
    r = subprocess.run(
        [*cli, str(good), "--dataset", str(ds.root), "--kind", "differences"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "3 items resolved" in r.stdout
    assert load_dataset(ds.root).by_key["diving_0_0"]["differences_gt"]["1"] == "c"


def test_convert_validates_against_a_given_project_config(ds, tmp_path):
    from annotation.configs import label_config
    from annotation.taxonomy import load_action_taxonomy

    tax = load_action_taxonomy(ds, "diving_0")
    tax.differences = {"0": tax.differences["0"]}  # the project only asked about difference 0
    cfg = tmp_path / "project.xml"
    cfg.write_text(label_config("differences", tax))
    export = _write(
        tmp_path,
        [
            export_task(
                1,
                _data(ds, "diving_0_0"),
                [{"completed_by": 2, "result": [choice("0", "b"), choice("1", "a")]}],
            )
        ],
    )
    rep = convert_file(export, ds.root, "differences", config=cfg)
    assert [p.where for p in rep.problems] == ["result[1] (diff_1)"]
    assert "not found" in rep.problems[0].message
    gt = load_dataset(ds.root).by_key["diving_0_0"]["differences_gt"]
    assert gt["0"] == "b"
    cfg.write_text("<View><Choices name=")
    with pytest.raises(ToolkitError, match="not a valid label config"):
        convert_file(export, ds.root, "differences", config=cfg)


def test_missing_items_are_judged_per_annotation(ds, tmp_path):
    # Two annotations without ids: the first one's invalid diff_1 must not hide that the second left it out.
    key = "diving_0_0"
    first = {"id": None, "completed_by": 2, "result": [choice("0", "b"), choice("1", "z"), choice("2", "a")]}
    second = {"id": None, "completed_by": 3, "result": [choice("0", "b"), choice("2", "a")]}
    rep = convert_file(
        _write(tmp_path, [export_task(1, _data(ds, key), [first, second])]), ds.root, "differences"
    )
    assert [p.where for p in rep.problems] == ["result[1] (diff_1)", "diff_1"]
    assert rep.problems[1].message.startswith("missing")


def test_labels_belong_to_the_user_who_last_changed_the_annotation(ds, tmp_path):
    # user 3 opened user 2's annotation and pressed Update a minute later: Label Studio keeps completed_by 2,
    # sets updated_by 3. An annotation the admin (user 1) created through the API for user 4 has updated_by 1
    # at the same instant: it stays user 4's.
    result = [choice("0", "b"), choice("1", "b"), choice("2", "c")]
    export = [
        export_task(
            1,
            _data(ds, "fitness_0_0"),
            [
                {
                    "completed_by": 2,
                    "updated_by": 3,
                    "result": result,
                    "updated_at": "2026-11-26T04:10:02.000000Z",
                }
            ],
        ),
        export_task(2, _data(ds, "fitness_0_1"), [{"completed_by": 4, "updated_by": 1, "result": result}]),
    ]
    convert_file(_write(tmp_path, export), ds.root, "differences")
    labels = [
        json.loads(x) for x in (ds.root / "annotation/differences/labels.jsonl").read_text().splitlines()
    ]
    assert {(r["sample_key"], r["annotator"], r.get("created_by")) for r in labels} == {
        ("fitness_0_0", "user:3", "user:2"),
        ("fitness_0_1", "user:4", None),
    }
    assert "last changed" in load_dataset(ds.root).meta["annotation"]["resolution_rule"]


def test_problems_of_every_project_are_kept_and_unchanged_exports_not_rewritten(ds, tmp_path):
    fit, div = "fitness_0_0", "diving_0_0"
    no_peak = [mark("a", "key:start", 2), mark("b", "key:start", 3), mark("b", "key:peak", 5)]
    fit_export = _write(
        tmp_path, [export_task(1, _data(ds, fit), [{"completed_by": 2, "result": no_peak}])], "f.json"
    )
    div_task = export_task(7, _data(ds, div), [{"completed_by": 4, "result": no_peak}])
    div_task["project"] = 2
    div_export = _write(tmp_path, [div_task], "d.json")
    convert_file(fit_export, ds.root, "timestamps")
    convert_file(div_export, ds.root, "timestamps")  # another project of the same kind
    path = ds.root / "annotation/timestamps/problems.json"
    probs = json.loads(path.read_text())
    assert sorted(
        (p["sample_key"], p["project"], p["task"], p["annotator"], p["video"], p["where"]) for p in probs
    ) == [(div, 2, 7, "user:4", "a", "tl_a key:peak"), (fit, 1, 1, "user:2", "a", "tl_a key:peak")]
    # the fitness project fixed: only its problem goes
    fixed = _write(
        tmp_path,
        [
            export_task(
                1, _data(ds, fit), [{"completed_by": 2, "result": no_peak + [mark("a", "key:peak", 6)]}]
            )
        ],
        "f2.json",
    )
    convert_file(fixed, ds.root, "timestamps")
    assert [p["sample_key"] for p in json.loads(path.read_text())] == [div]
    # the same export converted again: its raw copy is not written twice, no second round is recorded
    exports = sorted((ds.root / "annotation/timestamps/exports").iterdir())
    rounds = len(load_dataset(ds.root).meta["annotation"]["rounds"])
    convert_file(fixed, ds.root, "timestamps")
    assert sorted((ds.root / "annotation/timestamps/exports").iterdir()) == exports
    assert len(load_dataset(ds.root).meta["annotation"]["rounds"]) == rounds
