"""Task fingerprints against a real Label Studio 1.23.2 server (see conftest.py): a re-push updates the
tasks whose clips or taxonomy changed, leaves annotated ones as is (reported) unless --force, and pull
marks labels made on other inputs as stale; nothing is mocked."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from annotation.pull import pull
from annotation.push import push
from curation.cli import main as curate
from curation.samples.synthetic import render_frame
from schemas.dataset_dir import load_dataset, save_dataset, sha256_file
from schemas.io import read_json, write_json
from tests.annotation.shapes import choice
from viddiff_runtime import media

pytestmark = pytest.mark.labelstudio


def _tasks(ls, pid):
    return {t.data["sample_key"]: t for t in ls.tasks.list(project=pid, fields="all", page_size=100)}


def _edit(root, key, change):
    """Apply ``change(row)`` to one row of ``samples.jsonl``."""
    ds = load_dataset(root)
    rows = [dict(s) for s in ds.samples]
    for r in rows:
        if r["sample_key"] == key:
            change(r)
    save_dataset(root, ds.meta, rows)


def _swap(row):
    row["videos"] = row["videos"][::-1]


def _reencode_a(root, n):
    """Re-cut clip A of fitness_0_1 to ``n`` frames and record its new sha256 and frame count."""
    rel = "videos/fitness_0_1/a.mp4"
    info = media.write_frames((render_frame(i, 96, 64, label="recut") for i in range(n)), root / rel, 30.0)

    def change(row):
        v = row["videos"][0]
        v.update(n_frames=info.n_frames, sha256=sha256_file(root / rel), frames_trim=[0, info.n_frames, None])

    _edit(root, "fitness_0_1", change)
    return info.n_frames


def test_repush_updates_changed_tasks_reports_annotated_ones_and_pull_marks_stale(ls, served_dataset):
    ds = served_dataset
    first = {r.action: r for r in push(ds.root, "differences", progress=False)}
    pid = first["fitness_0"].project_id
    before = _tasks(ls, pid)
    assert all(
        len(t.data["inputs"]) == 64 and set(t.data["inputs_parts"]) == {"clip_a", "clip_b", "taxonomy"}
        for t in before.values()
    )

    # A and B swapped in samples.jsonl, and fitness_0_1's clip A re-cut: both tasks are unannotated
    _edit(ds.root, "fitness_0_0", _swap)
    n = _reencode_a(ds.root, 20)
    again = {r.action: r for r in push(ds.root, "differences", progress=False)}
    fit = again["fitness_0"]
    assert fit.tasks_refreshed == {"A and B swapped": ["fitness_0_0"], "clip A changed": ["fitness_0_1"]}
    assert (fit.tasks_added, again["diving_0"].tasks_refreshed) == (0, {})
    assert "1 updated (A and B swapped), 1 updated (clip A changed)" in fit.summary()
    tasks = _tasks(ls, pid)
    assert [t.id for t in tasks.values()] == [t.id for t in before.values()]  # updated in place
    t0, t1 = tasks["fitness_0_0"], tasks["fitness_0_1"]
    assert t0.data["video_a"].endswith("fitness_0_0/b.mp4") and t0.data["n_frames_a"] == 36
    assert t0.data["inputs_parts"]["clip_a"] == before["fitness_0_0"].data["inputs_parts"]["clip_b"]
    assert t1.data["n_frames_a"] == n == 20 and t1.data["inputs"] != before["fitness_0_1"].data["inputs"]
    assert {r.action: r.tasks_refreshed for r in push(ds.root, "differences", progress=False)} == {
        "fitness_0": {},
        "diving_0": {},
    }  # nothing changed: nothing

    # annotated, then swapped back: reported and left as is (the CLI says so and what to do)
    label = "b" if ds.by_key["fitness_0_0"]["differences_gt"]["0"] == "a" else "a"
    ann = ls.annotations.create(
        id=t0.id,
        completed_by=ls.users.whoami().id,
        result=[choice("0", label), choice("1", "b"), choice("2", "c")],
    )
    _edit(ds.root, "fitness_0_0", _swap)
    r = CliRunner().invoke(curate, ["annotate", "push", str(ds.root), "--kind", "differences"])
    assert r.exit_code == 0, r.output
    assert (
        "1 annotated task left as is: inputs changed (use --force to replace its data; its annotations "
        "refer to the old clips)"
    ) in r.output
    assert "left as is: fitness_0_0 (annotated): A and B swapped since the push" in r.output
    kept = _tasks(ls, pid)["fitness_0_0"]
    assert kept.data == t0.data and [a.id for a in ls.annotations.list(id=t0.id)] == [ann.id]

    # pull: the annotation was made on other clips: a stale problem, its labels not used
    (rep,) = [x for x in pull(ds.root, "differences") if not x.note]
    stale = [p for p in rep.problems if p.where == "data.inputs"]
    assert [(p.sample_key, p.task) for p in stale] == [("fitness_0_0", t0.id)]
    assert "stale" in stale[0].message and "A and B swapped" in stale[0].message
    assert (
        rep.annotated_tasks == 0
        and load_dataset(ds.root).by_key["fitness_0_0"]["differences_gt"]
        == ds.by_key["fitness_0_0"]["differences_gt"]
    )  # not silently resolved
    saved = read_json(ds.root / "annotation/differences/problems.json")
    assert [p["sample_key"] for p in saved if p["where"] == "data.inputs"] == ["fitness_0_0"]

    # --force replaces its data (the annotation stays); then pull uses it again, no stale problem
    forced = {r.action: r for r in push(ds.root, "differences", force=True, progress=False)}
    assert forced["fitness_0"].annotated_replaced == [("fitness_0_0", "A and B swapped")]
    assert _tasks(ls, pid)["fitness_0_0"].data["video_a"].endswith("fitness_0_0/a.mp4")
    (rep,) = [x for x in pull(ds.root, "differences") if not x.note]
    assert not [p for p in rep.problems if p.where == "data.inputs"] and rep.annotated_tasks == 1
    assert load_dataset(ds.root).by_key["fitness_0_0"]["differences_gt"]["0"] == label


def test_taxonomy_change_updates_unannotated_tasks_and_layout_does_not(ls, served_dataset):
    ds = served_dataset
    first = {r.action: r for r in push(ds.root, "timestamps", progress=False)}
    pid = first["fitness_0"].project_id
    before = _tasks(ls, pid)
    # a layout change (the composite player) is not an input change
    lay = {r.action: r for r in push(ds.root, "timestamps", composite=True, progress=False)}
    assert lay["fitness_0"].tasks_refreshed == {} and lay["fitness_0"].tasks_updated == 2
    assert {t.data["inputs"] for t in _tasks(ls, pid).values()} == {t.data["inputs"] for t in before.values()}
    # a new keypoint is: the config and both tasks are updated, the composite stays
    path = ds.taxonomy_path("fitness_0")
    tax = json.loads(path.read_text())
    tax["keypoints"]["end"] = {"name": "end", "description": "movement ends", "stage": "finish"}
    write_json(path, tax)
    res = {r.action: r for r in push(ds.root, "timestamps", composite=True, progress=False)}
    assert res["fitness_0"].config_updated
    assert res["fitness_0"].tasks_refreshed == {"keypoints or stages changed": ["fitness_0_0", "fitness_0_1"]}
    tasks = _tasks(ls, pid)
    assert all(
        t.data["inputs_parts"]["taxonomy"] != before[k].data["inputs_parts"]["taxonomy"]
        and t.data["video_ab"].endswith(f"composites/{k}.mp4")
        for k, t in tasks.items()
    )


def test_tasks_pushed_without_a_fingerprint_are_stamped_not_replaced(ls, served_dataset):
    ds = served_dataset
    first = {r.action: r for r in push(ds.root, "differences", progress=False)}
    pid = first["fitness_0"].project_id
    for t in _tasks(ls, pid).values():  # as an older toolkit pushed them
        ls.tasks.update(id=str(t.id), data={k: v for k, v in t.data.items() if not k.startswith("inputs")})
    old = _tasks(ls, pid)
    ls.annotations.create(
        id=old["fitness_0_1"].id, completed_by=ls.users.whoami().id, result=[choice("0", "a")]
    )
    _edit(ds.root, "fitness_0_1", _swap)  # its clips changed since: reported, not stamped
    res = {r.action: r for r in push(ds.root, "differences", progress=False)}
    assert res["fitness_0"].tasks_stamped == 1 and res["fitness_0"].tasks_refreshed == {}
    assert [k for k, _ in res["fitness_0"].inputs_changed_annotated] == ["fitness_0_1"]
    now = _tasks(ls, pid)
    assert "inputs" in now["fitness_0_0"].data and "inputs" not in now["fitness_0_1"].data
    assert {k: v for k, v in now["fitness_0_0"].data.items() if not k.startswith("inputs")} == old[
        "fitness_0_0"
    ].data
